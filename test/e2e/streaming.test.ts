// The /mcp proxy on real parts, as a transport: sessions and the GET SSE stream, streamed
// progress, large bodies and the body cap, SSE header flushing, gzip, header forwarding,
// pass-through of the MCP server's own errors and client aborts. (A dead MCP server: supervision.test.ts.)
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { LoggingMessageNotificationSchema, type LoggingMessageNotification } from '@modelcontextprotocol/sdk/types.js';
import { connectWithOAuth, TestOAuthProvider, whoami } from '../helpers/mcp-client.js';
import { startStack, type Stack } from '../helpers/stack.js';

const EXTRA_TOOLS = { MCP_FIXTURE_EXTRA_TOOLS: 'true' };
const MCP_ACCEPT = 'application/json, text/event-stream';

interface Connected {
  stack: Stack;
  auth: TestOAuthProvider;
  client: Client;
  transport: StreamableHTTPClientTransport;
}

async function connect(stack: Stack): Promise<Connected> {
  const auth = new TestOAuthProvider();
  const client = await connectWithOAuth(stack.mcpUrl, auth);
  return { stack, auth, client, transport: client.transport as StreamableHTTPClientTransport };
}

function bearer(c: Connected): string {
  const token = c.auth.savedTokens?.access_token;
  assert.ok(token, 'the OAuth flow saved an access token');
  return `Bearer ${token}`;
}

function textOf(result: Awaited<ReturnType<Client['callTool']>>): string {
  const [content] = result.content as { type: string; text: string }[];
  assert.equal(content?.type, 'text');
  return content.text;
}

/** A raw JSON-RPC POST to /mcp. */
function postMcp(c: Connected, body: string | ReadableStream<Uint8Array>, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(c.stack.mcpUrl, {
    method: 'POST',
    headers: { authorization: bearer(c), 'content-type': 'application/json', accept: MCP_ACCEPT, ...headers },
    body,
    ...(typeof body === 'string' ? {} : { duplex: 'half' }),
    signal: AbortSignal.timeout(10_000),
  } as RequestInit);
}

/** Rejects with a clear message if the promise does not settle in time (a deadline, not a sleep). */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** Polls check() every 25 ms until it returns a value, at most ~5 s. */
async function pollUntil<T>(check: () => Promise<T | undefined>, what: string, attempts = 200): Promise<T> {
  for (let i = 0; i < attempts; i++) {
    const value = await check();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`${what}: not reached after ${attempts} polls`);
}

