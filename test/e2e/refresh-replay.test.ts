// Refresh token rotation and replay: a replayed (already rotated) refresh token revokes the whole
// grant, except within a short grace window in which a client racing itself still gets tokens.
import assert from 'node:assert/strict';
import { connectWithOAuth, TestOAuthProvider, listTools } from '../helpers/mcp-client.js';
import { startStack, type Stack } from '../helpers/stack.js';

interface Tokens {
  access_token: string;
  refresh_token: string;
}

async function signedIn(stack: Stack): Promise<{ clientId: string; tokens: Tokens }> {
  const auth = new TestOAuthProvider();
  await (await connectWithOAuth(stack.mcpUrl, auth)).close();
  return { clientId: auth.client!.client_id, tokens: auth.savedTokens as Tokens };
}

const refresh = (stack: Stack, clientId: string, refreshToken: string) =>
  fetch(`${stack.baseUrl}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken, client_id: clientId }),
  });

const callMcp = (stack: Stack, token: string) => listTools(stack.mcpUrl, token);

describe('refresh token replay', function () {
  this.timeout(60_000);

  describe('outside the grace window', () => {
    let stack: Stack;
    before(async () => {
      stack = await startStack({ env: { MCP_AUTH_PROXY_REFRESH_REPLAY_GRACE_SECONDS: '0' } });
    });
    after(async () => stack?.stop());

    it('revokes the whole grant, including the tokens the rotation issued', async () => {
      const { clientId, tokens } = await signedIn(stack);
      const rotated = await refresh(stack, clientId, tokens.refresh_token);
      assert.equal(rotated.status, 200);
      const next = (await rotated.json()) as Tokens;
      assert.notEqual(next.refresh_token, tokens.refresh_token);

      const replay = await refresh(stack, clientId, tokens.refresh_token);
      assert.equal(replay.status, 400);
      assert.equal(((await replay.json()) as { error: string }).error, 'invalid_grant');
      assert.equal((await refresh(stack, clientId, next.refresh_token)).status, 400, 'the new refresh token died with the grant');
      assert.equal((await callMcp(stack, next.access_token)).status, 401, 'so did the new access token');
    });
  });

  describe('inside the grace window (default 2 s)', () => {
    let stack: Stack;
    before(async () => {
      stack = await startStack();
    });
    after(async () => stack?.stop());

    it('serves a racing duplicate instead of logging the user out', async () => {
      const { clientId, tokens } = await signedIn(stack);
      // One after the other, so the second finds the token already rotated (consumed).
      const first = await refresh(stack, clientId, tokens.refresh_token);
      const second = await refresh(stack, clientId, tokens.refresh_token);
      assert.equal(first.status, 200);
      assert.equal(second.status, 200);
      for (const response of [first, second]) {
        const next = (await response.json()) as Tokens;
        assert.equal((await callMcp(stack, next.access_token)).status, 200);
      }
    });
  });

  describe('absolute grant lifetime (MCP_AUTH_PROXY_GRANT_TTL)', () => {
    let stack: Stack;
    before(async () => {
      // The sliding refresh token lifetime is far longer than the grant's.
      stack = await startStack({ env: { MCP_AUTH_PROXY_GRANT_TTL: '4', MCP_AUTH_PROXY_REFRESH_TOKEN_TTL: '3600' } });
    });
    after(async () => stack?.stop());

    it('ends the sign-in when the grant expires, however recently it was refreshed', async () => {
      const { clientId, tokens } = await signedIn(stack);
      const { grantId } = JSON.parse((await stack.proxy.store.get(`AccessToken:${tokens.access_token}`))!) as { grantId: string };
      const rotated = await refresh(stack, clientId, tokens.refresh_token);
      assert.equal(rotated.status, 200);
      const next = (await rotated.json()) as Tokens & { expires_in: number };
      assert.ok(next.expires_in <= 4, `the access token lives no longer than its grant (${next.expires_in} s)`);
      assert.equal((await callMcp(stack, next.access_token)).status, 200);
      // Refreshing did not extend the grant: it expires on its own schedule.
      const deadline = Date.now() + 15_000;
      while ((await stack.proxy.store.get(`Grant:${grantId}`)) !== undefined) {
        assert.ok(Date.now() < deadline, 'the grant expired');
        await new Promise((r) => setTimeout(r, 100));
      }
      const late = await refresh(stack, clientId, next.refresh_token);
      assert.equal(late.status, 400);
      assert.equal(((await late.json()) as { error: string }).error, 'invalid_grant');
      assert.equal((await callMcp(stack, next.access_token)).status, 401, 'its access token died with it');
      assert.equal(await stack.proxy.store.get(`upstream:${grantId}`), undefined, 'and so did its upstream tokens');
    });
  });
});
