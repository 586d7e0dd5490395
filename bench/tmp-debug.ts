import { createRequire } from 'node:module';
import autocannon from 'autocannon';
import { connectWithOAuth, TestOAuthProvider } from '../test/helpers/mcp-client.js';
import { startStack } from '../test/helpers/stack.js';
const EVERYTHING = createRequire(import.meta.url).resolve('@modelcontextprotocol/server-everything/dist/index.js');
const stack = await startStack({ env: { MCP_SERVER_TRANSPORT: 'stdio', MCP_SERVER_RUN_COMMAND: process.execPath, MCP_SERVER_RUN_ARGS_JSON: JSON.stringify([EVERYTHING, 'stdio']) } });
try {
  const auth = new TestOAuthProvider();
  const c = await connectWithOAuth(stack.mcpUrl, auth);
  await c.close();
  const token = auth.savedTokens!.access_token;
  const h: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2025-06-18', authorization: `Bearer ${token}` };
  const init = await fetch(stack.mcpUrl, { method: 'POST', headers: h, body: JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'x', version: '1' } } }) });
  console.log(init.status, await init.text());
  h['mcp-session-id'] = init.headers.get('mcp-session-id')!;
  console.log((await fetch(stack.mcpUrl, { method: 'POST', headers: h, body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) })).status);
  for (const id of ['"[<id>]"', '"abc-0"', '7']) {
    const body = `{"jsonrpc":"2.0","id":${id},"method":"tools/call","params":{"name":"echo","arguments":{"message":"hello"}}}`;
    const r = await fetch(stack.mcpUrl, { method: 'POST', headers: h, body });
    console.log(id, r.status, (await r.text()).slice(0, 200));
  }
  const { runLoad } = await import('./load.js');
  const lr = await runLoad({ name: 'stdio', url: stack.mcpUrl, headers: h, body: '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"message":"hello"}}}', uniqueIds: true }, 8, 2, 'x');
  console.log('runLoad', lr.ok, lr.result.non2xx, lr.result.timeouts, lr.result.errors);
  const res = await autocannon({ url: stack.mcpUrl, method: 'POST', headers: h, body: `{"jsonrpc":"2.0","id":"[<id>]","method":"tools/call","params":{"name":"echo","arguments":{"message":"hello"}}}`, idReplacement: true, connections: 1, amount: 3, timeout: 3 });
  console.log('autocannon', res.requests.total, res['2xx'], res.timeouts, res.errors);
  const res2 = await autocannon({ url: stack.mcpUrl, method: 'POST', headers: h, body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"message":"hello"}}}`, connections: 1, amount: 3, timeout: 3 });
  console.log('autocannon fixed id', res2.requests.total, res2['2xx'], res2.timeouts, res2.errors);
} finally {
  await stack.stop();
}
