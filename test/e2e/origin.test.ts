// MCP Origin validation (DNS rebinding) and CORS for browser clients at /mcp.
import assert from 'node:assert/strict';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { connectWithOAuth, TestOAuthProvider } from '../helpers/mcp-client.js';
import { startStack, type Stack } from '../helpers/stack.js';

describe('Origin validation and CORS at /mcp', function () {
  this.timeout(60_000);
  let stack: Stack;
  let client: Client;
  let token: string;

  before(async () => {
    // The MCP server sends CORS headers of its own, as servers built on Express with cors() do.
    stack = await startStack({ env: { MCP_AUTH_PROXY_ALLOWED_ORIGINS: 'https://inspector.example.com' }, mcpEnv: { MCP_FIXTURE_CORS: 'true' } });
    const auth = new TestOAuthProvider();
    client = await connectWithOAuth(stack.mcpUrl, auth);
    token = auth.savedTokens!.access_token;
  });
  after(async () => {
    await client?.close();
    await stack?.stop();
  });

  const post = (origin?: string) =>
    fetch(stack.mcpUrl, { method: 'POST', headers: { 'content-type': 'application/json', ...(origin ? { origin } : {}) }, body: '{}' });

  it('refuses a foreign Origin with 403 before anything else', async () => {
    const response = await post('https://evil.example.com');
    assert.equal(response.status, 403);
    assert.equal(((await response.json()) as { error: string }).error, 'forbidden_origin');
    assert.equal(response.headers.get('access-control-allow-origin'), null);
  });

  it('lets native clients (no Origin) through to the bearer check', async () => {
    const response = await post();
    assert.equal(response.status, 401);
    assert.equal(response.headers.get('access-control-allow-origin'), null);
  });

  for (const origin of ['http://localhost:6274', 'http://127.0.0.1:6274', 'https://inspector.example.com']) {
    it(`allows ${origin} with CORS that exposes the MCP headers`, async () => {
      const response = await post(origin);
      assert.equal(response.status, 401);
      assert.equal(response.headers.get('access-control-allow-origin'), origin);
      assert.match(response.headers.get('access-control-expose-headers')!, /WWW-Authenticate/);
      assert.match(response.headers.get('access-control-expose-headers')!, /Mcp-Session-Id/);
      assert.equal(response.headers.get('access-control-allow-credentials'), null);
    });
  }

  it('allows the proxy\'s own origin', async () => {
    assert.equal((await post(stack.baseUrl)).headers.get('access-control-allow-origin'), stack.baseUrl);
  });

  it("keeps the proxy's CORS on proxied responses: the MCP server's own CORS headers and X-Powered-By do not pass", async () => {
    const origin = 'http://localhost:6274';
    const response = await fetch(stack.mcpUrl, {
      method: 'POST',
      headers: { origin, authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'cors', version: '1' } } }),
    });
    await response.body?.cancel();
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('access-control-allow-origin'), origin, 'not the server\'s "*"');
    assert.equal(response.headers.get('access-control-expose-headers'), 'WWW-Authenticate, Mcp-Session-Id, Mcp-Protocol-Version');
    assert.equal(response.headers.get('x-powered-by'), null);
    assert.deepEqual(response.headers.get('vary')?.split(', ').sort(), ['Accept-Encoding', 'Origin']);
    assert.match(response.headers.get('content-type') ?? '', /^(text\/event-stream|application\/json)/, "the server's other headers still pass");
  });

  for (const path of ['/.well-known/oauth-protected-resource', '/.well-known/oauth-protected-resource/mcp']) {
    it(`answers the CORS preflight of the protected resource metadata (${path}) for any header a client adds`, async () => {
      const preflight = await fetch(`${stack.baseUrl}${path}`, {
        method: 'OPTIONS',
        headers: { origin: 'https://claude.ai', 'access-control-request-method': 'GET', 'access-control-request-headers': 'mcp-protocol-version' },
      });
      assert.equal(preflight.status, 204);
      assert.equal(preflight.headers.get('access-control-allow-origin'), '*');
      assert.match(preflight.headers.get('access-control-allow-methods')!, /GET/);
      assert.equal(preflight.headers.get('access-control-allow-headers'), 'mcp-protocol-version');
      const document = await fetch(`${stack.baseUrl}${path}`, { headers: { origin: 'https://claude.ai', 'mcp-protocol-version': '2025-06-18' } });
      assert.equal(document.status, 200);
      assert.equal(document.headers.get('access-control-allow-origin'), '*');
    });
  }

  it('answers a preflight without a token', async () => {
    const response = await fetch(stack.mcpUrl, {
      method: 'OPTIONS',
      headers: {
        origin: 'http://localhost:6274',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization, content-type, mcp-protocol-version',
      },
    });
    assert.equal(response.status, 204);
    assert.equal(response.headers.get('access-control-allow-origin'), 'http://localhost:6274');
    assert.match(response.headers.get('access-control-allow-methods')!, /POST/);
    assert.equal(response.headers.get('access-control-allow-headers'), 'authorization, content-type, mcp-protocol-version');
  });
});
