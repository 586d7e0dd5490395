// Two proxy instances on one Redis: state is shared, what one instance revokes the other's
// in-process bearer cache forgets at once, and an upstream refresh both need is spent once.
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { Redis } from 'ioredis';
import { UpstreamTokenVault } from '../../src/identity/vault.js';
import { Browser } from '../helpers/browser.js';
import { connectWithOAuth, TestOAuthProvider } from '../helpers/mcp-client.js';
import { startStack, type Stack } from '../helpers/stack.js';
import { TEST_USER } from '../helpers/upstream-idp.js';

describe('two instances on one Redis', function () {
  this.timeout(60_000);
  let a: Stack;
  let b: Stack;
  let client: Client;
  let auth: TestOAuthProvider;

  const callMcp = (stack: Stack, token: string) =>
    fetch(stack.mcpUrl, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} }),
    });

  before(async () => {
    // One deployment: the same keys on every instance.
    const jwks = JSON.stringify([generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' })]);
    a = await startStack({ env: { OIDC_PROVIDER_JWKS: jwks } });
    // Behind one router both answer for the same BASE_URL (the token audience); b listens elsewhere.
    b = await startStack({ env: { OIDC_PROVIDER_JWKS: jwks, BASE_URL: a.baseUrl }, redis: a.redis, idp: a.idp });
    auth = new TestOAuthProvider();
    client = await connectWithOAuth(a.mcpUrl, auth);
  });
  after(async () => {
    await client?.close();
    await b?.stop();
    await a?.stop();
  });

  it('accepts on one instance the token issued by the other', async () => {
    assert.equal((await callMcp(b, auth.savedTokens!.access_token)).status, 200);
  });

  it('refreshes on one instance the tokens issued by the other', async () => {
    const response = await fetch(`${b.baseUrl}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: auth.savedTokens!.refresh_token!, client_id: auth.client!.client_id }),
    });
    assert.equal(response.status, 200);
    const tokens = (await response.json()) as { access_token: string; refresh_token: string };
    auth.savedTokens = { ...auth.savedTokens!, ...tokens };
    assert.equal((await callMcp(a, tokens.access_token)).status, 200);
  });

  it('forgets on every instance at once a token revoked on one', async () => {
    const token = auth.savedTokens!.access_token;
    assert.equal((await callMcp(b, token)).status, 200); // now cached on b
    const revoke = await fetch(`${a.baseUrl}/token/revocation`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token, client_id: auth.client!.client_id }),
    });
    assert.equal(revoke.status, 200);
    // Pub/sub delivery is asynchronous: allow it a bounded number of quick retries.
    let status = 0;
    for (let attempt = 0; attempt < 40 && status !== 401; attempt++) {
      status = (await callMcp(b, token)).status;
      if (status !== 401) await new Promise((r) => setTimeout(r, 25));
    }
    assert.equal(status, 401);
  });

  it('spends an upstream refresh token once when both instances find it stale at the same moment', async () => {
    // A sign-in of its own, with no /mcp call yet: neither instance has it in its bearer cache.
    const REDIRECT = 'http://127.0.0.1:45691/cb';
    const registered = await fetch(`${a.baseUrl}/reg`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none' }),
    });
    const { client_id } = (await registered.json()) as { client_id: string };
    const verifier = randomBytes(32).toString('base64url');
    const browser = new Browser();
    const atClient = (u: URL) => u.href.startsWith(REDIRECT);
    const consent = await browser.open(
      `${a.baseUrl}/auth?${new URLSearchParams({ client_id, response_type: 'code', redirect_uri: REDIRECT, code_challenge: createHash('sha256').update(verifier).digest('base64url'), code_challenge_method: 'S256' })}`,
      atClient,
    );
    const idpLogin = await browser.submit(consent, { actionIncludes: '/confirm', button: { name: 'action', value: 'confirm' }, stopAt: atClient });
    const done = await browser.submit(idpLogin, { fields: { username: TEST_USER.username, password: TEST_USER.password }, stopAt: atClient });
    const exchanged = await fetch(`${a.baseUrl}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code: new URL(done.redirectedTo!).searchParams.get('code')!, code_verifier: verifier, redirect_uri: REDIRECT, client_id }),
    });
    const { access_token } = (await exchanged.json()) as { access_token: string };

    // The upstream access token is about to expire (as if its time had come).
    const { grantId } = JSON.parse((await a.proxy.store.get(`AccessToken:${access_token}`))!) as { grantId: string };
    const vault = new UpstreamTokenVault(a.proxy.store, a.config.vaultKeys);
    const stale = (await vault.load(grantId))!;
    assert.ok(stale.refreshToken);
    await vault.update(grantId, { ...stale, expiresAt: Math.floor(Date.now() / 1000) - 1 });

    // Watch Redis for attempts at the refresh lock, and hold the IdP's answer to the first
    // refresh until the other instance has found the lock taken.
    const redis = new Redis(a.redis.url);
    const monitor = await redis.monitor();
    let lockAttempts = 0;
    let bothTried!: () => void;
    const contended = new Promise<void>((resolve) => (bothTried = resolve));
    monitor.on('monitor', (_time: string, args: string[]) => {
      if (args[0]?.toLowerCase() === 'set' && args[1]?.endsWith(`lock:upstream-refresh:${grantId}`) && ++lockAttempts >= 2) bothTried();
    });
    const hold = a.idp.holdRefreshes();
    const refreshesBefore = a.idp.refreshGrants();
    try {
      const headersSeen = (stack: Stack) =>
        fetch(`${stack.mcpUrl}/headers`, { headers: { authorization: `Bearer ${access_token}` } });
      // Two concurrent requests on each instance.
      const pending = [headersSeen(a), headersSeen(b), headersSeen(a), headersSeen(b)];
      await hold.arrived;
      await contended;
      hold.release();
      const responses = await Promise.all(pending);
      assert.deepEqual(responses.map((r) => r.status), [200, 200, 200, 200]);
      const seen = await Promise.all(responses.map(async (r) => ((await r.json()) as { authorization: string }).authorization));
      assert.equal(a.idp.refreshGrants() - refreshesBefore, 1, 'the IdP saw exactly one refresh grant');
      const fresh = (await vault.load(grantId))!;
      assert.notEqual(fresh.accessToken, stale.accessToken);
      assert.deepEqual(seen, Array(4).fill(`Bearer ${fresh.accessToken}`), 'every request went out with the new token');
      assert.ok(fresh.refreshToken && fresh.refreshToken !== stale.refreshToken, 'the rotated upstream refresh token is stored');
      assert.equal(await a.idp.isAccessTokenValid(fresh.accessToken), true);
    } finally {
      hold.release();
      monitor.disconnect();
      redis.disconnect();
    }
  });
});
