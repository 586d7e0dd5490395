// The OpenID presets without a stand-in of their own (okta, auth0, keycloak, gitlab, salesforce):
// the real SDK client signs in through each, against the test IdP at IDENTITY_SERVER_URL, and the
// MCP server sees the user's token and headers; each asks for its preset's scopes and parameters.
import assert from 'node:assert/strict';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { connectWithOAuth, TestOAuthProvider, whoami } from '../helpers/mcp-client.js';
import { freePort } from '../helpers/ports.js';
import { startStack } from '../helpers/stack.js';
import { startUpstreamIdp, TEST_USER, type UpstreamIdp } from '../helpers/upstream-idp.js';

describe('the OpenID presets, signed in end to end', function () {
  this.timeout(60_000);
  let port: number;
  let idp: UpstreamIdp;
  const authorizations: URLSearchParams[] = [];

  before(async () => {
    port = await freePort();
    idp = await startUpstreamIdp({
      redirectUris: [`http://127.0.0.1:${port}/interaction/identity/callback`],
      // Salesforce's refresh and API scopes.
      extraScopes: ['refresh_token', 'api'],
      routes: async (req, _res, path) => {
        if (req.method === 'GET' && path === '/auth') authorizations.push(new URL(req.url ?? '/', 'http://x').searchParams);
        return false;
      },
    });
  });
  after(() => idp?.stop());

  for (const [provider, env, scope, extra] of [
    ['okta', {}, 'openid profile email offline_access', {}],
    ['auth0', { IDENTITY_AUDIENCE: 'https://api.acme.test' }, 'openid profile email offline_access', { audience: 'https://api.acme.test' }],
    ['keycloak', {}, 'openid profile email offline_access', {}],
    ['gitlab', {}, 'openid profile email', {}],
    ['salesforce', {}, 'openid profile email refresh_token api', {}],
  ] as const) {
    it(`${provider}: asks for ${scope}${Object.keys(extra).length ? ' and its parameters' : ''}; the MCP server gets the user's token and headers`, async () => {
      const stack = await startStack({ port, idp, env: { IDENTITY_PROVIDER: provider, IDENTITY_SERVER_URL: idp.issuer, ...env } });
      let client: Client | undefined;
      try {
        client = await connectWithOAuth(stack.mcpUrl, new TestOAuthProvider());
        const request = authorizations.at(-1)!;
        assert.equal(request.get('scope'), scope);
        for (const [name, value] of Object.entries(extra)) assert.equal(request.get(name), value);
        const seen = await whoami(client);
        assert.ok(await idp.isAccessTokenValid(seen.authorization!.replace(/^Bearer /, '')), "the user's upstream token");
        assert.equal(seen.headers['x-mcp-user-id'], TEST_USER.sub);
        assert.equal(seen.headers['x-mcp-user-email'], TEST_USER.email);
        assert.equal(seen.headers['x-mcp-identity-provider'], undefined, 'one provider: not told');
      } finally {
        await client?.close();
        await stack.stop();
      }
    });
  }
});
