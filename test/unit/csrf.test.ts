import assert from 'node:assert/strict';
import { CsrfTokens } from '../../src/interactions/csrf.js';
import { MemoryStore } from '../../src/storage/memory-store.js';

const ORIGIN = 'https://proxy.example.com';
const tokenIn = (html: string): string[] => [...html.matchAll(/<input type="hidden" name="csrf" value="([^"]+)">/g)].map((m) => m[1]!);

describe('CSRF tokens of a sign-in', () => {
  let store: MemoryStore;
  let csrf: CsrfTokens;
  beforeEach(() => {
    store = new MemoryStore();
    csrf = new CsrfTokens(store);
  });
  afterEach(() => store.close());

  it("adds a token to every form posting to the sign-in's own routes, in any attribute style", async () => {
    const html = [
      '<form method="post" action="/interaction/u1/confirm">',
      "<FORM action='/interaction/u1/confirm-login' METHOD='POST' autocomplete=off>",
      `<form method=post action=${ORIGIN}/interaction/u1/refused>`,
    ].join('');
    const protectedHtml = await csrf.protect(html, 'u1', ORIGIN);
    const tokens = tokenIn(protectedHtml);
    assert.equal(tokens.length, 3);
    assert.equal(new Set(tokens).size, 1);
    assert.equal(await csrf.verify('u1', tokens[0]), true);
  });

  it("leaves other forms alone: GET forms, other sign-ins', other origins', oidc-provider's own", async () => {
    const html = [
      '<form action="/interaction/u1/confirm">',
      '<form method="post" action="/interaction/u2/confirm">',
      '<form method="post" action="https://evil.example/interaction/u1/confirm">',
      '<form method="post" action="/device" id="op.deviceConfirmForm">',
    ].join('');
    assert.equal(await csrf.protect(html, 'u1', ORIGIN), html);
  });

  it('keeps every token of the sign-in valid until it expires: two tabs, a double click', async () => {
    const first = await csrf.issue('u1');
    const second = await csrf.issue('u1');
    assert.equal(await csrf.verify('u1', first), true);
    assert.equal(await csrf.verify('u1', first), true);
    assert.equal(await csrf.verify('u1', second), true);
  });

  it('refuses a wrong token without spending the good ones, and tokens of another sign-in', async () => {
    const good = await csrf.issue('u1');
    assert.equal(await csrf.verify('u1', 'x'.repeat(32)), false);
    assert.equal(await csrf.verify('u1', undefined), false);
    assert.equal(await csrf.verify('u1', [good]), false);
    assert.equal(await csrf.verify('u2', good), false);
    assert.equal(await csrf.verify('u1', good), true);
  });

  it('never stores the token itself', async () => {
    const token = await csrf.issue('u1');
    const keys: string[] = [];
    for await (const key of store.keysWithPrefix('csrf:')) keys.push(key);
    assert.equal(keys.length, 1);
    assert.ok(!keys[0]!.includes(token));
  });
});
