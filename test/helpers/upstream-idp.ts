// The upstream OpenID Provider of the tests: the demo's development IdP (src/demo/) with two test
// users, a confidential client, and hooks to inject failures and inspect its tokens.
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { readBody, startDevIdp, type DevAccount } from '../../src/demo/identity-provider.js';
import { freePort } from './ports.js';

export interface UpstreamIdpOptions {
  redirectUris: string[];
  accessTokenTtlSeconds?: number;
  /**
   * oidc-provider enforces the single registered method strictly. Default 'client_secret_post' because
   * that is what openid-client v6 uses when discovery() is given a client secret string.
   */
  tokenEndpointAuthMethod?: 'client_secret_post' | 'client_secret_basic';
}

export interface UpstreamIdp {
  issuer: string;
  clientId: string;
  clientSecret: string;
  user: { sub: string; email: string; username: string; password: string };
  stop(): Promise<void>;
  isAccessTokenValid(token: string): Promise<boolean>;
  refreshGrants(): number;
  failNextRefresh(): void;
  revokeAllAccessTokens(): Promise<void>;
  /** Overrides claims of the test user from now on (e.g. email_verified, groups). */
  setUserClaims(claims: Record<string, unknown>): void;
}

export const TEST_USER = {
  sub: 'user-1',
  email: 'alice@example.com',
  username: 'alice',
  password: 'wonderland',
  name: 'Alice Liddell',
  groups: ['staff'],
} as const;

/** A second user, for tests where another person uses the same browser or client. */
export const OTHER_USER = {
  sub: 'user-2',
  email: 'bob@example.com',
  username: 'bob',
  password: 'builder',
  name: 'Bob Builder',
  groups: ['staff'],
} as const;

const USERS: readonly DevAccount[] = [TEST_USER, OTHER_USER];

const CLIENT_ID = 'mcp-auth-proxy-test';

export async function startUpstreamIdp(opts: UpstreamIdpOptions): Promise<UpstreamIdp> {
  const clientSecret = randomBytes(24).toString('base64url');
  let claimOverrides: Record<string, unknown> = {};
  let failRefresh = false;

  const idp = await startDevIdp({
    port: await freePort(),
    clients: [
      {
        client_id: CLIENT_ID,
        client_secret: clientSecret,
        redirect_uris: opts.redirectUris,
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        token_endpoint_auth_method: opts.tokenEndpointAuthMethod ?? 'client_secret_post',
      },
    ],
    accounts: USERS,
    extraClaims: (account) => (account.sub === TEST_USER.sub ? claimOverrides : {}),
    accessTokenTtlSeconds: opts.accessTokenTtlSeconds,
    loginPage: { heading: 'Sign in to the upstream IdP' },
    onError: (err) => console.error('[upstream-idp]', err),
    async intercept(req, res, path) {
      if (!failRefresh || req.method !== 'POST' || path !== '/token') return false;
      // Peek the body: oidc-provider falls back to req.body when the stream was already consumed.
      const body = (await readBody(req)).toString('utf8');
      if (new URLSearchParams(body).get('grant_type') !== 'refresh_token') {
        (req as IncomingMessage & { body?: string }).body = body;
        return false;
      }
      failRefresh = false;
      res.writeHead(400, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify({ error: 'invalid_grant', error_description: 'refresh failure injected by test' }));
      return true;
    },
  });

  let refreshCount = 0;
  idp.provider.on('grant.success', (ctx) => {
    if (ctx.oidc.params?.grant_type === 'refresh_token') refreshCount++;
  });

  return {
    issuer: idp.issuer,
    clientId: CLIENT_ID,
    clientSecret,
    user: { sub: TEST_USER.sub, email: TEST_USER.email, username: TEST_USER.username, password: TEST_USER.password },
    stop: () => idp.stop(),
    async isAccessTokenValid(token) {
      const at = await idp.provider.AccessToken.find(token);
      return at !== undefined && !at.isExpired;
    },
    refreshGrants: () => refreshCount,
    failNextRefresh() {
      failRefresh = true;
    },
    async revokeAllAccessTokens() {
      idp.store.deleteModel('AccessToken');
    },
    setUserClaims(claims) {
      claimOverrides = claims;
    },
  };
}
