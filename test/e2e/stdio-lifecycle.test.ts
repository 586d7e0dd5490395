// stdio MCP servers: isolation by user and for everyone, stateless (2026-07-28) requests, a
// refreshed token reaching a new process, the limits, the idle timeout, the startup deadline,
// commands that cannot run, and shutdown. server-everything from the npm registry throughout.
import assert from 'node:assert/strict';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { connectWithOAuth } from '../helpers/mcp-client.js';
import { startStack, type Stack } from '../helpers/stack.js';
import { OTHER_USER, TEST_USER } from '../helpers/upstream-idp.js';
import { until } from '../helpers/wait.js';
import { privateJwks } from '../helpers/keys.js';
import { disconnect, envOf, isRunning, signedIn, stdioEnv } from '../helpers/stdio.js';

const MCP_ACCEPT = 'application/json, text/event-stream';

/** An access token of the proxy's for `user` (the OAuth flow through the SDK client). */
async function accessToken(stack: Stack, user = TEST_USER): Promise<string> {
  const auth = signedIn(user);
  await disconnect(await connectWithOAuth(stack.mcpUrl, auth));
  return auth.savedTokens!.access_token;
}

/** A raw POST to /mcp; the JSON-RPC messages of its SSE (or JSON) answer. */
async function post(stack: Stack, token: string, body: unknown, headers: Record<string, string> = {}): Promise<{ res: Response; messages: Record<string, unknown>[] }> {
  const res = await fetch(stack.mcpUrl, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: MCP_ACCEPT, ...headers },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await res.text();
  const messages = res.headers.get('content-type')?.startsWith('text/event-stream')
    ? text.split('\n').filter((l) => l.startsWith('data: ')).map((l) => JSON.parse(l.slice(6)) as Record<string, unknown>)
    : text
      ? [JSON.parse(text) as Record<string, unknown>]
      : [];
  return { res, messages };
}

const INITIALIZE = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
};

