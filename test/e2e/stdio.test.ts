// MCP_SERVER_TRANSPORT=stdio end to end: real stdio servers from the npm registry
// (@modelcontextprotocol/server-everything, server-filesystem) behind the proxy, reached by the
// real MCP SDK client through the whole OAuth flow.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CreateMessageRequestSchema, ElicitRequestSchema, ListRootsRequestSchema, LoggingMessageNotificationSchema, McpError } from '@modelcontextprotocol/sdk/types.js';
import { connectWithOAuth, TestOAuthProvider } from '../helpers/mcp-client.js';
import { parsePrometheus, sampleValue } from '../helpers/prometheus.js';
import { startStack, type Stack } from '../helpers/stack.js';
import { OTHER_USER, TEST_USER } from '../helpers/upstream-idp.js';
import { until } from '../helpers/wait.js';
import { disconnect, envOf, FILESYSTEM, isRunning, signedIn, stdioEnv, textOf } from '../helpers/stdio.js';

const MCP_ACCEPT = 'application/json, text/event-stream';

function pool(stack: Stack) {
  const servers = stack.proxy.stdioServers;
  assert.ok(servers, 'the proxy runs stdio servers');
  return servers;
}

describe('stdio MCP servers (server-everything, session isolation)', function () {
  this.timeout(60_000);
  let stack: Stack;

  before(async () => {
    stack = await startStack({
      telemetry: true,
      env: stdioEnv({ MCP_SERVER_TOKEN_ENV: 'UPSTREAM_ACCESS_TOKEN', MCP_AUTH_PROXY_METRICS_PATH: '/metrics' }),
    });
  });
  after(async () => {
    await stack?.stop();
  });

  it('initializes, lists and calls tools through the proxy', async () => {
    const client = await connectWithOAuth(stack.mcpUrl, new TestOAuthProvider());
    try {
      assert.match(client.getServerVersion()?.name ?? '', /everything/i);
      const { tools } = await client.listTools();
      assert.ok(tools.some((t) => t.name === 'echo'));
      assert.equal(textOf(await client.callTool({ name: 'echo', arguments: { message: 'through stdio' } })), 'Echo: through stdio');
    } finally {
      await disconnect(client);
    }
  });

  it('streams progress notifications to the request that asked for them', async () => {
    const client = await connectWithOAuth(stack.mcpUrl, new TestOAuthProvider());
    try {
      const progress: number[] = [];
      const result = await client.callTool({ name: 'trigger-long-running-operation', arguments: { duration: 0.3, steps: 3 } }, undefined, {
        onprogress: (p) => progress.push(p.progress),
      });
      assert.match(textOf(result), /Long running operation completed/);
      assert.deepEqual(progress, [1, 2, 3]);
    } finally {
      await disconnect(client);
    }
  });

  it('carries a sampling request to the client and its answer back', async () => {
    const client = await connectWithOAuth(stack.mcpUrl, new TestOAuthProvider(), {
      capabilities: { sampling: {} },
      setUp: (c) =>
        c.setRequestHandler(CreateMessageRequestSchema, async (request) => ({
          role: 'assistant',
          model: 'test-model',
          content: { type: 'text', text: `sampled: ${JSON.stringify(request.params.messages[0]?.content)}` },
        })),
    });
    try {
      const result = await client.callTool({ name: 'trigger-sampling-request', arguments: { prompt: 'a haiku', maxTokens: 20 } });
      assert.match(textOf(result), /sampled: .*a haiku/s);
      assert.match(textOf(result), /test-model/);
    } finally {
      await disconnect(client);
    }
  });

  it('carries elicitation and roots requests to the client (roots asked as soon as the session starts)', async () => {
    let rootsAsked = 0;
    const client = await connectWithOAuth(stack.mcpUrl, new TestOAuthProvider(), {
      capabilities: { elicitation: {}, roots: { listChanged: true } },
      setUp: (c) => {
        c.setRequestHandler(ElicitRequestSchema, async () => ({ action: 'accept', content: { name: 'Alice Liddell', check: true } }));
        c.setRequestHandler(ListRootsRequestSchema, async () => {
          rootsAsked += 1;
          return { roots: [{ uri: 'file:///srv/wonderland', name: 'wonderland' }] };
        });
      },
    });
    try {
      // server-everything asks for the roots right after initialized, before any request of the
      // client's: the question waits for the GET stream instead of being lost.
      await until(() => rootsAsked > 0, 'the server asks the client for its roots');
      assert.match(textOf(await client.callTool({ name: 'get-roots-list', arguments: {} })), /file:\/\/\/srv\/wonderland/);
      const elicited = await client.callTool({ name: 'trigger-elicitation-request', arguments: {} });
      assert.match(JSON.stringify(elicited.content), /Alice Liddell/);
    } finally {
      await disconnect(client);
    }
  });

  it('delivers what the server sends on its own on the GET stream', async () => {
    const messages: string[] = [];
    const client = await connectWithOAuth(stack.mcpUrl, new TestOAuthProvider(), {
      setUp: (c) => c.setNotificationHandler(LoggingMessageNotificationSchema, (n) => void messages.push(String(n.params.data))),
    });
    try {
      await client.callTool({ name: 'toggle-simulated-logging', arguments: {} });
      // The first message may ride on the call's own stream; the next comes when no request is open.
      const during = messages.length;
      await until(() => messages.length > during, 'a log message on the GET stream', 15_000);
    } finally {
      await disconnect(client);
    }
  });

  it('runs a process per session, each with its own user\'s token and identity, never the proxy\'s secrets', async () => {
    const alice = await connectWithOAuth(stack.mcpUrl, signedIn(TEST_USER));
    const bob = await connectWithOAuth(stack.mcpUrl, signedIn(OTHER_USER));
    try {
      const [aliceEnv, bobEnv] = [await envOf(alice), await envOf(bob)];
      assert.equal(aliceEnv.MCP_USER_ID, TEST_USER.sub);
      assert.equal(aliceEnv.MCP_USER_EMAIL, TEST_USER.email);
      assert.equal(bobEnv.MCP_USER_ID, OTHER_USER.sub);
      assert.notEqual(aliceEnv.UPSTREAM_ACCESS_TOKEN, bobEnv.UPSTREAM_ACCESS_TOKEN);
      // Each is that user's own upstream token: the IdP says whose.
      for (const [env, user] of [[aliceEnv, TEST_USER], [bobEnv, OTHER_USER]] as const) {
        const me = await fetch(`${stack.idp.issuer}/me`, { headers: { authorization: `Bearer ${env.UPSTREAM_ACCESS_TOKEN}` } });
        assert.equal(me.status, 200);
        assert.equal(((await me.json()) as { sub: string }).sub, user.sub);
      }
      for (const secret of ['IDENTITY_CLIENT_SECRET', 'MCP_AUTH_PROXY_REDIS_URL', 'OIDC_PROVIDER_JWKS', 'PORT']) assert.equal(aliceEnv[secret], undefined, secret);
      assert.equal(pool(stack).size >= 2, true);
      // Nothing of the token reaches the logs, whatever the server prints.
      assert.ok(!stack.logs.some((line) => line.includes(aliceEnv.UPSTREAM_ACCESS_TOKEN!)));
    } finally {
      await disconnect(alice);
      await disconnect(bob);
    }
  });

  it('ends the session\'s process at DELETE; the session id is then unknown', async () => {
    const client = await connectWithOAuth(stack.mcpUrl, new TestOAuthProvider());
    const transport = client.transport as StreamableHTTPClientTransport;
    const before = new Set(pool(stack).pids());
    await client.listTools();
    const sessionId = transport.sessionId!;
    const own = pool(stack).pids().filter((pid) => !before.has(pid));
    await transport.terminateSession();
    await until(() => own.every((pid) => !isRunning(pid)), 'the session\'s process exits');
    await client.close();
    const res = await fetch(stack.mcpUrl, {
      method: 'POST',
      headers: { authorization: `Bearer ${await tokenFor(stack)}`, 'content-type': 'application/json', accept: MCP_ACCEPT, 'mcp-session-id': sessionId },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    });
    assert.equal(res.status, 404);
  });

  it('answers a killed process\'s requests with a JSON-RPC error, then 404; a new session works', async () => {
    const client = await connectWithOAuth(stack.mcpUrl, new TestOAuthProvider());
    try {
      const call = client.callTool({ name: 'trigger-long-running-operation', arguments: { duration: 30, steps: 30 } }, undefined, { onprogress: () => {} });
      // Its process is the one with a request in flight: the newest.
      const pid = pool(stack).pids().at(-1)!;
      process.kill(-pid, 'SIGKILL');
      await assert.rejects(call, (err: Error) => err instanceof McpError && /MCP server process was killed by SIGKILL/.test(err.message));
      await assert.rejects(client.listTools(), /404|Session not found/);
    } finally {
      await client.close();
    }
    const fresh = await connectWithOAuth(stack.mcpUrl, new TestOAuthProvider());
    try {
      assert.ok((await fresh.listTools()).tools.length > 0);
    } finally {
      await disconnect(fresh);
    }
  });

  it('counts processes alive, their start time and how they ended', async () => {
    await until(() => pool(stack).size === 0, 'every session\'s process has stopped');
    const samples = parsePrometheus(await (await fetch(`${stack.baseUrl}/metrics`)).text());
    assert.equal(sampleValue(samples, 'mcp_auth_proxy_stdio_processes'), 0);
    // The kill above is the one crash; every other process was stopped by its session's end.
    assert.equal(sampleValue(samples, 'mcp_auth_proxy_stdio_exits_total', { exit: 'crashed' }), 1);
    const stopped = sampleValue(samples, 'mcp_auth_proxy_stdio_exits_total', { exit: 'stopped' });
    const started = sampleValue(samples, 'mcp_auth_proxy_stdio_start_duration_count');
    assert.ok(stopped >= 8, `stopped: ${stopped}`);
    assert.equal(started, stopped + 1);
  });
});

let cachedToken: string | undefined;
async function tokenFor(stack: Stack): Promise<string> {
  if (cachedToken) return cachedToken;
  const auth = new TestOAuthProvider();
  await disconnect(await connectWithOAuth(stack.mcpUrl, auth));
  cachedToken = auth.savedTokens!.access_token;
  return cachedToken;
}

describe('stdio MCP servers (server-filesystem on a temporary directory)', function () {
  this.timeout(60_000);
  let stack: Stack;
  let dir: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mcp-fs-'));
    await writeFile(join(dir, 'hello.txt'), 'hello from the filesystem server');
    stack = await startStack({ env: stdioEnv({}, [FILESYSTEM, dir]) });
  });
  after(async () => {
    await stack?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('reads a file in the allowed directory and refuses one outside it', async () => {
    const client = await connectWithOAuth(stack.mcpUrl, new TestOAuthProvider());
    try {
      const read = await client.callTool({ name: 'read_text_file', arguments: { path: join(dir, 'hello.txt') } });
      assert.equal(textOf(read), 'hello from the filesystem server');
      const outside = await client.callTool({ name: 'read_text_file', arguments: { path: '/etc/hostname' } });
      assert.equal(outside.isError, true);
    } finally {
      await disconnect(client);
    }
  });
});
