// Storage that fails part-way (Redis refusing writes to some keys, through its ACLs): nothing is
// left half-written — a grant is either complete with its upstream tokens or absent — and the
// failure reaches the logs without the keys and values the command carried (they name tokens).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { denyWrites } from '../helpers/redis.js';
import { signInForCode } from '../helpers/sign-in.js';
import { startStack, type Stack } from '../helpers/stack.js';

const REDIRECT = 'http://127.0.0.1:45693/cb';

describe('storage failures part-way', function () {
  this.timeout(60_000);
  let stack: Stack;
  let clientId: string;
  let restore: (() => Promise<void>) | undefined;

  const keys = async (prefix: string): Promise<string[]> => {
    const out: string[] = [];
    for await (const key of stack.proxy.store.keysWithPrefix(prefix)) out.push(key);
    return out;
  };

  /** Confirm and upstream login; the page after the IdP sends the browser back. */
  async function signIn(verifier: string) {
    return (await signInForCode(stack.baseUrl, clientId, REDIRECT, { verifier })).page!;
  }

  before(async () => {
    stack = await startStack();
    const response = await fetch(`${stack.baseUrl}/reg`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ client_name: 'Storage Test', redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none' }),
    });
    clientId = ((await response.json()) as { client_id: string }).client_id;
  });
  afterEach(async () => {
    await restore?.();
    restore = undefined;
  });
  after(async () => stack?.stop());

  it('a failure while saving the upstream tokens leaves no grant, no code and no usable token', async () => {
    const grantsBefore = await keys('Grant:');
    const codesBefore = await keys('AuthorizationCode:');
    restore = await denyWrites(stack.redis.url, `${stack.config.redis.prefix}upstream:`);
    const done = await signIn(randomBytes(32).toString('base64url'));
    assert.equal(done.redirectedTo, undefined, 'the client got no code');
    assert.equal(done.status, 500);
    assert.match(done.html, /could not be saved/);
    await restore();
    restore = undefined;
    assert.deepEqual(await keys('Grant:'), grantsBefore, 'the grant was removed');
    assert.deepEqual(await keys('AuthorizationCode:'), codesBefore);
    assert.deepEqual(await keys('AccessToken:'), []);
    assert.ok(stack.logs.some((l) => l.includes('sign-in could not be saved; grant removed') && l.includes('NOPERM')));

    // Storage is whole again: the same user signs in normally.
    const again = await signIn(randomBytes(32).toString('base64url'));
    assert.ok(new URL(again.redirectedTo!).searchParams.get('code'));
  });

  it('logs a storage error without the key it was writing (keys name tokens)', async () => {
    const verifier = randomBytes(32).toString('base64url');
    const done = await signIn(verifier);
    const token = await fetch(`${stack.baseUrl}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code: new URL(done.redirectedTo!).searchParams.get('code')!, code_verifier: verifier, redirect_uri: REDIRECT, client_id: clientId }),
    });
    const { refresh_token } = (await token.json()) as { refresh_token: string };
    restore = await denyWrites(stack.redis.url, `${stack.config.redis.prefix}RefreshToken:`);
    const logged = stack.logs.length;
    // Rotation writes RefreshToken:<the token presented>; Redis refuses it.
    const refresh = await fetch(`${stack.baseUrl}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token, client_id: clientId }),
    });
    assert.ok(refresh.status >= 500, `the refresh failed (${refresh.status})`);
    assert.equal(((await refresh.json()) as { error: string }).error, 'server_error');
    const lines = stack.logs.slice(logged);
    assert.ok(lines.some((l) => l.includes('NOPERM')), 'the failure is logged');
    assert.equal(lines.find((l) => l.includes(refresh_token)), undefined, 'without the refresh token');
  });
});