describe('stdio MCP servers: isolation by user, stateless requests and token refresh', function () {
  this.timeout(60_000);
  let stack: Stack;

  before(async () => {
    // Upstream tokens live 30 s, under the 60 s refresh skew: every new session brings a fresh one.
    stack = await startStack({ env: stdioEnv({ MCP_SERVER_STDIO_ISOLATION: 'user', MCP_SERVER_TOKEN_ENV: 'UPSTREAM_ACCESS_TOKEN' }) });
  });
  after(async () => {
    await stack?.stop();
  });

  it('gives one user\'s sessions one process, and another user another', async () => {
    // Two clients of alice's (two grants, two upstream tokens, neither near expiry).
    const first = await connectWithOAuth(stack.mcpUrl, signedIn());
    const second = await connectWithOAuth(stack.mcpUrl, signedIn());
    const bob = await connectWithOAuth(stack.mcpUrl, signedIn(OTHER_USER));
    try {
      const [a1, a2, b] = [await envOf(first), await envOf(second), await envOf(bob)];
      assert.equal(a1.MCP_USER_ID, TEST_USER.sub);
      // The same process (started with the token of the first session) serves both of alice's.
      assert.equal(a1.UPSTREAM_ACCESS_TOKEN, a2.UPSTREAM_ACCESS_TOKEN);
      assert.equal(b.MCP_USER_ID, OTHER_USER.sub);
      assert.equal(stack.proxy.stdioServers!.size, 2);
      // Requests of both sessions on one process do not cross (ids are the process's own).
      const echoes = await Promise.all(
        Array.from({ length: 10 }, (_, i) => (i % 2 ? first : second).callTool({ name: 'echo', arguments: { message: `m${i}` } })),
      );
      assert.deepEqual(
        echoes.map((r) => (r.content as { text: string }[])[0]!.text),
        Array.from({ length: 10 }, (_, i) => `Echo: m${i}`),
      );
    } finally {
      await Promise.all([disconnect(first), disconnect(second), disconnect(bob)]);
    }
  });

  it('answers a stateless request (2026-07-28: no session, Mcp-Method) from the user\'s process', async () => {
    const token = await accessToken(stack);
    const { res, messages } = await post(stack, token, { jsonrpc: '2.0', id: 7, method: 'tools/list' }, {
      'mcp-method': 'tools/list',
      'mcp-protocol-version': '2026-07-28',
    });
    assert.equal(res.status, 200, JSON.stringify(messages));
    assert.equal(res.headers.get('mcp-session-id'), null);
    assert.equal(messages.length, 1, JSON.stringify(messages));
    const [answer] = messages;
    assert.equal(answer?.id, 7);
    assert.ok(((answer?.result as { tools: { name: string }[] }).tools ?? []).some((t) => t.name === 'echo'));
    // GET and DELETE need a session.
    const get = await fetch(stack.mcpUrl, { headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' } });
    assert.equal(get.status, 405);
    assert.equal(get.headers.get('allow'), 'POST');
  });

  it('a refreshed upstream token reaches the user\'s server at their next session, in a new process', async () => {
    const refreshing = await startStack({
      upstreamAccessTokenTtlSeconds: 30,
      env: stdioEnv({ MCP_SERVER_STDIO_ISOLATION: 'user', MCP_SERVER_TOKEN_ENV: 'UPSTREAM_ACCESS_TOKEN' }),
    });
    try {
      const auth = signedIn();
      const first = await connectWithOAuth(refreshing.mcpUrl, auth);
      const before = await envOf(first);
      // A second session with the same grant: the token is refreshed ahead of expiry first.
      const second = await connectWithOAuth(refreshing.mcpUrl, auth);
      const after = await envOf(second);
      assert.notEqual(after.UPSTREAM_ACCESS_TOKEN, before.UPSTREAM_ACCESS_TOKEN);
      const me = await fetch(`${refreshing.idp.issuer}/me`, { headers: { authorization: `Bearer ${after.UPSTREAM_ACCESS_TOKEN}` } });
      assert.equal(me.status, 200);
      // The first session keeps its process until it ends; then that process stops.
      assert.equal((await envOf(first)).UPSTREAM_ACCESS_TOKEN, before.UPSTREAM_ACCESS_TOKEN);
      assert.equal(refreshing.proxy.stdioServers!.size, 2);
      await disconnect(first);
      await until(() => refreshing.proxy.stdioServers!.size === 1, 'the replaced process stops once its session ended');
      await disconnect(second);
    } finally {
      await refreshing.stop();
    }
  });
});

describe('stdio MCP servers: one shared process', function () {
  this.timeout(60_000);
  let stack: Stack;

  before(async () => {
    stack = await startStack({ env: stdioEnv({ MCP_SERVER_STDIO_ISOLATION: 'shared' }) });
  });
  after(async () => {
    await stack?.stop();
  });

  it('starts with the proxy and serves everyone, with no user\'s identity or token', async () => {
    assert.equal(stack.proxy.stdioServers!.size, 1);
    const [pid] = stack.proxy.stdioServers!.pids();
    const alice = await connectWithOAuth(stack.mcpUrl, signedIn());
    const bob = await connectWithOAuth(stack.mcpUrl, signedIn(OTHER_USER));
    try {
      const env = await envOf(bob);
      assert.equal(env.MCP_USER_ID, undefined);
      assert.equal(env.MCP_USER_EMAIL, undefined);
      assert.deepEqual(stack.proxy.stdioServers!.pids(), [pid]);
      assert.ok((await alice.listTools()).tools.length > 0);
    } finally {
      await Promise.all([disconnect(alice), disconnect(bob)]);
    }
    // Sessions ending do not stop it.
    assert.deepEqual(stack.proxy.stdioServers!.pids(), [pid]);
  });
});

describe('stdio MCP servers: limits', function () {
  this.timeout(60_000);
  let stack: Stack;

  before(async () => {
    stack = await startStack({ env: stdioEnv({ MCP_SERVER_STDIO_MAX_PROCESSES: '2', MCP_SERVER_STDIO_MAX_PROCESSES_PER_USER: '1' }) });
  });
  after(async () => {
    await stack?.stop();
  });

  it('refuses a session over the per-user limit with 429, and over the instance\'s with 503', async () => {
    const alice = await connectAs(stack, TEST_USER);
    try {
      // Her second session is refused while the first holds her one process.
      const second = await post(stack, accessTokenOf(alice), INITIALIZE);
      assert.equal(second.res.status, 429);
      assert.equal(second.res.headers.get('retry-after'), '30');
      assert.deepEqual(second.messages[0]?.error, {
        code: -32000,
        message: 'You already have 1 MCP server processes (sessions) open; end one (or wait for an idle one to stop) and retry',
      });
      // Bob's first takes the instance's second process; his next is over the instance's limit.
      const bob = await connectAs(stack, OTHER_USER);
      try {
        const full = await post(stack, accessTokenOf(bob), INITIALIZE);
        assert.equal(full.res.status, 503);
        assert.equal(full.res.headers.get('retry-after'), '30');
        assert.match(String((full.messages[0]?.error as { message: string }).message), /at most 2 MCP server processes and all are in use/);
      } finally {
        await disconnect(bob);
      }
      // An ended session frees its process: the limit counts what runs.
      await until(() => stack.proxy.stdioServers!.size === 1, 'bob\'s process stops');
      const again = await connectWithOAuth(stack.mcpUrl, signedIn(OTHER_USER));
      await disconnect(again);
    } finally {
      await disconnect(alice);
    }
  });
});

const tokens = new WeakMap<Client, string>();

/** A connected SDK client of `user`, whose access token accessTokenOf() gives. */
async function connectAs(stack: Stack, user: { username: string; password: string }): Promise<Client> {
  const auth = signedIn(user);
  const client = await connectWithOAuth(stack.mcpUrl, auth);
  tokens.set(client, auth.savedTokens!.access_token);
  return client;
}

function accessTokenOf(client: Client): string {
  const token = tokens.get(client);
  assert.ok(token, 'connected with connectAs()');
  return token;
}

describe('stdio MCP servers: idle timeout, startup deadline, commands that cannot run, shutdown', function () {
  this.timeout(60_000);

  it('stops a process with no request and no stream for the idle timeout; its session is then unknown', async () => {
    const stack = await startStack({ env: stdioEnv({ MCP_SERVER_STDIO_IDLE_TIMEOUT_SECONDS: '1' }) });
    try {
      const token = await accessToken(stack);
      const { res } = await post(stack, token, INITIALIZE);
      const sessionId = res.headers.get('mcp-session-id')!;
      assert.ok(sessionId);
      assert.equal(stack.proxy.stdioServers!.size, 1);
      await until(() => stack.proxy.stdioServers!.size === 0, 'the idle process stops');
      const later = await post(stack, token, { jsonrpc: '2.0', id: 2, method: 'tools/list' }, { 'mcp-session-id': sessionId });
      assert.equal(later.res.status, 404);
    } finally {
      await stack.stop();
    }
  });

  it('a server that does not answer initialize in time: a clear error, and the process is stopped', async () => {
    const stack = await startStack({
      env: stdioEnv({ MCP_SERVER_READY_TIMEOUT_MS: '500' }, ['-e', 'setInterval(() => {}, 1000)']),
    });
    try {
      await assert.rejects(connectWithOAuth(stack.mcpUrl, signedIn()), /did not answer initialize within 500 ms \(MCP_SERVER_READY_TIMEOUT_MS\)/);
      await until(() => stack.proxy.stdioServers!.size === 0, 'the silent process is stopped');
    } finally {
      await stack.stop();
    }
  });

  it('a command that is not there fails the boot, naming MCP_SERVER_RUN_COMMAND', async () => {
    await assert.rejects(
      startStack({ env: { ...stdioEnv(), MCP_SERVER_RUN_COMMAND: 'no-such-mcp-server-here' } }),
      /MCP_SERVER_RUN_COMMAND: no-such-mcp-server-here was not found on the MCP server's PATH/,
    );
  });

  it('a shared process that exits at once fails the boot, naming MCP_SERVER_RUN_COMMAND', async () => {
    await assert.rejects(
      startStack({ env: stdioEnv({ MCP_SERVER_STDIO_ISOLATION: 'shared' }, ['-e', 'process.exit(3)']) }),
      /MCP_SERVER_RUN_COMMAND: The MCP server process exited with code 3/,
    );
  });

  it('shutdown stops every process', async () => {
    const stack = await startStack({ env: stdioEnv() });
    const clients = [await connectWithOAuth(stack.mcpUrl, signedIn()), await connectWithOAuth(stack.mcpUrl, signedIn(OTHER_USER))];
    const pids = stack.proxy.stdioServers!.pids();
    assert.equal(pids.length, 2);
    await stack.stop();
    assert.deepEqual(pids.filter(isRunning), []);
    await Promise.all(clients.map((c) => c.close()));
  });
});

describe('stdio MCP servers: two instances on one Redis', function () {
  this.timeout(60_000);

  it('a session lives on the instance that runs its process: the other answers 404, a new session there works', async () => {
    const jwks = privateJwks();
    const a = await startStack({ env: stdioEnv({ OIDC_PROVIDER_JWKS: jwks }) });
    const b = await startStack({ env: stdioEnv({ OIDC_PROVIDER_JWKS: jwks, BASE_URL: a.baseUrl }), redis: a.redis, idp: a.idp });
    try {
      const token = await accessToken(a);
      const { res } = await post(a, token, INITIALIZE);
      const sessionId = res.headers.get('mcp-session-id')!;
      const call = { jsonrpc: '2.0', id: 2, method: 'tools/list' };
      const headers = { 'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-11-25' };
      assert.equal((await post(a, token, call, headers)).res.status, 200);
      // b knows whose session it is (Redis), but not its process.
      const elsewhere = await post(b, token, call, headers);
      assert.equal(elsewhere.res.status, 404);
      assert.deepEqual(elsewhere.messages[0]?.error, { code: -32001, message: 'Session not found' });
      // The client starts a new session there, which works.
      const again = await post(b, token, INITIALIZE);
      assert.equal(again.res.status, 200);
      assert.ok(again.res.headers.get('mcp-session-id'));
      assert.equal(b.proxy.stdioServers!.size, 1);
      // Stateless requests need no session: any instance answers them.
      assert.equal((await post(b, token, call, { 'mcp-method': 'tools/list' })).res.status, 200);
    } finally {
      await b.stop();
      await a.stop();
    }
  });
});
