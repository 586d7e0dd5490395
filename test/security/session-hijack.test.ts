// Attacker: a signed-in user who learnt someone else's Mcp-Session-Id (a log, a shared proxy, a
// screenshot) and sends it with their own valid token. The session belongs to who started it:
// anyone else gets the answer for an unknown session, and the MCP server never sees the request.
import assert from 'node:assert/strict';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { Redis } from 'ioredis';
import { McpSessionBindings } from '../../src/mcp/session-binding.js';
import { MemoryStore } from '../../src/storage/memory-store.js';
import { connectWithOAuth, TestOAuthProvider } from '../helpers/mcp-client.js';
import { startStack, type Stack } from '../helpers/stack.js';
import { OTHER_USER } from '../helpers/upstream-idp.js';

const PROTOCOL = '2025-06-18';

describe('MCP sessions belong to who started them', function () {
  this.timeout(60_000);
  let stack: Stack;
  let alice: Client;
  let aliceSession: string;
  let bobToken: string;
  let aliceOtherClientToken: string;

  const sessionOf = (client: Client) => (client.transport as StreamableHTTPClientTransport).sessionId!;
  const echo = async (client: Client, text: string) => {
    const result = (await client.callTool({ name: 'echo', arguments: { text } })) as { content: { text: string }[] };
    return result.content[0]!.text;
  };

  /** A request as another caller sends it: their token, someone's session id. */
  const send = (token: string, sessionId: string, method: 'POST' | 'GET' | 'DELETE') =>
    fetch(stack.mcpUrl, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        'mcp-session-id': sessionId,
        'mcp-protocol-version': PROTOCOL,
        accept: 'application/json, text/event-stream',
        ...(method === 'POST' ? { 'content-type': 'application/json' } : {}),
      },
      ...(method === 'POST' ? { body: JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'whoami', arguments: {} } }) } : {}),
    });

  before(async () => {
    stack = await startStack({ mcpEnv: { MCP_FIXTURE_STATEFUL: 'true' } });
    alice = await connectWithOAuth(stack.mcpUrl, new TestOAuthProvider());
    aliceSession = sessionOf(alice);
    assert.match(aliceSession, /^[0-9a-f-]{36}$/, 'the MCP server gave Alice a session');
    const bob = new TestOAuthProvider();
    bob.credentials = { username: OTHER_USER.username, password: OTHER_USER.password };
    const bobClient = await connectWithOAuth(stack.mcpUrl, bob);
    await bobClient.close();
    bobToken = bob.savedTokens!.access_token;
    // Alice herself, through another client (another app she signed in to).
    const other = new TestOAuthProvider('http://127.0.0.1:33419/callback');
    await (await connectWithOAuth(stack.mcpUrl, other)).close();
    aliceOtherClientToken = other.savedTokens!.access_token;
  });
  after(async () => {
    await alice?.close();
    await stack?.stop();
  });

  for (const method of ['POST', 'GET', 'DELETE'] as const) {
    it(`another user's ${method} with the session id is answered as for an unknown session`, async () => {
      const response = await send(bobToken, aliceSession, method);
      assert.equal(response.status, 404);
      assert.deepEqual(await response.json(), { jsonrpc: '2.0', error: { code: -32001, message: 'Session not found' }, id: null });
      assert.equal(await echo(alice, `still mine after ${method}`), `still mine after ${method}`);
    });
  }

  it("the same user through another client cannot use the session either; the owner's own requests pass", async () => {
    assert.equal((await send(aliceOtherClientToken, aliceSession, 'POST')).status, 404);
    assert.equal(await echo(alice, 'mine'), 'mine');
  });

  it('a made-up or malformed session id is unknown', async () => {
    for (const id of ['not-a-session', 'x'.repeat(2000), 'with space']) assert.equal((await send(bobToken, id, 'POST')).status, 404, id);
  });

  it('stores the binding under a digest of the session id, and ends it when the owner ends the session', async () => {
    const redis = new Redis(stack.redis.url);
    try {
      const keys = await redis.keys(`${stack.config.redis.prefix}mcp-session:*`);
      assert.ok(keys.length >= 3, `one per session started: ${keys.length}`);
      assert.ok(!keys.some((key) => key.includes(aliceSession)), 'the session id is not a key');
      const client = await connectWithOAuth(stack.mcpUrl, new TestOAuthProvider());
      const session = sessionOf(client);
      const before = (await redis.keys(`${stack.config.redis.prefix}mcp-session:*`)).length;
      await (client.transport as StreamableHTTPClientTransport).terminateSession();
      assert.equal((await redis.keys(`${stack.config.redis.prefix}mcp-session:*`)).length, before - 1);
      assert.equal((await send(bobToken, session, 'POST')).status, 404);
      await client.close();
    } finally {
      redis.disconnect();
    }
  });

  it('binds across instances: what one instance bound, another reads from the store', async () => {
    const store = new MemoryStore();
    const one = new McpSessionBindings(store, 60);
    const two = new McpSessionBindings(store, 60);
    await one.bind('s-1', { accountId: 'alice', clientId: 'c' });
    assert.deepEqual(await two.owner('s-1'), { accountId: 'alice', clientId: 'c' });
    await two.unbind('s-1');
    assert.equal(await new McpSessionBindings(store, 60).owner('s-1'), undefined);
    await store.close();
  });
});
