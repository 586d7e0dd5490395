// Two proxy instances on one Redis: state is shared, and what one instance revokes the other's
// in-process bearer cache forgets at once.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { connectWithOAuth, TestOAuthProvider } from '../helpers/mcp-client.js';
import { startStack, type Stack } from '../helpers/stack.js';

describe('two instances on one Redis', function () {
  this.timeout(60_000);
  let a: Stack;
  let b: Stack;
  let client: Client;
  let auth: TestOAuthProvider;

  const callMcp = (stack: Stack, token: string) =>
    fetch(stack.mcpUrl, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} }),
    });

  before(async () => {
    // One deployment: the same keys on every instance.
    const jwks = JSON.stringify([generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' })]);
    a = await startStack({ env: { OIDC_PROVIDER_JWKS: jwks } });
    // Behind one router both answer for the same BASE_URL (the token audience); b listens elsewhere.
    b = await startStack({ env: { OIDC_PROVIDER_JWKS: jwks, BASE_URL: a.baseUrl }, redis: a.redis, idp: a.idp });
    auth = new TestOAuthProvider();
    client = await connectWithOAuth(a.mcpUrl, auth);
  });
  after(async () => {
    await client?.close();
    await b?.stop();
    await a?.stop();
  });

  it('accepts on one instance the token issued by the other', async () => {
    assert.equal((await callMcp(b, auth.savedTokens!.access_token)).status, 200);
  });

  it('refreshes on one instance the tokens issued by the other', async () => {
    const response = await fetch(`${b.baseUrl}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: auth.savedTokens!.refresh_token!, client_id: auth.client!.client_id }),
    });
    assert.equal(response.status, 200);
    const tokens = (await response.json()) as { access_token: string; refresh_token: string };
    auth.savedTokens = { ...auth.savedTokens!, ...tokens };
    assert.equal((await callMcp(a, tokens.access_token)).status, 200);
  });

  it('forgets on every instance at once a token revoked on one', async () => {
    const token = auth.savedTokens!.access_token;
    assert.equal((await callMcp(b, token)).status, 200); // now cached on b
    const revoke = await fetch(`${a.baseUrl}/token/revocation`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token, client_id: auth.client!.client_id }),
    });
    assert.equal(revoke.status, 200);
    // Pub/sub delivery is asynchronous: allow it a bounded number of quick retries.
    let status = 0;
    for (let attempt = 0; attempt < 40 && status !== 401; attempt++) {
      status = (await callMcp(b, token)).status;
      if (status !== 401) await new Promise((r) => setTimeout(r, 25));
    }
    assert.equal(status, 401);
  });
});
