// The MCP server child dying under a signed-in client: open streams are cut, /mcp answers 503 at
// once (not a hang, not a 500) and /readyz says why while it restarts; then the same client works
// again. With MCP_SERVER_RESTART=exit the proxy reports that it must exit instead. An MCP server
// the proxy does not run answers 502 when it is down.
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { connectWithOAuth, TestOAuthProvider, listTools } from '../helpers/mcp-client.js';
import { freePort } from '../helpers/ports.js';
import { startStack, type Stack } from '../helpers/stack.js';
import { until } from '../helpers/wait.js';

const EXTRA_TOOLS = { MCP_FIXTURE_EXTRA_TOOLS: 'true' };


function textOf(result: Awaited<ReturnType<Client['callTool']>>): string {
  const [content] = result.content as { type: string; text: string }[];
  return content?.text ?? '';
}

interface Readyz {
  status: string;
  draining: boolean;
  checks: Record<string, string>;
  failing: string[];
}

async function readyz(stack: Stack): Promise<{ status: number; body: Readyz }> {
  const response = await fetch(`${stack.baseUrl}/readyz`);
  return { status: response.status, body: (await response.json()) as Readyz };
}

function postTools(stack: Stack, token: string): Promise<Response> {
  return listTools(stack.mcpUrl, token, { signal: AbortSignal.timeout(10_000) });
}

describe('MCP server supervision', function () {
  this.timeout(60_000);

  describe('a crash, with MCP_SERVER_RESTART=restart (the default)', () => {
    let stack: Stack;
    let auth: TestOAuthProvider;
    let client: Client;

    before(async () => {
      // A long enough first delay to look at the proxy while the MCP server is down.
      stack = await startStack({ mcpEnv: EXTRA_TOOLS, env: { MCP_SERVER_RESTART_DELAY_MS: '2000' } });
      auth = new TestOAuthProvider();
      client = await connectWithOAuth(stack.mcpUrl, auth);
    });
    after(async () => {
      await client?.close();
      await stack?.stop();
    });

    it('is ready while the MCP server runs', async () => {
      const { status, body } = await readyz(stack);
      assert.equal(status, 200);
      assert.deepEqual(body, {
        status: 'ready',
        draining: false,
        checks: { redis: 'ok', mcp_server: 'ready', identity_provider: 'loaded' },
        failing: [],
      });
    });

    it('cuts open streams, answers 503 at once while restarting, then serves the same client again', async () => {
      const token = auth.savedTokens!.access_token;
      const open = await fetch(`${stack.mcpUrl}/slow-sse?delayMs=30000`, {
        headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' },
        signal: AbortSignal.timeout(20_000),
      });
      assert.equal(open.status, 200);
      const cut = open.body!.getReader().read().then(
        (r) => (r.done ? 'ended' : 'data'),
        (err: Error) => err.name,
      );

      assert.equal(textOf(await client.callTool({ name: 'exit', arguments: {} })), 'exiting');
      await until(() => stack.proxy.mcpServer?.state === 'restarting', 'the crash to be noticed');
      // An unfinished stream must not look complete (ended) nor hang.
      assert.equal(await cut, 'TypeError');

      const start = performance.now();
      const response = await postTools(stack, token);
      assert.ok(performance.now() - start < 1000, 'the 503 came at once');
      assert.equal(response.status, 503);
      assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
      assert.ok(Number(response.headers.get('retry-after')) >= 1);
      assert.equal(((await response.json()) as { error: string }).error, 'temporarily_unavailable');

      const down = await readyz(stack);
      assert.equal(down.status, 503);
      assert.equal(down.body.checks.mcp_server, 'restarting');
      assert.deepEqual(down.body.failing, ['mcp_server']);
      const health = await fetch(`${stack.baseUrl}/healthz`);
      assert.equal(health.status, 200, 'the proxy itself is alive');

      await until(async () => (await readyz(stack)).status === 200, 'the MCP server to be back');
      assert.equal(textOf(await client.callTool({ name: 'echo', arguments: { text: 'back' } })), 'back');
      assert.ok(stack.logs.some((l) => l.includes('MCP server restarted and is accepting connections')));
    });
  });

  describe('a crash, with MCP_SERVER_RESTART=exit', () => {
    let stack: Stack;
    let client: Client;
    let auth: TestOAuthProvider;

    before(async () => {
      stack = await startStack({ mcpEnv: EXTRA_TOOLS, env: { MCP_SERVER_RESTART: 'exit' } });
      auth = new TestOAuthProvider();
      client = await connectWithOAuth(stack.mcpUrl, auth);
    });
    after(async () => {
      await client?.close();
      await stack?.stop();
    });

    it('reports that the proxy must exit, and answers 503 meanwhile', async () => {
      await client.callTool({ name: 'exit', arguments: {} });
      assert.equal(await stack.proxy.mcpServerFailed, 'the MCP server process exited with code 0 (MCP_SERVER_RESTART=exit)');
      const response = await postTools(stack, auth.savedTokens!.access_token);
      assert.equal(response.status, 503);
      await response.body?.cancel();
      const { status, body } = await readyz(stack);
      assert.equal(status, 503);
      assert.equal(body.checks.mcp_server, 'failed');
    });
  });

  describe('an MCP server the proxy does not run', () => {
    let stack: Stack;
    let auth: TestOAuthProvider;

    before(async () => {
      // Nothing listens at MCP_SERVER_URL.
      const port = await freePort();
      stack = await startStack({ env: { MCP_SERVER_RUN_COMMAND: '', MCP_SERVER_URL: `http://127.0.0.1:${port}/mcp` } });
      auth = new TestOAuthProvider();
      // Signing in works; only the MCP handshake at the end fails.
      await connectWithOAuth(stack.mcpUrl, auth).then(
        () => assert.fail('connected to an MCP server that is not there'),
        () => undefined,
      );
    });
    after(async () => stack?.stop());

    it('answers 502 JSON without hanging when it is down, and is not part of readiness', async () => {
      assert.ok(auth.savedTokens?.access_token, 'signed in');
      const start = performance.now();
      const response = await postTools(stack, auth.savedTokens.access_token);
      assert.equal(response.status, 502);
      assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
      const body = (await response.json()) as { error: string; error_description: string };
      assert.equal(body.error, 'bad_gateway');
      assert.equal(typeof body.error_description, 'string');
      assert.ok(performance.now() - start < 5000);

      const { status, body: ready } = await readyz(stack);
      assert.equal(status, 200);
      assert.equal(ready.checks.mcp_server, 'not_managed');
      assert.equal(stack.proxy.mcpServer, undefined);
    });
  });
});
