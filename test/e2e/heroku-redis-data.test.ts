// Switching over on the same Redis (docs/migrating-from-heroku-proxy.md): what Heroku's
// mcp-remote-auth-proxy left there, written in its own key shapes (lib/token-redis-adapter.js:
// JSON strings, consumable tokens as hashes with a `payload` field, `grant:<id>` lists, the
// upstream tokens in plain text on the client record), read by this proxy with
// MCP_AUTH_PROXY_REDIS_PREFIX=oidc: (Heroku's default prefix). Registered clients carry over, so
// clients that never register again keep working; sessions do not, and end in the protocol's
// own answers (401 challenge, invalid_grant), never a 500.
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { connectWithOAuth, TestOAuthProvider } from '../helpers/mcp-client.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { startStack, type Stack } from '../helpers/stack.js';

const PREFIX = 'oidc:';
const REDIRECT = 'http://127.0.0.1:33418/callback';
const now = (): number => Math.floor(Date.now() / 1000);

/** A client as Heroku's proxy stored it after a sign-in: oidc-provider's metadata plus its identityAuth* fields. */
function herokuClient(clientId: string): Record<string, unknown> {
  return {
    client_id: clientId,
    client_id_issued_at: now() - 86_400,
    client_name: 'SDK Test Client',
    redirect_uris: [REDIRECT],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'none',
    application_type: 'native',
    id_token_signed_response_alg: 'Ed25519',
    require_auth_time: false,
    subject_type: 'public',
    post_logout_redirect_uris: [],
    identityLoginConfirmed: true,
    identityAuthAccessToken: `heroku-upstream-${randomUUID()}`,
    identityAuthRefreshToken: `heroku-upstream-refresh-${randomUUID()}`,
    identityAuthScope: 'global',
    identityAuthId: 'user-1',
    identityAuthTokenType: 'Bearer',
    identityAuthIssuedAt: now() - 3600,
    identityAuthExpiresIn: 28_799,
  };
}

describe("a Redis that Heroku's proxy used, read with MCP_AUTH_PROXY_REDIS_PREFIX=oidc:", function () {
  this.timeout(60_000);
  let redis: RedisServer;
  let stack: Stack;
  let raw: Redis;
  const clientId = randomUUID();
  const grantId = randomBytes(16).toString('base64url');
  const accessToken = randomBytes(32).toString('base64url');
  const refreshToken = randomBytes(32).toString('base64url');
  const clients: Client[] = [];

  before(async () => {
    redis = await startRedis();
    raw = new Redis(redis.url);
    const grant = { jti: grantId, kind: 'Grant', accountId: 'user-1', clientId, openid: { scope: 'openid offline_access' }, iat: now(), exp: now() + 86_400 };
    const common = { iat: now(), exp: now() + 3600, accountId: 'user-1', clientId, grantId, scope: 'openid offline_access', sessionUid: 's1' };
    await raw
      .multi()
      .set(`${PREFIX}Client:${clientId}`, JSON.stringify(herokuClient(clientId)))
      .set(`${PREFIX}Grant:${grantId}`, JSON.stringify(grant), 'EX', 86_400)
      .set(`${PREFIX}AccessToken:${accessToken}`, JSON.stringify({ ...common, jti: accessToken, kind: 'AccessToken' }), 'EX', 3600)
      .hset(`${PREFIX}RefreshToken:${refreshToken}`, { payload: JSON.stringify({ ...common, jti: refreshToken, kind: 'RefreshToken', exp: now() + 86_400 }) })
      .rpush(`${PREFIX}grant:${grantId}`, `${PREFIX}AccessToken:${accessToken}`, `${PREFIX}RefreshToken:${refreshToken}`)
      .exec();
    stack = await startStack({ redis, env: { MCP_AUTH_PROXY_REDIS_PREFIX: PREFIX } });
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    raw?.disconnect();
    await stack?.stop();
    await redis?.stop();
  });

  it("answers Heroku's access token with a 401 challenge: the client signs in again", async () => {
    const response = await fetch(stack.mcpUrl, {
      method: 'POST',
      headers: { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    });
    assert.equal(response.status, 401);
    assert.match(response.headers.get('www-authenticate') ?? '', /^Bearer error="invalid_token"/);
  });

  it("answers Heroku's refresh token with invalid_grant, not a server error", async () => {
    const response = await fetch(`${stack.baseUrl}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken, client_id: clientId }),
    });
    const body = (await response.json()) as { error: string };
    assert.equal(response.status, 400, JSON.stringify(body));
    assert.equal(body.error, 'invalid_grant', JSON.stringify(body));
  });

  it('keeps the client Heroku registered: the same client id signs in again without registering, and calls tools', async () => {
    const auth = new TestOAuthProvider(REDIRECT);
    auth.client = { client_id: clientId, redirect_uris: [REDIRECT] };
    const client = await connectWithOAuth(stack.mcpUrl, auth);
    clients.push(client);
    assert.equal(auth.client.client_id, clientId, 'no new registration');
    const { tools } = await client.listTools();
    assert.ok(tools.some((t) => t.name === 'whoami'));
  });

  it("drops the plain-text upstream tokens Heroku kept on the client record, and revokes Heroku's grant without an error", async () => {
    const stored = JSON.parse((await raw.get(`${PREFIX}Client:${clientId}`))!) as Record<string, unknown>;
    assert.deepEqual(Object.keys(stored).filter((k) => k.startsWith('identity')), []);
    assert.ok((await raw.ttl(`${PREFIX}Client:${clientId}`)) > 0, 'the record expires like ours now (Heroku kept clients for ever)');
    assert.ok(stack.logs.some((l) => l.includes('"cleaned":1') && l.includes("removed the plain-text upstream tokens Heroku's proxy kept on client records")));
    assert.equal(stack.logs.some((l) => l.includes('heroku-upstream-')), false, 'the tokens never reach a log line');
    const revoked = await fetch(`${stack.baseUrl}/token/revocation`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: refreshToken, token_type_hint: 'refresh_token', client_id: clientId }),
    });
    assert.equal(revoked.status, 200);
  });
});
