// Attacker (or growth): Redis at maxmemory with noeviction refuses every write. The proxy says so
// in the protocol's own terms (503 temporarily_unavailable with Retry-After, never 500), reports
// not ready, keeps revocation and signed-in /mcp traffic working, and recovers by itself.
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { redeemCode, refreshTokens, registerPublicClient, signInForCode } from '../helpers/sign-in.js';
import { listTools } from '../helpers/mcp-client.js';
import { startStack, type Stack } from '../helpers/stack.js';
import { until } from '../helpers/wait.js';

const REDIRECT = 'http://127.0.0.1:45755/cb';

interface TokenBody {
  access_token: string;
  refresh_token: string;
}

describe('a full Redis (maxmemory, noeviction)', function () {
  this.timeout(60_000);
  let stack: Stack;
  let admin: Redis;
  let clientId: string;
  let tokens: TokenBody;
  let spare: TokenBody;

  const callMcp = (token: string) => listTools(stack.mcpUrl, token);
  const signedIn = async (): Promise<TokenBody> => {
    const { code, verifier } = await signInForCode(stack.baseUrl, clientId, REDIRECT);
    return (await (await redeemCode(stack.baseUrl, clientId, REDIRECT, code!, verifier)).json()) as TokenBody;
  };
  const readiness = async () => {
    const response = await fetch(`${stack.baseUrl}/readyz`);
    return { status: response.status, body: (await response.json()) as { checks: { redis: string }; failing: string[] } };
  };
  /** Readiness is probed at most once a second: wait for the state to show (no fixed sleep). */
  const readinessBecomes = (redis: string) => until(async () => (await readiness()).body.checks.redis === redis, `readiness to report redis: ${redis}`);
  const assertUnavailable = async (response: Response, label: string) => {
    assert.equal(response.status, 503, label);
    assert.equal(response.headers.get('retry-after'), '30', label);
    const body = await response.text();
    assert.match(body, /temporarily_unavailable/, `${label}: ${body.slice(0, 200)}`);
  };

  before(async () => {
    stack = await startStack();
    admin = new Redis(stack.redis.url);
    clientId = (await registerPublicClient(stack.baseUrl, REDIRECT)).clientId!;
    tokens = await signedIn();
    spare = await signedIn();
    await admin.call('CONFIG', 'SET', 'maxmemory-policy', 'noeviction');
    await admin.call('CONFIG', 'SET', 'maxmemory', '1');
  });
  after(async () => {
    await admin?.call('CONFIG', 'SET', 'maxmemory', '0').catch(() => {});
    admin?.disconnect();
    await stack?.stop();
  });

  it('answers registration, refresh and authorization with 503 temporarily_unavailable and Retry-After, never 500', async () => {
    await assertUnavailable(
      await fetch(`${stack.baseUrl}/reg`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ client_name: 'X', redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none' }),
      }),
      '/reg',
    );
    await assertUnavailable(await refreshTokens(stack.baseUrl, clientId, tokens.refresh_token), 'refresh');
    await assertUnavailable(
      await fetch(`${stack.baseUrl}/auth?${new URLSearchParams({ client_id: clientId, response_type: 'code', redirect_uri: REDIRECT, code_challenge: 'x'.repeat(43), code_challenge_method: 'S256' })}`, { redirect: 'manual' }),
      '/auth',
    );
  });

  it('reports not ready while Redis refuses writes', async () => {
    await readinessBecomes('full');
    const { status, body } = await readiness();
    assert.equal(status, 503);
    assert.deepEqual(body.failing, ['redis']);
  });

  it('keeps signed-in /mcp traffic working, and revocation: a revoked token is dead at once', async () => {
    assert.equal((await callMcp(tokens.access_token)).status, 200, 'reads only');
    const revoked = await fetch(`${stack.baseUrl}/token/revocation`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: spare.refresh_token, token_type_hint: 'refresh_token', client_id: clientId }),
    });
    assert.equal(revoked.status, 200, await revoked.text());
    const accessRevoked = await fetch(`${stack.baseUrl}/token/revocation`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: spare.access_token, client_id: clientId }),
    });
    assert.equal(accessRevoked.status, 200);
    assert.equal((await callMcp(spare.access_token)).status, 401, 'the revoked access token');
    assert.equal((await refreshTokens(stack.baseUrl, clientId, spare.refresh_token)).status, 400, 'the revoked refresh token');
  });

  it('recovers by itself once memory is freed', async () => {
    await admin.call('CONFIG', 'SET', 'maxmemory', '0');
    await readinessBecomes('ok');
    const refreshed = await refreshTokens(stack.baseUrl, clientId, tokens.refresh_token);
    assert.equal(refreshed.status, 200);
    assert.equal((await callMcp(((await refreshed.json()) as TokenBody).access_token)).status, 200);
  });
});
