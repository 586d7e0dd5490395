// Two proxy instances on one Redis: state is shared, what one instance revokes the other's
// in-process bearer cache forgets at once, an upstream refresh both need is spent once, and a
// client moves between instances mid-session.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { Redis } from 'ioredis';
import { UpstreamTokenVault } from '../../src/identity/vault.js';
import type { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { Browser } from '../helpers/browser.js';
import { connectWithOAuth, TestOAuthProvider, listTools } from '../helpers/mcp-client.js';
import { startMcpServer, type McpServerProcess } from '../helpers/mcp-server.js';
import { freePort } from '../helpers/ports.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { startRouter, type FrontRouter } from '../helpers/router.js';
import { startStack, type Stack } from '../helpers/stack.js';
import { startUpstreamIdp, TEST_USER, type UpstreamIdp } from '../helpers/upstream-idp.js';
import { privateJwks } from '../helpers/keys.js';

describe('two instances on one Redis', function () {
  this.timeout(60_000);
  let a: Stack;
  let b: Stack;
  let client: Client;
  let auth: TestOAuthProvider;

  const callMcp = (stack: Stack, token: string) => listTools(stack.mcpUrl, token);

  before(async () => {
    // One deployment: the same keys on every instance.
    const jwks = privateJwks();
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

describe('one MCP client moved between two instances mid-session', function () {
  this.timeout(60_000);
  let redis: RedisServer;
  let idp: UpstreamIdp;
  let mcp: McpServerProcess;
  let router: FrontRouter;
  let a: Stack;
  let b: Stack;
  let client: Client | undefined;

  before(async () => {
    // One deployment behind one router: the same BASE_URL and keys on every instance, one Redis,
    // and one stateful MCP server that both instances reach (neither runs it).
    const routerPort = await freePort();
    const publicUrl = `http://127.0.0.1:${routerPort}`;
    redis = await startRedis();
    idp = await startUpstreamIdp({ redirectUris: [`${publicUrl}/interaction/identity/callback`] });
    mcp = await startMcpServer({ MCP_FIXTURE_STATEFUL: 'true', MCP_FIXTURE_TOKEN_CHECK_URL: `${idp.issuer}/me` });
    const jwks = privateJwks();
    const env = { BASE_URL: publicUrl, OIDC_PROVIDER_JWKS: jwks, MCP_SERVER_RUN_COMMAND: '', MCP_SERVER_URL: mcp.url };
    a = await startStack({ env, redis, idp });
    b = await startStack({ env, redis, idp });
    router = await startRouter(routerPort, () => [a.baseUrl, b.baseUrl]);
  });
  after(async () => {
    await client?.close();
    await router?.stop();
    await b?.stop();
    await a?.stop();
    await mcp?.stop();
    await idp?.stop();
    await redis?.stop();
  });

  const echo = async (text: string) => {
    const result = await client!.callTool({ name: 'echo', arguments: { text } });
    return (result.content as { text: string }[])[0]?.text;
  };
  const routedSince = (from: number) => router.routed.slice(from);

  it('signs in on A, continues the same MCP session on B, and refreshes on B, without signing in again', async () => {
    const auth = new TestOAuthProvider();
    router.use(0);
    client = await connectWithOAuth(`${router.url}/mcp`, auth);
    const transport = client.transport as StreamableHTTPClientTransport;
    const sessionId = transport.sessionId;
    assert.ok(sessionId, 'a stateful MCP session');
    assert.equal(await echo('on A'), 'on A');
    assert.ok(router.routed.every((r) => r.backend === 0), 'everything so far went through A');
    const signIns = auth.pages.length;
    const { access_token: firstAccess, refresh_token: firstRefresh } = auth.savedTokens!;

    // The router now sends every new request to B: same token, same Mcp-Session-Id.
    router.use(1);
    let mark = router.routed.length;
    assert.equal(await echo('on B'), 'on B');
    assert.deepEqual(routedSince(mark), [{ backend: 1, method: 'POST', path: '/mcp' }]);
    assert.equal(transport.sessionId, sessionId);
    assert.equal(auth.savedTokens!.access_token, firstAccess);

    // The access token stops working (as when it expires): the client refreshes, on B.
    auth.savedTokens = { ...auth.savedTokens!, access_token: 'no-longer-valid-access-token-0000000000000' };
    mark = router.routed.length;
    assert.equal(await echo('after refresh'), 'after refresh');
    const afterRefresh = routedSince(mark);
    assert.ok(afterRefresh.some((r) => r.method === 'POST' && r.path === '/token'), JSON.stringify(afterRefresh));
    assert.ok(afterRefresh.every((r) => r.backend === 1));
    assert.ok(!afterRefresh.some((r) => r.path === '/auth' || r.path.startsWith('/interaction')), 'no new sign-in');
    assert.equal(auth.pages.length, signIns, 'the browser was not opened again');
    assert.notEqual(auth.savedTokens!.access_token, firstAccess);
    assert.notEqual(auth.savedTokens!.refresh_token, firstRefresh, 'the refresh token rotated');
    assert.equal(transport.sessionId, sessionId, 'still the same MCP session');

    // And back on A with the tokens B issued.
    router.use(0);
    mark = router.routed.length;
    assert.equal(await echo('on A again'), 'on A again');
    assert.deepEqual(routedSince(mark), [{ backend: 0, method: 'POST', path: '/mcp' }]);
  });
});
