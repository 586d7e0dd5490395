// What the MCP server learns about the caller: identity headers (configurable, spoof-proof) and
// upstream tokens refreshed before they expire.
import assert from 'node:assert/strict';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { connectWithOAuth, TestOAuthProvider, whoami } from '../helpers/mcp-client.js';
import { startStack, type Stack } from '../helpers/stack.js';
import { TEST_USER } from '../helpers/upstream-idp.js';

describe('identity for the MCP server', function () {
  this.timeout(60_000);

  describe('identity headers', () => {
    let stack: Stack;
    let client: Client;
    let auth: TestOAuthProvider;
    before(async () => {
      stack = await startStack({ env: { MCP_AUTH_PROXY_USER_EMAIL_HEADER: 'X-Forwarded-Email' } });
      auth = new TestOAuthProvider();
      client = await connectWithOAuth(stack.mcpUrl, auth);
    });
    after(async () => {
      await client?.close();
      await stack?.stop();
    });

    it('sends the user id, email and client id under the configured names', async () => {
      const { headers } = await whoami(client);
      assert.equal(headers['x-mcp-user-id'], TEST_USER.sub);
      assert.equal(headers['x-forwarded-email'], TEST_USER.email);
      assert.equal(headers['x-mcp-client-id'], auth.client!.client_id);
    });

    it('replaces spoofed inbound copies', async () => {
      const response = await fetch(`${stack.mcpUrl}/headers`, {
        headers: {
          authorization: `Bearer ${auth.savedTokens!.access_token}`,
          'x-mcp-user-id': 'admin',
          'x-forwarded-email': 'ceo@example.com',
          'x-mcp-client-id': 'trusted',
        },
      });
      const headers = (await response.json()) as Record<string, string>;
      assert.equal(headers['x-mcp-user-id'], TEST_USER.sub);
      assert.equal(headers['x-forwarded-email'], TEST_USER.email);
      assert.equal(headers['x-mcp-client-id'], auth.client!.client_id);
    });
  });

  describe('grant revocation', () => {
    let stack: Stack;
    before(async () => {
      stack = await startStack();
    });
    after(async () => stack?.stop());

    it('revokes the upstream tokens at the IdP too', async () => {
      const auth = new TestOAuthProvider();
      const client = await connectWithOAuth(stack.mcpUrl, auth);
      const upstreamToken = (await whoami(client)).authorization!.replace(/^Bearer /, '');
      await client.close();
      assert.equal(await stack.idp.isAccessTokenValid(upstreamToken), true);
      const { grantId } = JSON.parse((await stack.proxy.store.get(`AccessToken:${auth.savedTokens!.access_token}`))!) as { grantId: string };
      assert.ok(await stack.proxy.store.get(`upstream:${grantId}`));
      const revoke = await fetch(`${stack.baseUrl}/token/revocation`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token: auth.savedTokens!.refresh_token!, token_type_hint: 'refresh_token', client_id: auth.client!.client_id }),
      });
      assert.equal(revoke.status, 200);
      // Revoking the refresh token ends the grant: its access token and stored upstream tokens go too.
      const mcp = await fetch(stack.mcpUrl, { method: 'POST', headers: { authorization: `Bearer ${auth.savedTokens!.access_token}` } });
      assert.equal(mcp.status, 401);
      assert.equal(await stack.proxy.store.get(`AccessToken:${auth.savedTokens!.access_token}`), undefined);
      assert.equal(await stack.proxy.store.get(`upstream:${grantId}`), undefined);
      // The IdP call is made after the grant is gone, without holding up the client: poll briefly.
      let valid = true;
      for (let i = 0; i < 100 && valid; i++) {
        valid = await stack.idp.isAccessTokenValid(upstreamToken);
        if (valid) await new Promise((r) => setTimeout(r, 20));
      }
      assert.equal(valid, false);
    });
  });

  describe('identity headers switched off', () => {
    let stack: Stack;
    let auth: TestOAuthProvider;
    before(async () => {
      stack = await startStack({ env: { MCP_AUTH_PROXY_IDENTITY_HEADERS: 'false' } });
      auth = new TestOAuthProvider();
      await (await connectWithOAuth(stack.mcpUrl, auth)).close();
    });
    after(async () => stack?.stop());

    it('sends none and still strips inbound copies', async () => {
      const response = await fetch(`${stack.mcpUrl}/headers`, {
        headers: { authorization: `Bearer ${auth.savedTokens!.access_token}`, 'x-mcp-user-id': 'admin' },
      });
      const headers = (await response.json()) as Record<string, string>;
      assert.equal(headers['x-mcp-user-id'], undefined);
      assert.equal(headers['x-mcp-client-id'], undefined);
    });
  });

  describe('upstream tokens near expiry', () => {
    let stack: Stack;
    let client: Client;
    let auth: TestOAuthProvider;
    before(async () => {
      // Upstream tokens live 5 s and are refreshed 10 s before expiry: every call finds them due.
      stack = await startStack({ upstreamAccessTokenTtlSeconds: 5, env: { MCP_AUTH_PROXY_UPSTREAM_REFRESH_SKEW_SECONDS: '10' } });
      auth = new TestOAuthProvider();
      client = await connectWithOAuth(stack.mcpUrl, auth);
    });
    after(async () => {
      await client?.close();
      await stack?.stop();
    });

    it('are refreshed before the MCP server sees them, without a 401 round trip', async () => {
      const before = stack.idp.refreshGrants();
      const seen = await whoami(client);
      assert.ok(stack.idp.refreshGrants() > before, 'refreshed');
      assert.equal(await stack.idp.isAccessTokenValid(seen.authorization!.replace(/^Bearer /, '')), true);
      assert.equal(stack.logs.some((l) => l.includes('MCP server refused')), false);
    });

    for (const refusal of [
      { error: 'invalid_client', status: 401 },
      { error: 'invalid_client', status: 401, shape: 'challenge' as const },
      { status: 401, shape: 'bare' as const },
      { error: 'server_error', status: 500 },
      { error: 'temporarily_unavailable', status: 503 },
    ]) {
      it(`answer 503 and keep the session when the IdP answers the refresh with ${refusal.status} ${refusal.error ?? ''} ${refusal.shape ?? 'json'} (not the user's doing)`, async () => {
        stack.idp.failNextRefresh(refusal);
        const refused = await callTools(stack, auth.savedTokens!.access_token);
        assert.equal(refused.status, 503);
        assert.equal(((await refused.json()) as { error: string }).error, 'temporarily_unavailable');
        assert.equal(stack.logs.some((l) => l.includes('"grant.revoked"')), false);
        if (refusal.status === 401) {
          assert.ok(stack.logs.some((l) => l.includes('check IDENTITY_CLIENT_ID and IDENTITY_CLIENT_SECRET')), 'the log names the settings to check');
        }
        // The IdP is fine again: the same session goes on.
        assert.equal((await callTools(stack, auth.savedTokens!.access_token)).status, 200);
      });
    }

    it('answer 503 temporarily_unavailable (and keep the session) while the IdP is unreachable', async () => {
      await stack.idp.stop();
      const response = await callTools(stack, auth.savedTokens!.access_token);
      assert.equal(response.status, 503);
      assert.equal(((await response.json()) as { error: string }).error, 'temporarily_unavailable');
      assert.equal(stack.logs.some((l) => l.includes('grant revoked')), false);
    });
  });
});

