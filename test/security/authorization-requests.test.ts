// Attacker: an authorization request that takes the browser to the client with no click, however
// it is sent: pushed first (PAR), POSTed as a form, or wrapped in a request object. The rules of
// /auth hold on the request as resolved, and what we do not need is off and not advertised.
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { codeChallenge } from '../helpers/authorize.js';
import { registerPublicClient } from '../helpers/sign-in.js';
import { startStack, type Stack } from '../helpers/stack.js';

const EVIL = 'https://evil.example/cb';

/** A response as the browser gets it: no redirect followed. */
async function send(url: string, init: RequestInit = {}): Promise<{ status: number; location: string | null; html: string }> {
  const response = await fetch(url, { ...init, redirect: 'manual' });
  return { status: response.status, location: response.headers.get('location'), html: await response.text() };
}

/**
 * Nothing in the answer takes the browser to the client: no redirect, no self-posting form, no
 * script. (Our error page may offer a link back to the client, for the person to choose.)
 */
function staysHere(answer: { status: number; location: string | null; html: string }, label: string): void {
  assert.equal(answer.location, null, `${label}: redirected`);
  assert.doesNotMatch(answer.html, /<script|<form[^>]*action="https?:|http-equiv="refresh"/i, `${label}: the page leads to the client`);
  assert.doesNotMatch(answer.html, /<form[^>]*evil\.example|<input[^>]*name="(error|code)"/i, `${label}: the page posts to the client`);
  assert.ok(answer.status >= 400, `${label}: ${answer.status}`);
}

describe('authorization requests, however they arrive', function () {
  this.timeout(60_000);
  let stack: Stack;
  let redis: Redis;
  let clientId: string;
  const params = () => ({
    client_id: clientId,
    response_type: 'code',
    redirect_uri: EVIL,
    prompt: 'none',
    code_challenge: codeChallenge('x'.repeat(43)),
    code_challenge_method: 'S256',
  });

  before(async () => {
    stack = await startStack();
    redis = new Redis(stack.redis.url);
    clientId = (await registerPublicClient(stack.baseUrl, EVIL, 'Evil')).clientId!;
  });
  after(async () => {
    redis?.disconnect();
    await stack?.stop();
  });

  it('has no pushed authorization request endpoint: not advertised, nothing stored, request_uri refused', async () => {
    for (const path of ['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration']) {
      const meta = (await (await fetch(`${stack.baseUrl}${path}`)).json()) as Record<string, unknown>;
      assert.equal(meta.pushed_authorization_request_endpoint, undefined, path);
      assert.equal(meta.require_pushed_authorization_requests, undefined, path);
      assert.notEqual(meta.request_parameter_supported, true, path);
      assert.deepEqual(meta.response_modes_supported, ['query'], path);
    }
    const before = await redis.dbsize();
    // The red team's attack: push form_post + prompt=none, then open the pushed request.
    const pushed = await fetch(`${stack.baseUrl}/request`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ ...params(), response_mode: 'form_post' }),
    });
    const after = await redis.dbsize();
    const uri = ((await pushed.json().catch(() => ({}))) as { request_uri?: string }).request_uri ?? 'urn:ietf:params:oauth:request_uri:abc';
    staysHere(await send(`${stack.baseUrl}/auth?${new URLSearchParams({ client_id: clientId, request_uri: uri })}`), 'request_uri');
    assert.equal(pushed.status, 404);
    assert.equal(after, before, 'the push stored nothing');
  });

  it('refuses form_post and fragment in a POSTed authorization request (POST /auth is off: 404), before any sign-in', async () => {
    for (const mode of ['form_post', 'fragment', 'query.jwt', 'form_post.jwt']) {
      const answer = await send(`${stack.baseUrl}/auth`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ ...params(), response_mode: mode }),
      });
      staysHere(answer, `POST ${mode}`);
    }
  });

  it('does not take a response mode (or anything else) from a request object', async () => {
    const header = Buffer.from(JSON.stringify({ alg: 'none' })).toString('base64url');
    const claims = Buffer.from(JSON.stringify({ ...params(), response_mode: 'form_post' })).toString('base64url');
    const request = `${header}.${claims}.`;
    staysHere(await send(`${stack.baseUrl}/auth?${new URLSearchParams({ client_id: clientId, response_type: 'code', request })}`), 'request object');
    staysHere(
      await send(`${stack.baseUrl}/auth`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ client_id: clientId, response_type: 'code', request }),
      }),
      'POSTed request object',
    );
  });
});
