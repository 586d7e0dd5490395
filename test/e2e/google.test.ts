// IDENTITY_PROVIDER=google on the real stack. Google issues a refresh token only when the
// authorization request says access_type=offline, and again only after a new consent
// (prompt=consent); it knows no offline_access scope, and names a Workspace account's domain in
// the `hd` claim. The stand-in is the test IdP (node-oidc-provider) made to behave so, from
// Google's "Using OAuth 2.0 for Web Server Applications" and "OpenID Connect" documentation.
import assert from 'node:assert/strict';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { connectWithOAuth, TestOAuthProvider } from '../helpers/mcp-client.js';
import { startStack, type Stack } from '../helpers/stack.js';
import { startUpstreamIdp, type UpstreamIdp } from '../helpers/upstream-idp.js';
import { freePort } from '../helpers/ports.js';

interface GoogleLike {
  idp: UpstreamIdp;
  /** The query of every authorization request. */
  authorizations: URLSearchParams[];
}

/** The test IdP with Google's refresh-token rule, its scopes and the hd claim. */
async function startGoogleLike(redirectUri: string): Promise<GoogleLike> {
  const authorizations: URLSearchParams[] = [];
  const consented = new Set<string>();
  const idp = await startUpstreamIdp({
    redirectUris: [redirectUri],
    openidClaims: ['hd'],
    routes: async (req, _res, path) => {
      if (req.method === 'GET' && path === '/auth') authorizations.push(new URL(req.url ?? '/', 'http://x').searchParams);
      return false;
    },
  });
  idp.rewriteTokenResponses((body, grantType) => {
    if (grantType !== 'authorization_code') return body;
    const last = authorizations.at(-1);
    const offline = last?.get('access_type') === 'offline';
    const consent = last?.get('prompt')?.split(' ').includes('consent') ?? false;
    // Only the first consent of an account, or a forced new one, comes with a refresh token.
    const first = !consented.has(idp.user.sub);
    consented.add(idp.user.sub);
    if (offline && (first || consent)) return body;
    const { refresh_token: _dropped, ...rest } = body;
    return rest;
  });
  return { idp, authorizations };
}

async function googleStack(port: number, google: GoogleLike, env: Record<string, string> = {}): Promise<Stack> {
  return startStack({
    port,
    idp: google.idp,
    env: { IDENTITY_PROVIDER: 'google', IDENTITY_SERVER_URL: google.idp.issuer, ...env },
  });
}

describe('signing in with Google (IDENTITY_PROVIDER=google)', function () {
  this.timeout(60_000);
  let port: number;
  let google: GoogleLike;
  before(async () => {
    port = await freePort();
    google = await startGoogleLike(`http://127.0.0.1:${port}/interaction/identity/callback`);
  });
  after(() => google?.idp.stop());

  it('asks for access_type=offline and prompt=consent with openid email profile, so every sign-in can be refreshed', async () => {
    const stack = await googleStack(port, google);
    let client: Client | undefined;
    try {
      for (let signIn = 1; signIn <= 2; signIn++) {
        await client?.close();
        client = await connectWithOAuth(stack.mcpUrl, new TestOAuthProvider());
        const request = google.authorizations.at(-1)!;
        assert.equal(request.get('access_type'), 'offline');
        assert.equal(request.get('prompt'), 'consent');
        assert.equal(request.get('scope'), 'openid email profile');
        // The MCP server refuses the upstream token: the proxy refreshes it and the call goes through.
        const before = google.idp.refreshGrants();
        await google.idp.revokeAllAccessTokens();
        await client.listTools();
        assert.equal(google.idp.refreshGrants(), before + 1, `sign-in ${signIn} got a refresh token`);
      }
    } finally {
      await client?.close();
      await stack.stop();
    }
  });

  it('the stand-in is Google: as a plain OIDC provider without those parameters, a sign-in cannot be refreshed', async () => {
    const stack = await startStack({ port, idp: google.idp, env: { IDENTITY_SCOPE: 'openid email profile' } });
    const auth = new TestOAuthProvider();
    try {
      const client = await connectWithOAuth(stack.mcpUrl, auth);
      await client.close();
      await google.idp.revokeAllAccessTokens();
      const response = await fetch(stack.mcpUrl, {
        method: 'POST',
        headers: { authorization: `Bearer ${auth.savedTokens!.access_token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
      });
      assert.equal(response.status, 401, 'no refresh token: the user must sign in again');
    } finally {
      await stack.stop();
    }
  });

  describe('IDENTITY_ALLOWED_GOOGLE_DOMAINS', () => {
    for (const [hd, allowed] of [
      ['example.com', true],
      ['other.example', false],
      [undefined, false],
    ] as const) {
      it(`${hd ?? 'a personal account (no hd)'}: ${allowed ? 'signs in' : 'refused'}, with hd=example.com in the request`, async () => {
        google.idp.setUserClaims(hd ? { hd } : {});
        const stack = await googleStack(port, google, { IDENTITY_ALLOWED_GOOGLE_DOMAINS: 'Example.com' });
        try {
          const attempt = connectWithOAuth(stack.mcpUrl, new TestOAuthProvider());
          if (allowed) await (await attempt).close();
          else await assert.rejects(attempt);
          assert.equal(google.authorizations.at(-1)!.get('hd'), 'example.com');
          if (!allowed) assert.ok(stack.logs.some((line) => line.includes('access policy')));
        } finally {
          google.idp.setUserClaims({});
          await stack.stop();
        }
      });
    }
  });
});