describe('X-Authorization-Scope', function () {
  this.timeout(60_000);
  let stack: Stack | undefined;
  const clients: Client[] = [];
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await stack?.stop();
    stack = undefined;
  });

  const signIn = async (s: Stack): Promise<Client> => {
    const client = await connectWithOAuth(s.mcpUrl, new TestOAuthProvider());
    clients.push(client);
    return client;
  };

  it("carries the upstream token's scope as Heroku's proxy does, kept across refreshes that omit it; IDENTITY_SCOPE when the IdP says none", async () => {
    // Every call finds the upstream token due for a refresh.
    stack = await startStack({
      upstreamAccessTokenTtlSeconds: 5,
      env: { MCP_AUTH_PROXY_UPSTREAM_REFRESH_SKEW_SECONDS: '10', IDENTITY_SCOPE: 'openid,profile, email offline_access' },
    });
    stack.idp.rewriteTokenResponses((body, grantType) => {
      const { scope: _dropped, ...rest } = body;
      // RFC 6749 §5.1: a refresh response may omit the scope when it is unchanged.
      return grantType === 'authorization_code' ? { ...rest, scope: 'openid profile email offline_access api:read' } : rest;
    });
    const client = await signIn(stack);
    const refreshes = stack.idp.refreshGrants();
    assert.equal((await whoami(client)).headers['x-authorization-scope'], 'openid profile email offline_access api:read');
    assert.ok(stack.idp.refreshGrants() > refreshes, 'the upstream token was refreshed before the call');

    stack.idp.rewriteTokenResponses(({ scope: _dropped, ...rest }) => rest);
    const second = await signIn(stack);
    assert.equal((await whoami(second)).headers['x-authorization-scope'], 'openid profile email offline_access');
  });

  it('warns at startup about IDENTITY_SCOPE scopes the discovered IdP does not list, and signs in anyway', async () => {
    stack = await startStack({ env: { IDENTITY_SCOPE: 'openid profile email offline_access global' } });
    assert.ok(
      stack.logs.some((l) => l.includes('IDENTITY_SCOPE: the identity provider does not list global in its scopes_supported; it may refuse the sign-in (invalid_scope)')),
      stack.logs.join('\n'),
    );
    assert.ok((await whoami(await signIn(stack))).authorization!.startsWith('Bearer '));
  });

  it("carries the scope of the client's token at the proxy with MCP_AUTH_PROXY_SCOPE_HEADER=proxy, and nothing with none", async () => {
    stack = await startStack({ env: { MCP_AUTH_PROXY_SCOPE_HEADER: 'proxy', PROVIDER_SCOPE: 'openid,offline_access,mcp:tools' } });
    assert.equal((await whoami(await signIn(stack))).headers['x-authorization-scope'], 'mcp:tools');
    await stack.stop();
    stack = await startStack({ env: { MCP_AUTH_PROXY_SCOPE_HEADER: 'none' } });
    const { headers } = await whoami(await signIn(stack));
    assert.equal('x-authorization-scope' in headers, false);
    assert.ok(headers['x-dynamic-client-id'], 'the other headers still come');
  });
});

function callTools(stack: Stack, token: string): Promise<Response> {
  return fetch(stack.mcpUrl, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} }),
  });
}
