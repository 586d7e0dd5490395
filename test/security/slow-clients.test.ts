// Attacker: a client that sends its request body a byte at a time (or never finishes it), to
// hold connections open. Each class of endpoint bounds how long a body may take; only response
// streams may be long.
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { once } from 'node:events';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { connectWithOAuth, TestOAuthProvider } from '../helpers/mcp-client.js';
import { startStack, type Stack } from '../helpers/stack.js';

/** Sends the head and the first part of a body, never the rest; resolves with what the server answers and whether it closed. */
async function stalledRequest(url: string, method: string, headers: Record<string, string>, firstPart: string, declaredLength: number) {
  const { hostname, port, pathname } = new URL(url);
  const socket: Socket = connect({ host: hostname, port: Number(port) });
  await once(socket, 'connect');
  const head = [`${method} ${pathname} HTTP/1.1`, `Host: ${hostname}:${port}`, `Content-Length: ${declaredLength}`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`), '', ''].join('\r\n');
  socket.write(head + firstPart);
  let answer = '';
  socket.setEncoding('utf8').on('data', (chunk: string) => (answer += chunk));
  await once(socket, 'close');
  return answer;
}

describe('slow clients: request bodies are bounded in time', function () {
  this.timeout(60_000);
  let stack: Stack;
  let client: Client;
  let token: string;

  before(async () => {
    stack = await startStack({ env: { MCP_AUTH_PROXY_BODY_TIMEOUT_MS: '400', MCP_AUTH_PROXY_MCP_BODY_TIMEOUT_MS: '600' } });
    const auth = new TestOAuthProvider();
    client = await connectWithOAuth(stack.mcpUrl, auth);
    token = auth.savedTokens!.access_token;
  });
  after(async () => {
    await client?.close();
    await stack?.stop();
  });

  for (const path of ['/token', '/reg', '/token/revocation', '/device/auth']) {
    it(`${path}: a body that never finishes gets 408 and its connection closed`, async () => {
      const type = path === '/reg' ? 'application/json' : 'application/x-www-form-urlencoded';
      const answer = await stalledRequest(`${stack.baseUrl}${path}`, 'POST', { 'Content-Type': type }, path === '/reg' ? '{"redirect_uris":' : 'grant_type=', 4096);
      assert.match(answer, /^HTTP\/1\.1 408 /);
      assert.match(answer, /"error":"invalid_request"/);
      assert.match(answer, /[Cc]onnection: close/);
    });
  }

  it('/mcp: a body that never finishes gets 408, under its own bound', async () => {
    const answer = await stalledRequest(stack.mcpUrl, 'POST', { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' }, '{"jsonrpc":"2.0",', 4096);
    assert.match(answer, /^HTTP\/1\.1 408 /);
  });

  it('a response stream is not bounded: an event stream outlives the body bound', async () => {
    const response = await fetch(`${stack.mcpUrl}/slow-sse?delayMs=1500`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(response.status, 200);
    assert.match(await response.text(), /event: done/);
  });

  it('a whole tool call still works (bodies that arrive in time)', async () => {
    const { content } = await client.callTool({ name: 'echo', arguments: { text: 'in time' } });
    assert.deepEqual(content, [{ type: 'text', text: 'in time' }]);
  });
});