describe('the /mcp proxy as a streaming transport', function () {
  this.timeout(60_000);

  describe('stateful MCP server (sessions, GET SSE stream, DELETE)', () => {
    let c: Connected;
    let stack: Stack;

    before(async () => {
      stack = await startStack({
        mcpEnv: { MCP_FIXTURE_STATEFUL: 'true', ...EXTRA_TOOLS },
        env: { MCP_AUTH_PROXY_MAX_BODY_BYTES: '1000000' },
      });
      c = await connect(stack);
    });
    after(async () => {
      await c?.client.close();
      await stack?.stop();
    });

    let sessionId: string;

    it('initialize gives a session id, and tools/call in the session works', async () => {
      assert.ok(c.transport.sessionId, 'the MCP server assigned a session id through the proxy');
      sessionId = c.transport.sessionId;
      const echoed = await c.client.callTool({ name: 'echo', arguments: { text: 'in the session' } });
      assert.equal(textOf(echoed), 'in the session');
      const seen = await whoami(c.client);
      assert.equal(seen.headers['mcp-session-id'], sessionId);
    });

    it('delivers a server notification on the GET SSE stream', async () => {
      const received = new Promise<LoggingMessageNotification['params']>((resolve) => {
        c.client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => resolve(n.params));
      });
      const result = await c.client.callTool({ name: 'notify', arguments: { text: 'pushed on the GET stream' } });
      assert.equal(result.isError, undefined, textOf(result));
      assert.equal(textOf(result), 'sent on the GET stream');
      const params = await within(received, 5000, 'notifications/message on the GET stream');
      assert.equal(params.data, 'pushed on the GET stream');
      assert.equal(params.logger, 'mcp-fixture');
    });

    it('terminateSession (DELETE) ends the session; the MCP server\'s 404 for it passes through unchanged', async () => {
      await c.transport.terminateSession();
      assert.equal(c.transport.sessionId, undefined);
      const gone = await postMcp(c, JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/list', params: {} }), {
        'mcp-session-id': sessionId,
        'mcp-protocol-version': c.transport.protocolVersion ?? '2025-06-18',
      });
      assert.equal(gone.status, 404);
      assert.equal(gone.headers.get('www-authenticate'), null);
      assert.match(gone.headers.get('content-type') ?? '', /^application\/json/);
      assert.deepEqual(await gone.json(), { jsonrpc: '2.0', error: { code: -32001, message: 'Session not found' }, id: null });
    });

    describe('request body over the proxy cap (MCP_AUTH_PROXY_MAX_BODY_BYTES=1000000)', () => {
      const TWO_MB = 2 * 1024 * 1024;

      function assertPayloadTooLarge(response: Response, body: unknown): void {
        assert.equal(response.status, 413);
        assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
        assert.deepEqual(body, { error: 'payload_too_large', error_description: 'Request bodies are limited to 1000000 bytes' });
      }

      it('413 JSON for a 2 MB body with Content-Length', async () => {
        const response = await postMcp(c, 'x'.repeat(TWO_MB));
        assertPayloadTooLarge(response, await response.json());
      });

      it('413 JSON for a 2 MB chunked body (no Content-Length)', async () => {
        const chunk = new Uint8Array(64 * 1024).fill(0x78);
        let sent = 0;
        const stream = new ReadableStream<Uint8Array>({
          pull(controller) {
            if (sent >= TWO_MB) return controller.close();
            sent += chunk.length;
            controller.enqueue(chunk);
          },
        });
        const response = await postMcp(c, stream);
        assertPayloadTooLarge(response, await response.json());
      });
    });
  });

  describe('stateless MCP server and plain HTTP sub-paths', () => {
    let c: Connected;
    let stack: Stack;

    before(async () => {
      stack = await startStack({ mcpEnv: EXTRA_TOOLS });
      c = await connect(stack);
    });
    after(async () => {
      await c?.client.close();
      await stack?.stop();
    });

    function get(path: string, init: RequestInit = {}): Promise<Response> {
      return fetch(`${stack.mcpUrl}${path}`, {
        ...init,
        headers: { authorization: bearer(c), ...(init.headers as Record<string, string> | undefined) },
        signal: init.signal ?? AbortSignal.timeout(10_000),
      });
    }

    it('tools/call works and there is no session id', async () => {
      assert.equal(c.transport.sessionId, undefined);
      const echoed = await c.client.callTool({ name: 'echo', arguments: { text: 'stateless' } });
      assert.equal(textOf(echoed), 'stateless');
    });

    it('streams progress notifications as they are sent, not buffered', async () => {
      const times: number[] = [];
      const steps: number[] = [];
      const result = await c.client.callTool({ name: 'progress', arguments: { steps: 5, intervalMs: 200 } }, undefined, {
        onprogress: (p) => {
          times.push(performance.now());
          steps.push(p.progress);
        },
      });
      assert.equal(textOf(result), 'done 5');
      assert.deepEqual(steps, [1, 2, 3, 4, 5]);
      const spread = times[times.length - 1]! - times[0]!;
      assert.ok(spread >= 600, `progress arrived within ${spread.toFixed(0)} ms: buffered, not streamed`);
    });

    it('echoes a 5 MB string intact', async () => {
      const text = randomBytes(4 * 1024 * 1024).toString('base64').slice(0, 5 * 1024 * 1024);
      assert.equal(text.length, 5 * 1024 * 1024);
      const echoed = textOf(await c.client.callTool({ name: 'echo', arguments: { text } }));
      assert.equal(echoed.length, text.length);
      const hash = (s: string) => createHash('sha256').update(s).digest('hex');
      assert.equal(hash(echoed), hash(text));
    });

    it('flushes SSE response headers at once (sub-path) and sets X-Accel-Buffering: no', async () => {
      const start = performance.now();
      const response = await get('/slow-sse?delayMs=1000', { headers: { accept: 'text/event-stream' } });
      const headersAt = performance.now() - start;
      assert.equal(response.status, 200);
      assert.match(response.headers.get('content-type') ?? '', /^text\/event-stream/);
      assert.equal(response.headers.get('x-accel-buffering'), 'no');
      const reader = response.body!.getReader();
      const first = await reader.read();
      const eventAt = performance.now() - start;
      let body = Buffer.from(first.value ?? []).toString();
      for (let r = await reader.read(); !r.done; r = await reader.read()) body += Buffer.from(r.value).toString();
      assert.ok(headersAt < 500, `response headers took ${headersAt.toFixed(0)} ms`);
      assert.ok(eventAt >= 900, `the event came after ${eventAt.toFixed(0)} ms, before the MCP server sent it`);
      assert.equal(body, 'event: done\ndata: {"delayMs":1000}\n\n');
    });

    it('passes a gzip body through with Content-Encoding: gzip, which fetch decodes', async () => {
      const response = await get('/gzip', { headers: { 'accept-encoding': 'gzip' } });
      assert.equal(response.status, 200);
      assert.equal(response.headers.get('content-encoding'), 'gzip');
      assert.deepEqual(await response.json(), { compressed: true, text: 'squeeze me '.repeat(200) });
    });

    it('forwards MCP and caching headers, overrides identity headers, drops cookies, swaps the token', async () => {
      const sent = {
        'mcp-method': 'tools/call',
        'mcp-name': 'echo',
        'mcp-param-foo': 'bar baz',
        'mcp-protocol-version': '2025-06-18',
        'last-event-id': 'event-42',
        'cache-control': 'no-cache',
      };
      const response = await get('/headers', {
        headers: { ...sent, 'x-dynamic-client-id': 'evil', 'x-authorization-scope': 'evil', cookie: 'a=b' },
      });
      assert.equal(response.status, 200);
      const seen = (await response.json()) as Record<string, string>;
      for (const [name, value] of Object.entries(sent)) assert.equal(seen[name], value, name);
      assert.equal(seen['x-dynamic-client-id'], c.auth.client?.client_id);
      assert.notEqual(seen['x-authorization-scope'], 'evil');
      assert.equal(seen['x-authorization-scope'], (await whoami(c.client)).headers['x-authorization-scope']);
      assert.equal(seen.cookie, undefined);
      const upstreamToken = seen.authorization?.replace(/^Bearer /, '') ?? '';
      assert.ok(upstreamToken);
      assert.notEqual(`Bearer ${upstreamToken}`, bearer(c));
      assert.equal(await stack.idp.isAccessTokenValid(upstreamToken), true);
    });

    it('passes the MCP server\'s own 403 and WWW-Authenticate through', async () => {
      const response = await get('/forbidden');
      assert.equal(response.status, 403);
      assert.equal(response.headers.get('www-authenticate'), 'Bearer error="insufficient_scope", scope="admin"');
      assert.deepEqual(await response.json(), { error: 'insufficient_scope', error_description: 'admin scope required' });
    });

    it('still requires the bearer token on sub-paths', async () => {
      const response = await fetch(`${stack.mcpUrl}/headers`, { signal: AbortSignal.timeout(10_000) });
      assert.equal(response.status, 401);
      assert.match(response.headers.get('www-authenticate') ?? '', /^Bearer /);
      await response.body?.cancel();
    });

    describe('client aborts', () => {
      interface HangStatus {
        opened: number;
        open: number;
        closed: number;
      }
      const status = async (): Promise<HangStatus> => {
        const response = await get('/hang-status');
        assert.equal(response.status, 200);
        return (await response.json()) as HangStatus;
      };
      let logsBefore = 0;
      beforeEach(() => {
        logsBefore = stack.logs.length;
      });

      /** Aborts GET /mcp/hang once the MCP server holds it; resolves once the MCP server saw it closed. */
      async function abortHang(query: string, abortAfterHeaders: boolean): Promise<void> {
        const base = await status();
        const abort = new AbortController();
        const pending = get(`/hang${query}`, { signal: abort.signal });
        const settled = pending.then(
          async (response) => {
            assert.equal(response.status, 200);
            const read = response.body!.getReader().read();
            return read.then(
              () => 'read',
              (err: Error) => err.name,
            );
          },
          (err: Error) => err.name,
        );
        if (abortAfterHeaders) await pending;
        await pollUntil(async () => ((await status()).opened > base.opened ? true : undefined), 'the MCP server saw /mcp/hang');
        abort.abort();
        assert.equal(await settled, 'AbortError');
        const after = await pollUntil(async () => {
          const s = await status();
          return s.closed > base.closed ? s : undefined;
        }, 'the MCP server saw /mcp/hang closed');
        assert.equal(after.open, base.open);
        await pollUntil(async () => (stack.logs.slice(logsBefore).some((l) => l.includes('hang closed')) ? true : undefined), 'the "hang closed" line in the logs');
      }

      it('an abort before the response closes the upstream request', async () => {
        await abortHang('', false);
      });

      it('an abort of an open SSE response closes the upstream request', async () => {
        await abortHang('?headers=1', true);
      });

      it('an abort before the response is not logged as a proxy error', async () => {
        await abortHang('', false);
        const errors = stack.logs.slice(logsBefore).filter((l) => l.includes('MCP proxy error'));
        assert.deepEqual(errors, [], 'a client that went away is not an error of the proxy');
      });
    });
  });
});
