// Attacker: one authorization code or refresh token sent many times at once, to one instance or
// to two sharing a Redis. Single use holds under the race: one request wins, the others are
// replays, and a replay ends the grant (RFC 9700 §2.2.2, §4.14.2), so no second chain lives on.
import assert from 'node:assert/strict';
import { privateJwks } from '../helpers/keys.js';
import { redeemCode, refreshTokens, registerPublicClient, signInForCode } from '../helpers/sign-in.js';
import { listTools } from '../helpers/mcp-client.js';
import { startStack, type Stack } from '../helpers/stack.js';

const REDIRECT = 'http://127.0.0.1:45722/cb';
const PARALLEL = 8;

interface TokenBody {
  access_token?: string;
  refresh_token?: string;
  error?: string;
}

const callMcp = (stack: Stack, token: string) => listTools(stack.mcpUrl, token);

async function settle(responses: Promise<Response>[]): Promise<{ status: number; body: TokenBody }[]> {
  return Promise.all(responses.map(async (r) => ({ status: (await r).status, body: (await (await r).json()) as TokenBody })));
}

describe('racing single-use credentials', function () {
  this.timeout(60_000);
  let a: Stack;
  let b: Stack;
  let clientId: string;

  before(async () => {
    // Two instances of one deployment (same keys, same BASE_URL audience) on one Redis; strict
    // replay detection (no grace), as the red team ran it.
    const env = { OIDC_PROVIDER_JWKS: privateJwks(), MCP_AUTH_PROXY_REFRESH_REPLAY_GRACE_SECONDS: '0' };
    a = await startStack({ env });
    b = await startStack({ env: { ...env, BASE_URL: a.baseUrl }, redis: a.redis, idp: a.idp });
    clientId = (await registerPublicClient(a.baseUrl, REDIRECT)).clientId!;
  });
  after(async () => {
    await b?.stop();
    await a?.stop();
  });

  const instance = (i: number) => (i % 2 === 0 ? a : b).baseUrl;

  it('one authorization code redeemed in parallel on two instances gives one token set, and the replay ends the grant', async () => {
    const { code, verifier } = await signInForCode(a.baseUrl, clientId, REDIRECT);
    const results = await settle(Array.from({ length: PARALLEL }, (_, i) => redeemCode(instance(i), clientId, REDIRECT, code!, verifier)));
    const won = results.filter((r) => r.status === 200);
    assert.equal(won.length, 1, JSON.stringify(results.map((r) => r.status)));
    for (const lost of results.filter((r) => r.status !== 200)) assert.deepEqual([lost.status, lost.body.error], [400, 'invalid_grant']);
    // The winner's tokens die with the grant the replays revoked.
    const { access_token, refresh_token } = won[0]!.body;
    assert.equal((await callMcp(a, access_token!)).status, 401);
    assert.equal((await refreshTokens(a.baseUrl, clientId, refresh_token!)).status, 400);
    assert.ok(a.logs.concat(b.logs).some((line) => line.includes('"grant.revoked"') && line.includes('"replay"')), 'the replay is in the audit log');
  });

  it('one refresh token refreshed in parallel on two instances gives one new chain, and the replay ends the grant', async () => {
    const { code, verifier } = await signInForCode(a.baseUrl, clientId, REDIRECT);
    const first = (await (await redeemCode(a.baseUrl, clientId, REDIRECT, code!, verifier)).json()) as TokenBody;
    const results = await settle(Array.from({ length: PARALLEL }, (_, i) => refreshTokens(instance(i), clientId, first.refresh_token!)));
    const won = results.filter((r) => r.status === 200);
    assert.equal(won.length, 1, JSON.stringify(results.map((r) => r.status)));
    for (const lost of results.filter((r) => r.status !== 200)) assert.deepEqual([lost.status, lost.body.error], [400, 'invalid_grant']);
    // No chain lives on: neither the winner's refresh token nor any access token of the grant.
    assert.equal((await refreshTokens(b.baseUrl, clientId, won[0]!.body.refresh_token!)).status, 400);
    assert.equal((await callMcp(b, won[0]!.body.access_token!)).status, 401);
    assert.equal((await callMcp(a, first.access_token!)).status, 401);
  });

  it('a refresh token used once at a time rotates as usual (the race detection does not misfire)', async () => {
    const { code, verifier } = await signInForCode(a.baseUrl, clientId, REDIRECT);
    let tokens = (await (await redeemCode(a.baseUrl, clientId, REDIRECT, code!, verifier)).json()) as TokenBody;
    for (let i = 0; i < 4; i++) {
      const response = await refreshTokens(instance(i), clientId, tokens.refresh_token!);
      assert.equal(response.status, 200);
      tokens = (await response.json()) as TokenBody;
    }
    assert.equal((await callMcp(a, tokens.access_token!)).status, 200);
  });
});
