// Token lifetimes are what the settings say, whatever happens to the browser session that
// signed in; and each sign-in is its own grant, even for one client in one browser.
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { Browser } from '../helpers/browser.js';
import { redeemCode, refreshTokens, registerPublicClient, signInForCode } from '../helpers/sign-in.js';
import { listTools } from '../helpers/mcp-client.js';
import { startStack, type Stack } from '../helpers/stack.js';

const REDIRECT = 'http://127.0.0.1:45733/cb';
const REFRESH_TTL = 5_000_000; // about 58 days: longer than the 14-day browser session
const GRANT_TTL = 6_000_000;

interface TokenBody {
  access_token: string;
  refresh_token: string;
}

const callMcp = (stack: Stack, token: string) => listTools(stack.mcpUrl, token);

describe('token lifetimes and independent grants', function () {
  this.timeout(60_000);

  async function signedIn(stack: Stack, clientId: string, browser = new Browser()): Promise<TokenBody> {
    const { code, verifier } = await signInForCode(stack.baseUrl, clientId, REDIRECT, { browser });
    assert.ok(code, 'signed in');
    const response = await redeemCode(stack.baseUrl, clientId, REDIRECT, code, verifier);
    assert.equal(response.status, 200);
    return (await response.json()) as TokenBody;
  }

  describe('with a refresh lifetime longer than the browser session', () => {
    let stack: Stack;
    let redis: Redis;
    let clientId: string;
    const ttlOf = (model: string, id: string) => redis.ttl(`${stack.config.redis.prefix}${model}:${id}`);

    before(async () => {
      stack = await startStack({ env: { MCP_AUTH_PROXY_REFRESH_TOKEN_TTL: String(REFRESH_TTL), MCP_AUTH_PROXY_GRANT_TTL: String(GRANT_TTL) } });
      redis = new Redis(stack.redis.url);
      clientId = (await registerPublicClient(stack.baseUrl, REDIRECT)).clientId!;
    });
    after(async () => {
      redis?.disconnect();
      await stack?.stop();
    });

    it('issues refresh tokens for MCP_AUTH_PROXY_REFRESH_TOKEN_TTL, not bound to the session', async () => {
      const tokens = await signedIn(stack, clientId);
      const ttl = await ttlOf('RefreshToken', tokens.refresh_token);
      assert.ok(ttl > REFRESH_TTL - 10 && ttl <= REFRESH_TTL, `stored for ${ttl} s`);
      const record = JSON.parse((await redis.get(`${stack.config.redis.prefix}RefreshToken:${tokens.refresh_token}`))!) as { exp: number; iat: number; expiresWithSession?: boolean };
      assert.equal(record.exp - record.iat, REFRESH_TTL);
      assert.notEqual(record.expiresWithSession, true);

      // The browser session ends (its record expires after 14 days, or the person signs out).
      const sessions = await redis.keys(`${stack.config.redis.prefix}Session:*`);
      assert.ok(sessions.length > 0);
      await redis.del(...sessions);

      assert.equal((await callMcp(stack, tokens.access_token)).status, 200, 'the access token lives on');
      const refreshed = await refreshTokens(stack.baseUrl, clientId, tokens.refresh_token);
      assert.equal(refreshed.status, 200, 'so does the refresh token');
      const next = (await refreshed.json()) as TokenBody;
      const nextTtl = await ttlOf('RefreshToken', next.refresh_token);
      assert.ok(nextTtl > REFRESH_TTL - 10 && nextTtl <= REFRESH_TTL, `rotated for ${nextTtl} s`);
      assert.equal((await callMcp(stack, next.access_token)).status, 200);
    });

    it('keeps both grants when one client signs in twice from one browser (two installations of one app)', async () => {
      const browser = new Browser();
      const first = await signedIn(stack, clientId, browser);
      const second = await signedIn(stack, clientId, browser);
      assert.notEqual(first.access_token, second.access_token);
      for (const [name, tokens] of [['first', first], ['second', second]] as const) {
        assert.equal((await callMcp(stack, tokens.access_token)).status, 200, `${name} access token`);
        const refreshed = await refreshTokens(stack.baseUrl, clientId, tokens.refresh_token);
        assert.equal(refreshed.status, 200, `${name} refresh token`);
        assert.equal((await callMcp(stack, ((await refreshed.json()) as TokenBody).access_token)).status, 200);
      }
    });
  });

  describe('with a grant lifetime shorter than the refresh lifetime', () => {
    let stack: Stack;
    let redis: Redis;

    before(async () => {
      stack = await startStack({ env: { MCP_AUTH_PROXY_REFRESH_TOKEN_TTL: '7200', MCP_AUTH_PROXY_GRANT_TTL: '900', MCP_AUTH_PROXY_ACCESS_TOKEN_TTL: '3600' } });
      redis = new Redis(stack.redis.url);
    });
    after(async () => {
      redis?.disconnect();
      await stack?.stop();
    });

    it('ends every token with the grant: MCP_AUTH_PROXY_GRANT_TTL bounds refresh and access tokens', async () => {
      const clientId = (await registerPublicClient(stack.baseUrl, REDIRECT)).clientId!;
      const tokens = await signedIn(stack, clientId);
      for (const [model, id] of [['RefreshToken', tokens.refresh_token], ['AccessToken', tokens.access_token]] as const) {
        const ttl = await redis.ttl(`${stack.config.redis.prefix}${model}:${id}`);
        assert.ok(ttl > 890 && ttl <= 900, `${model} stored for ${ttl} s`);
      }
    });
  });
});
