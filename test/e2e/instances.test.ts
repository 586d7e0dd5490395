// Two proxy instances on one Redis: state is shared, what one instance revokes the other's
// in-process bearer cache forgets at once, and a client moves between instances mid-session.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { connectWithOAuth, TestOAuthProvider } from '../helpers/mcp-client.js';
import { startMcpServer, type McpServerProcess } from '../helpers/mcp-server.js';
import { freePort } from '../helpers/ports.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { startRouter, type FrontRouter } from '../helpers/router.js';
import { startStack, type Stack } from '../helpers/stack.js';
import { startUpstreamIdp, type UpstreamIdp } from '../helpers/upstream-idp.js';

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
    const jwks = JSON.stringify([generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' })]);
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
