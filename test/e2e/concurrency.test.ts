// MCP_AUTH_PROXY_MCP_MAX_CONCURRENT across two instances on one Redis: a user's requests in flight
// on one instance count on the other; 429 with Retry-After and a JSON-RPC error over the cap;
// GET event streams have a budget of their own; a finished request gives its place back.
import assert from 'node:assert/strict';
import { connectWithOAuth, listTools, TestOAuthProvider } from '../helpers/mcp-client.js';
import { privateJwks } from '../helpers/keys.js';
import { startStack, type Stack } from '../helpers/stack.js';
import { until } from '../helpers/wait.js';

describe('per-user concurrency cap across instances (MCP_AUTH_PROXY_MCP_MAX_CONCURRENT)', function () {
  this.timeout(60_000);
  let a: Stack;
  let b: Stack;
  let token: string;

  before(async () => {
    const jwks = privateJwks();
    const mcpEnv = { MCP_FIXTURE_EXTRA_TOOLS: 'true' };
    a = await startStack({ env: { OIDC_PROVIDER_JWKS: jwks, MCP_AUTH_PROXY_MCP_MAX_CONCURRENT: '1' }, mcpEnv });
    b = await startStack({ env: { OIDC_PROVIDER_JWKS: jwks, BASE_URL: a.baseUrl, MCP_AUTH_PROXY_MCP_MAX_CONCURRENT: '1' }, redis: a.redis, idp: a.idp, mcpEnv });
    const auth = new TestOAuthProvider();
    await (await connectWithOAuth(a.mcpUrl, auth)).close();
    token = auth.savedTokens!.access_token;
  });
  after(async () => {
    await b?.stop();
    await a?.stop();
  });

  /**
   * A request that lasts until aborted: a tool call whose second step is a minute away (POST), or
   * an event stream of the MCP server's that never ends (GET).
   */
  async function hanging(stack: Stack, method: 'POST' | 'GET'): Promise<AbortController> {
    const abort = new AbortController();
    const call = { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'progress', arguments: { steps: 2, intervalMs: 60_000 }, _meta: { progressToken: 1 } } };
    const res = await fetch(method === 'POST' ? stack.mcpUrl : `${stack.mcpUrl}/hang?headers=1`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      ...(method === 'POST' ? { body: JSON.stringify(call) } : {}),
      signal: abort.signal,
    });
    assert.equal(res.status, 200);
    return abort;
  }

  it('counts a request in flight on one instance against the same user on the other', async () => {
    const held = await hanging(a, 'POST');
    try {
      const refused = await listTools(b.mcpUrl, token);
      assert.equal(refused.status, 429);
      assert.equal(refused.headers.get('retry-after'), '1');
      assert.deepEqual(await refused.json(), {
        jsonrpc: '2.0',
        error: { code: -32000, message: 'At most 1 of your MCP requests may be open at once; retry when one has ended' },
        id: null,
      });
      // A GET event stream is not a request: it has a budget of its own.
      const stream = await hanging(b, 'GET');
      stream.abort();
    } finally {
      held.abort();
    }
    // Its place is given back when it ends (asynchronously, on the other instance).
    await until(async () => (await listTools(b.mcpUrl, token)).status === 200, 'the finished request gives its place back');
  });
});
