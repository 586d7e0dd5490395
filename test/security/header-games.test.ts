// Attacker: headers and paths chosen to mislead. Proxy headers a client makes up never reach
// the MCP server as if the proxy vouched for them; paths below /mcp cannot climb out of it.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { connectWithOAuth, TestOAuthProvider } from '../helpers/mcp-client.js';
import { startStack, type Stack } from '../helpers/stack.js';

/** A request with its path exactly as given (fetch would resolve dot segments first). */
function rawGet(url: string, path: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ host: hostname, port, path, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('header and path games against /mcp', function () {
  this.timeout(60_000);
  let stack: Stack;
  let client: Client;
  let token: string;

  before(async () => {
    stack = await startStack();
    const auth = new TestOAuthProvider();
    client = await connectWithOAuth(stack.mcpUrl, auth);
    token = auth.savedTokens!.access_token;
  });
  after(async () => {
    await client?.close();
    await stack?.stop();
  });

  it('never forwards X-Forwarded-*, Forwarded or X-Real-IP as the client sent them; says what the proxy knows', async () => {
    const response = await fetch(`${stack.mcpUrl}/headers`, {
      headers: {
        authorization: `Bearer ${token}`,
        'x-forwarded-for': '6.6.6.6',
        'x-forwarded-host': 'evil.example',
        'x-forwarded-proto': 'gopher',
        'x-forwarded-port': '1',
        forwarded: 'for=6.6.6.6;host=evil.example;proto=http',
        'x-real-ip': '6.6.6.6',
      },
    });
    assert.equal(response.status, 200);
    const seen = (await response.json()) as Record<string, string>;
    assert.equal(seen['x-forwarded-for'], '127.0.0.1', 'the address the proxy saw');
    assert.equal(seen['x-forwarded-host'], new URL(stack.baseUrl).host);
    assert.equal(seen['x-forwarded-proto'], 'http');
    for (const name of ['forwarded', 'x-real-ip', 'x-forwarded-port']) assert.equal(seen[name], undefined, name);
    assert.ok(!JSON.stringify(seen).includes('6.6.6.6') && !JSON.stringify(seen).includes('evil.example'));
  });

  for (const path of ['/mcp/../admin', '/mcp/%2e%2e/admin', '/mcp/.%2E/admin', '/mcp/./headers', '/mcp/a%2f..%2fb', '/mcp/%zz']) {
    it(`refuses ${path} before it reaches the MCP server`, async () => {
      const { status, body } = await rawGet(stack.mcpUrl, path, { authorization: `Bearer ${token}` });
      assert.equal(status, 400, body);
      assert.equal((JSON.parse(body) as { error: string }).error, 'invalid_request');
    });
  }
});
