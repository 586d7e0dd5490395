// link.ts with the MCP SDK's real Streamable HTTP server transport on a loopback server: what a
// stdio server says before the client has opened its GET stream is kept for that stream (the
// SDK's transport alone would drop it), and responses still go to their request.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { TransportLink } from '../../src/mcp/stdio/link.js';

const ACCEPT = 'application/json, text/event-stream';

/** Reads an SSE response until a data line matches, or fails at the deadline. */
async function readUntil(res: Response, pattern: RegExp, ms = 5000): Promise<string> {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  const deadline = setTimeout(() => void reader.cancel(), ms);
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
      if (pattern.test(text)) return text;
    }
  } finally {
    clearTimeout(deadline);
    await reader.cancel().catch(() => {});
  }
  assert.fail(`no ${pattern} on the stream within ${ms} ms; it carried: ${JSON.stringify(text)}`);
}

describe('stdio session link (the SDK transport facing the client)', function () {
  this.timeout(20_000);
  let server: Server;
  let url: string;
  let transport: StreamableHTTPServerTransport;
  let link: TransportLink;
  let gone: string | undefined;

  before(async () => {
    transport = new StreamableHTTPServerTransport({ sessionIdGenerator: () => 'session-1' });
    link = new TransportLink(transport, (reason) => (gone = reason));
    // Stands for the process: it answers initialize.
    transport.onmessage = (message) => {
      const m = message as { id?: number; method?: string };
      if (m.method === 'initialize') {
        link.deliver({ jsonrpc: '2.0', id: m.id!, result: { protocolVersion: '2025-11-25', capabilities: {}, serverInfo: { name: 's', version: '1' } } } as JSONRPCMessage);
      }
    };
    server = createServer((req, res) => {
      if (req.method === 'GET') link.watchStream(res);
      void transport.handleRequest(req, res);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`;
  });
  after(async () => {
    await transport.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('keeps what comes before the GET stream opens, and sends it when it does', async () => {
    const init = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: ACCEPT },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'c', version: '1' } } }),
    });
    assert.equal(init.headers.get('mcp-session-id'), 'session-1');
    await readUntil(init, /"id":1/);

    // The server speaks first: a request of its own, then a log line; no GET stream is open.
    link.deliver({ jsonrpc: '2.0', id: 'srv-1', method: 'roots/list' } as JSONRPCMessage);
    link.deliver({ jsonrpc: '2.0', method: 'notifications/message', params: { level: 'info', data: 'early' } } as JSONRPCMessage);

    const stream = await fetch(url, { headers: { accept: 'text/event-stream', 'mcp-session-id': 'session-1', 'mcp-protocol-version': '2025-11-25' } });
    assert.equal(stream.status, 200);
    const text = await readUntil(stream, /early/);
    assert.ok(text.indexOf('roots/list') < text.indexOf('early'), 'in the order the server said them');
  });

  it('tells the session\'s owner when the process is gone', () => {
    link.gone('The MCP server process exited with code 1');
    assert.equal(gone, 'The MCP server process exited with code 1');
  });
});
