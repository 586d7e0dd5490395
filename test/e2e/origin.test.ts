// MCP Origin validation (DNS rebinding) and CORS for browser clients at /mcp.
import assert from 'node:assert/strict';
import { startStack, type Stack } from '../helpers/stack.js';

describe('Origin validation and CORS at /mcp', function () {
  this.timeout(60_000);
  let stack: Stack;

  before(async () => {
    stack = await startStack({ env: { MCP_AUTH_PROXY_ALLOWED_ORIGINS: 'https://inspector.example.com' } });
  });
  after(async () => stack?.stop());

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
