// Abuse limits on the real stack: a registration quota, separate budgets per endpoint class, and
// a per-user /mcp limit shared through Redis; honest 429s with Retry-After.
import assert from 'node:assert/strict';
import { connectWithOAuth, TestOAuthProvider } from '../helpers/mcp-client.js';
import { startStack, type Stack } from '../helpers/stack.js';

describe('abuse limits', function () {
  this.timeout(60_000);
  let stack: Stack;

  before(async () => {
    stack = await startStack({
      env: { MCP_AUTH_PROXY_REGISTRATION_MAX: '3', MAX_REQUESTS: '40', MCP_AUTH_PROXY_MCP_MAX_REQUESTS: '15' },
    });
  });
  after(async () => stack?.stop());

  const register = () =>
    fetch(`${stack.baseUrl}/reg`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ redirect_uris: ['http://127.0.0.1:5001/cb'], token_endpoint_auth_method: 'none' }),
    });

  it('limits /mcp per user, with a 429 and Retry-After', async () => {
    const auth = new TestOAuthProvider();
    const client = await connectWithOAuth(stack.mcpUrl, auth); // registers once, spends a few /mcp requests
    await client.close();
    const statuses: number[] = [];
    for (let i = 0; i < 20; i++) {
      const response = await fetch(stack.mcpUrl, {
        method: 'POST',
        headers: { authorization: `Bearer ${auth.savedTokens!.access_token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        body: JSON.stringify({ jsonrpc: '2.0', id: i, method: 'tools/list', params: {} }),
      });
      statuses.push(response.status);
      if (response.status === 429) {
        assert.ok(Number(response.headers.get('retry-after')) >= 1);
        assert.equal(((await response.json()) as { error: string }).error, 'too_many_requests');
        break;
      }
    }
    assert.equal(statuses.at(-1), 429);
    assert.ok(statuses.slice(0, -1).every((s) => s === 200));
  });

  it('gives registration a quota of its own', async () => {
    // One registration was spent by the SDK client above.
    assert.deepEqual([(await register()).status, (await register()).status, (await register()).status], [201, 201, 429]);
  });

  it('keeps the token endpoint\'s budget apart from the authorization endpoint\'s', async () => {
    for (let i = 0; i < 45; i++) await fetch(`${stack.baseUrl}/auth?client_id=x`, { redirect: 'manual' });
    assert.equal((await fetch(`${stack.baseUrl}/auth?client_id=x`, { redirect: 'manual' })).status, 429);
    const token = await fetch(`${stack.baseUrl}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=x' });
    assert.notEqual(token.status, 429);
  });
});

describe('client addresses behind the router (trust proxy: one hop)', function () {
  this.timeout(60_000);
  let stack: Stack;

  before(async () => {
    stack = await startStack({ https: true, env: { MAX_REQUESTS: '5' } });
  });
  after(async () => stack?.stop());

  /** A request as Heroku's router forwards it: the client's own X-Forwarded-For, then the address the router saw. */
  const viaRouter = (claimed: string, seenByRouter: string) =>
    fetch(`${stack.hop!.listenOrigin}/auth?client_id=x`, {
      redirect: 'manual',
      headers: { 'x-forwarded-proto': 'https', 'x-forwarded-for': `${claimed}, ${seenByRouter}` },
    });

  it('counts the address the router saw, whatever the client claims in X-Forwarded-For', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) statuses.push((await viaRouter(`10.0.0.${i}`, '203.0.113.7')).status);
    assert.deepEqual(statuses.slice(5), [429, 429], `spoofed entries did not buy a new budget: ${statuses}`);
    assert.notEqual((await viaRouter('10.0.0.1', '203.0.113.8')).status, 429, 'another client has its own budget');
  });
});
