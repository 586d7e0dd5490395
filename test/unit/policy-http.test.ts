// policy-http.ts: the MCP server's answers rewritten on the way to the client, over real loopback
// HTTP (an "MCP server" that answers as scripted, and the proxy side's plan): SSE events split
// across chunks, CRLF, comments and other fields kept; the oversized JSON answer refused rather
// than shown unfiltered; what needs no rewriting passed through as it is.
import assert from 'node:assert/strict';
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PolicyGate } from '../../src/mcp/policy-gate.js';
import { MAX_REWRITTEN_BYTES, planFor, SseRewriter } from '../../src/mcp/policy-http.js';
import type { PolicySubject } from '../../src/policy/decide.js';
import { readPolicy } from '../../src/policy/policy.js';

const gate = new PolicyGate(readPolicy('{"rules":[{"effect":"deny","tools":["secret*"]}]}'));
const subject: PolicySubject = { userId: 'u', email: undefined, groups: [], clientId: 'c' };
const LIST = Buffer.from(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }));
const TOOLS = { jsonrpc: '2.0', id: 1, result: { tools: [{ name: 'echo' }, { name: 'secret_sauce' }] } };

/** Serves `answer` as the "MCP server", and the plan's respond() as the proxy; returns what a client got. */
async function through(answer: (res: ServerResponse) => void, body = LIST): Promise<{ status: number; headers: IncomingMessage['headers']; text: string }> {
  const plan = planFor(gate, subject, body, undefined);
  assert.equal(plan.kind, 'rewrite');
  const upstream = createServer((_req, res) => answer(res));
  const proxy = createServer((_req, res) => {
    const { port } = upstream.address() as AddressInfo;
    request({ host: '127.0.0.1', port, method: 'POST' }, (upstreamRes) => plan.respond(upstreamRes, res)).end();
  });
  await listen(upstream);
  await listen(proxy);
  try {
    const res = await fetch(`http://127.0.0.1:${(proxy.address() as AddressInfo).port}/`, { method: 'POST' });
    return { status: res.status, headers: Object.fromEntries(res.headers) as IncomingMessage['headers'], text: await res.text() };
  } finally {
    upstream.close();
    proxy.close();
  }
}

const listen = (server: Server) => new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));

describe('policy on HTTP answers', () => {
  it('filters a list in an SSE stream whose event arrives in pieces, keeping its id and other events', async () => {
    const event = `id: 7\r\nevent: message\r\ndata: ${JSON.stringify(TOOLS)}\r\n\r\n`;
    const listChanged = 'event: message\ndata: {"jsonrpc":"2.0","method":"notifications/tools/list_changed"}\n\n';
    const { status, headers, text } = await through((res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'mcp-session-id': 's1' });
      res.write(': keep-alive comment\n\n');
      res.write(listChanged);
      res.write(event.slice(0, 30));
      setImmediate(() => res.end(event.slice(30)));
    });
    assert.equal(status, 200);
    assert.equal(headers['mcp-session-id'], 's1');
    assert.ok(text.startsWith(`: keep-alive comment\n\n${listChanged}`), 'list_changed flows as it is');
    assert.match(text, /id: 7\nevent: message\ndata: \{"jsonrpc":"2.0","id":1,"result":\{"tools":\[\{"name":"echo"\}\]\}\}\n\n$/);
  });

  it('filters a plain JSON answer and sets its new length', async () => {
    const { status, headers, text } = await through((res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(TOOLS));
    });
    assert.equal(status, 200);
    assert.deepEqual(JSON.parse(text), { jsonrpc: '2.0', id: 1, result: { tools: [{ name: 'echo' }] } });
    assert.equal(Number(headers['content-length']), Buffer.byteLength(text));
  });

  it('refuses a JSON answer too large to filter, rather than passing it unfiltered', async () => {
    const { status, text } = await through((res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(Buffer.alloc(MAX_REWRITTEN_BYTES + 1, 32));
    });
    assert.equal(status, 502);
    assert.ok(!text.includes('secret_sauce'));
    assert.match(text, /The MCP server answered more than the proxy filters/);
  });

  it('passes an error status through as it is', async () => {
    const { status, text } = await through((res) => {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end('{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"bad"}}');
    });
    assert.equal(status, 400);
    assert.match(text, /"bad"/);
  });

  it('plans: not JSON or nothing to decide is forwarded as it is; all denied is answered here', () => {
    assert.equal(planFor(gate, subject, Buffer.from('not json'), undefined).kind, 'forward');
    assert.equal(planFor(gate, subject, Buffer.from('{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo"}}'), undefined).kind, 'forward');
    const denied = planFor(gate, subject, Buffer.from('{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"secret_x"}}'), undefined);
    assert.equal(denied.kind, 'answer');
  });

  it('SseRewriter leaves events that are not JSON-RPC answers untouched', async () => {
    const rewriter = new SseRewriter((m) => m);
    const out: string[] = [];
    rewriter.on('data', (chunk: Buffer) => out.push(String(chunk)));
    rewriter.end('retry: 1000\n\ndata: not json\n\n');
    await new Promise((resolve) => rewriter.on('end', resolve));
    assert.equal(out.join(''), 'retry: 1000\n\ndata: not json\n\n');
  });
});
