import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import * as client from 'openid-client';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { Browser } from './helpers/browser.js';
import { freePort, waitForPort } from './helpers/ports.js';
import { startRedis, type RedisServer } from './helpers/redis.js';
import { startUpstreamIdp, type UpstreamIdp } from './helpers/upstream-idp.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CALLBACK = 'http://127.0.0.1:9/cb'; // never contacted: the Browser stops at this redirect

describe('freePort', () => {
  it('never hands out the same port twice in a process (a proxy and its MCP server once got one)', async () => {
    const ports = [];
    for (let i = 0; i < 200; i++) ports.push(await freePort());
    assert.equal(new Set(ports).size, ports.length);
  });
});

describe('test helpers', () => {
  describe('redis', () => {
    let redis: RedisServer | undefined;
    let conn: Redis | undefined;
    after(async () => {
      conn?.disconnect();
      await redis?.stop();
    });

    it('starts a loopback redis-server that answers PING', async () => {
      redis = await startRedis();
      assert.match(redis.url, /^redis:\/\/127\.0\.0\.1:\d+$/);
      conn = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 0 });
      await conn.connect();
      assert.equal(await conn.ping(), 'PONG');
    });
  });

  describe('upstream IdP + MCP fixture', () => {
    let idp: UpstreamIdp;
    let config: client.Configuration;
    let accessToken = '';
    let refreshToken = '';
    const fixtures: Fixture[] = [];
    let mcpClient: Client | undefined;

    before(async () => {
      idp = await startUpstreamIdp({ redirectUris: [CALLBACK] });
      config = await client.discovery(new URL(idp.issuer), idp.clientId, idp.clientSecret, undefined, {
        execute: [client.allowInsecureRequests],
      });
    });

    after(async () => {
      await mcpClient?.close();
      for (const fx of fixtures) await stopChild(fx.child);
      await idp?.stop();
    });

    it('logs the user in through the Browser and exchanges the code', async () => {
      const verifier = client.randomPKCECodeVerifier();
      const state = client.randomState();
      const nonce = client.randomNonce();
      const authUrl = client.buildAuthorizationUrl(config, {
        redirect_uri: CALLBACK,
        scope: 'openid email profile offline_access',
        code_challenge: await client.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
        state,
        nonce,
      });

      const browser = new Browser();
      const toCallback = (u: URL) => u.origin === 'http://127.0.0.1:9';
      const loginPage = await browser.open(authUrl.href, toCallback);
      assert.equal(loginPage.status, 200);
      assert.match(loginPage.html, /name="username"/);

      const wrong = await browser.submit(loginPage, { fields: { username: 'alice', password: 'nope' }, stopAt: toCallback });
      assert.equal(wrong.status, 200);
      assert.equal(wrong.redirectedTo, undefined);
      assert.match(wrong.html, /Invalid username or password/);

      const done = await browser.submit(wrong, {
        actionIncludes: '/login',
        fields: { username: idp.user.username, password: idp.user.password },
        stopAt: toCallback,
      });
      assert.ok(done.redirectedTo, `expected a redirect to the callback, got ${done.status} at ${done.url}`);

      const tokens = await client.authorizationCodeGrant(config, new URL(done.redirectedTo), {
        pkceCodeVerifier: verifier,
        expectedState: state,
        expectedNonce: nonce,
      });
      assert.equal(tokens.claims()?.sub, idp.user.sub);
      assert.ok(tokens.refresh_token, 'a refresh token is always issued');
      accessToken = tokens.access_token;
      refreshToken = tokens.refresh_token;
      assert.equal(await idp.isAccessTokenValid(accessToken), true);

      const userinfo = await client.fetchUserInfo(config, accessToken, idp.user.sub);
      assert.equal(userinfo.email, idp.user.email);
      assert.equal(userinfo.email_verified, true);
    });

    it('serves refresh grants, counts them, and fails one on demand', async () => {
      const refreshed = await client.refreshTokenGrant(config, refreshToken);
      assert.equal(idp.refreshGrants(), 1);
      assert.ok(refreshed.refresh_token && refreshed.refresh_token !== refreshToken, 'refresh tokens rotate');
      assert.equal(await idp.isAccessTokenValid(refreshed.access_token), true);
      accessToken = refreshed.access_token;
      refreshToken = refreshed.refresh_token;

      idp.failNextRefresh();
      // A non-refresh token request while armed goes through the buffered-body path, reaches
      // oidc-provider intact (invalid_grant for the bogus code, not a body parse error), and does not disarm.
      await assert.rejects(
        client.authorizationCodeGrant(config, new URL(`${CALLBACK}?code=bogus&iss=${encodeURIComponent(idp.issuer)}`), {
          pkceCodeVerifier: client.randomPKCECodeVerifier(),
        }),
        (err: unknown) => {
          assert.ok(err instanceof client.ResponseBodyError);
          assert.equal(err.error, 'invalid_grant');
          assert.equal(err.error_description, 'grant request is invalid');
          return true;
        },
      );
      await assert.rejects(client.refreshTokenGrant(config, refreshToken), (err: unknown) => {
        assert.ok(err instanceof client.ResponseBodyError);
        assert.equal(err.error, 'invalid_grant');
        return true;
      });
      assert.equal(idp.refreshGrants(), 1);

      // Only one failure was armed: the same (unconsumed) refresh token still works.
      const again = await client.refreshTokenGrant(config, refreshToken);
      assert.equal(idp.refreshGrants(), 2);
      accessToken = again.access_token;
    });

    it('runs the MCP fixture, which sees the bearer token and rejects bad ones', async () => {
      const userinfo = config.serverMetadata().userinfo_endpoint;
      assert.ok(userinfo);
      const fx = await startFixture({ MCP_FIXTURE_TOKEN_CHECK_URL: userinfo });
      fixtures.push(fx);

      mcpClient = new Client({ name: 'helpers-test', version: '1.0.0' });
      await mcpClient.connect(
        new StreamableHTTPClientTransport(new URL(`${fx.url}`), {
          requestInit: { headers: { Authorization: `Bearer ${accessToken}` } },
        }),
      );
      const result = await mcpClient.callTool({ name: 'whoami', arguments: {} });
      const content = result.content as { type: string; text: string }[];
      const echoed = JSON.parse(content[0]?.text ?? '{}') as { authorization: string; headers: Record<string, string> };
      assert.equal(echoed.authorization, `Bearer ${accessToken}`);
      assert.equal(echoed.headers.host, `127.0.0.1:${fx.port}`);

      const echo = await mcpClient.callTool({ name: 'echo', arguments: { text: 'hi there' } });
      assert.deepEqual(echo.content, [{ type: 'text', text: 'hi there' }]);

      const bad = await fetch(fx.url, {
        method: 'POST',
        headers: { authorization: 'Bearer garbage', 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
      });
      assert.equal(bad.status, 401);
      assert.match(bad.headers.get('www-authenticate') ?? '', /invalid_token/);
      await bad.body?.cancel();

      // Revoking upstream makes the (uncached) check fail for the token that just worked.
      await idp.revokeAllAccessTokens();
      assert.equal(await idp.isAccessTokenValid(accessToken), false);
      await assert.rejects(mcpClient.callTool({ name: 'whoami', arguments: {} }));
    });

    it('runs the MCP fixture in stateful mode (sessions, DELETE, 404 on unknown session)', async () => {
      const fx = await startFixture({ MCP_FIXTURE_STATEFUL: 'true' });
      fixtures.push(fx);
      const transport = new StreamableHTTPClientTransport(new URL(fx.url));
      const c = new Client({ name: 'helpers-test-stateful', version: '1.0.0' });
      await c.connect(transport);
      const sid = transport.sessionId;
      assert.ok(sid, 'server assigned a session id');
      const echo = await c.callTool({ name: 'echo', arguments: { text: 'stateful' } });
      assert.deepEqual(echo.content, [{ type: 'text', text: 'stateful' }]);
      await transport.terminateSession(); // DELETE /mcp
      await c.close();

      const gone = await fetch(fx.url, {
        method: 'POST',
        headers: { 'mcp-session-id': sid, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' }),
      });
      assert.equal(gone.status, 404);
      await gone.body?.cancel();
    });
  });
});

interface Fixture {
  port: number;
  url: string;
  child: ChildProcess;
}

/** Spawns test/fixtures/mcp-server.ts the way the proxy does; resolves once it listens. */
async function startFixture(env: Record<string, string>): Promise<Fixture> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/mcp-server.ts'], {
    cwd: ROOT,
    env: { ...process.env, ...env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let stdout = '';
  const listening = new Promise<void>((resolve) =>
    child.stdout?.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (stdout.includes(`mcp fixture listening on ${port}`)) resolve();
    }),
  );
  const early = new Promise<never>((_, reject) =>
    child.once('exit', (code) => reject(new Error(`mcp fixture exited early (${code}): ${stdout}`))),
  );
  early.catch(() => {}); // the exit at the end of the test is expected
  try {
    await Promise.race([Promise.all([listening, waitForPort(port)]), early]);
  } catch (err) {
    await stopChild(child);
    throw err;
  }
  return { port, url: `http://127.0.0.1:${port}/mcp`, child };
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  await exited;
}
