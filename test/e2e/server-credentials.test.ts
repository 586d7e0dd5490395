// MCP_SERVER_CREDENTIALS on the real stack: a signed-in user reaches an MCP server that holds its
// own credentials, which gets the operator's token and headers (given as sigbit's variables, as
// its README writes them) and the user's identity, never the user's upstream token.
import assert from 'node:assert/strict';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { connectWithOAuth, TestOAuthProvider, whoami } from '../helpers/mcp-client.js';
import { startStack, type Stack } from '../helpers/stack.js';

describe("the MCP server's credentials (MCP_SERVER_CREDENTIALS)", function () {
  this.timeout(60_000);

  for (const [mode, env, authorization] of [
    ['static', { MCP_SERVER_CREDENTIALS: 'static', PROXY_BEARER_TOKEN: 'server-owned-token', PROXY_HEADERS: 'X-Api-Key:k-42,X-Tenant:acme' }, 'Bearer server-owned-token'],
    ['none', { MCP_SERVER_CREDENTIALS: 'none', MCP_SERVER_HEADERS: 'X-Api-Key:k-42,X-Tenant:acme' }, null],
  ] as const) {
    describe(mode, () => {
      let stack: Stack;
      let client: Client;
      before(async () => {
        // A server holding its own credentials: it does not check the user's token at the IdP.
        stack = await startStack({ env, mcpEnv: { MCP_FIXTURE_TOKEN_CHECK_URL: '' } });
        client = await connectWithOAuth(stack.mcpUrl, new TestOAuthProvider());
      });
      after(async () => {
        await client?.close();
        await stack?.stop();
      });

      it(`sends ${authorization ?? 'no Authorization'} and the configured headers, with the user's identity`, async () => {
        const seen = await whoami(client);
        assert.equal(seen.authorization, authorization);
        assert.equal(seen.headers['x-api-key'], 'k-42');
        assert.equal(seen.headers['x-tenant'], 'acme');
        assert.equal(seen.headers['x-mcp-user-id'], stack.idp.user.sub);
        const issued = stack.idp.issuedTokens();
        assert.ok(issued.length > 0, 'the user signed in upstream');
        for (const token of issued) assert.ok(!JSON.stringify(seen).includes(token), "the user's upstream tokens never reach the MCP server");
      });
    });
  }
});
