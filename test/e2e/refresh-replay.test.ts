// Refresh token rotation and replay: a replayed (already rotated) refresh token revokes the whole
// grant, except within a short grace window in which a client racing itself still gets tokens.
import assert from 'node:assert/strict';
import { connectWithOAuth, TestOAuthProvider, listTools } from '../helpers/mcp-client.js';
import { Redis } from 'ioredis';
import { fastForward } from '../helpers/redis.js';
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
      // The sliding refresh token lifetime is far longer than the grant's. No bearer cache: the
      // test moves Redis's clock, not the proxy's.
      stack = await startStack({ env: { MCP_AUTH_PROXY_GRANT_TTL: '3600', MCP_AUTH_PROXY_REFRESH_TOKEN_TTL: '86400', MCP_AUTH_PROXY_TOKEN_CACHE_TTL_MS: '0' } });
    });
    after(async () => stack?.stop());

    it('ends the sign-in when the grant expires, however recently it was refreshed', async () => {
      const redis = new Redis(stack.redis.url);
      const grantTtl = (grantId: string) => redis.ttl(`${stack.config.redis.prefix}Grant:${grantId}`);
      try {
        const { clientId, tokens } = await signedIn(stack);
        const { grantId } = JSON.parse((await stack.proxy.store.get(`AccessToken:${tokens.access_token}`))!) as { grantId: string };
        const before = await grantTtl(grantId);
        assert.ok(before > 3590 && before <= 3600, `the grant lives ${before} s`);
        // Half its life later, a refresh.
        await fastForward(stack.redis.url, 1800);
        const rotated = await refresh(stack, clientId, tokens.refresh_token);
        assert.equal(rotated.status, 200);
        const next = (await rotated.json()) as Tokens & { expires_in: number };
        assert.ok(next.expires_in <= 3600, `the access token lives no longer than its grant (${next.expires_in} s)`);
        assert.ok((await grantTtl(grantId)) <= before - 1800, 'refreshing did not extend the grant');
        assert.equal((await callMcp(stack, next.access_token)).status, 200);

        // The rest of the grant's life.
        await fastForward(stack.redis.url, 1800);
        assert.equal(await stack.proxy.store.get(`Grant:${grantId}`), undefined, 'the grant expired');
        const late = await refresh(stack, clientId, next.refresh_token);
        assert.equal(late.status, 400);
        assert.equal(((await late.json()) as { error: string }).error, 'invalid_grant');
        assert.equal((await callMcp(stack, next.access_token)).status, 401, 'its access token died with it');
        assert.equal(await stack.proxy.store.get(`upstream:${grantId}`), undefined, 'and so did its upstream tokens');
      } finally {
        redis.disconnect();
      }
    });
  });
});
