// The upstream OpenID Provider of the tests: the demo's development IdP (src/demo/) with two test
// users, a confidential client, and hooks to inject failures and inspect its tokens.
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { readBody, startDevIdp, type DevAccount, type DevIdp } from '../../src/demo/identity-provider.js';
import { freePort } from './ports.js';

export interface UpstreamIdpOptions {
  redirectUris: string[];
  accessTokenTtlSeconds?: number;
  /**
   * oidc-provider enforces the single registered method strictly. Default 'client_secret_post' because
   * that is what openid-client v6 uses when discovery() is given a client secret string.
   */
  tokenEndpointAuthMethod?: 'client_secret_post' | 'client_secret_basic';
  /** A port chosen beforehand (the issuer is http://127.0.0.1:<port>); default: a free one. */
  port?: number;
  /** The client secret, when the proxy is configured before the IdP starts; default: a random one. */
  clientSecret?: string;
  /** Scopes it knows besides the OpenID ones. */
  extraScopes?: readonly string[];
  /** Claims released with `openid` besides `sub` (set them with setUserClaims). */
  openidClaims?: readonly string[];
  /** A stand-in for a named host: its issuer, served over TLS (see test/helpers/host-map.ts). */
  issuer?: string;
  tls?: { key: string; cert: string };
  /** false: scope claims in ID tokens too. */
  conformIdTokenClaims?: boolean;
  /** More endpoints: answers (resolving true) requests oidc-provider does not serve. */
  routes?: (req: IncomingMessage, res: ServerResponse, path: string, idp: DevIdp) => Promise<boolean>;
}

export interface UpstreamIdp {
  issuer: string;
  clientId: string;
  clientSecret: string;
  user: { sub: string; email: string; username: string; password: string };
  stop(): Promise<void>;
  isAccessTokenValid(token: string): Promise<boolean>;
  refreshGrants(): number;
  /** The next refresh grant request gets this OAuth error (default: 400 invalid_grant, the session is over). */
  failNextRefresh(error?: TokenRefusal): void;
  /** The next token request of this grant type gets this answer instead of tokens. */
  failNextTokenRequest(grantType: 'authorization_code' | 'refresh_token', refusal: TokenRefusal): void;
  /**
   * Holds every refresh grant request at the token endpoint until release(); `arrived` resolves
   * when the first one is being held.
   */
  holdRefreshes(): { arrived: Promise<void>; release(): void };
  revokeAllAccessTokens(): Promise<void>;
  /** Every access, refresh and ID token the token endpoint has issued. */
  issuedTokens(): string[];
  /** Overrides claims of the test user from now on (e.g. email_verified, groups). */
  setUserClaims(claims: Record<string, unknown>): void;
  /** Rewrites every successful token response from now on (e.g. drop `scope`); undefined stops it. */
  rewriteTokenResponses(rewrite: TokenResponseRewrite | undefined): void;
}

export type TokenResponseRewrite = (body: Record<string, unknown>, grantType: string) => Record<string, unknown>;

/**
 * A refusal at the token endpoint, in the shapes IdPs use (RFC 6749 §5.2): an OAuth error in a
 * JSON body (`json`, the default), only a `WWW-Authenticate: Basic error="…"` challenge with no
 * body (`challenge`), or a bare status with no body at all (`bare`).
 */
export interface TokenRefusal {
  status: number;
  error?: string;
  shape?: 'json' | 'challenge' | 'bare';
}

function sendRefusal(res: ServerResponse, { status, error = 'invalid_request', shape = 'json' }: TokenRefusal): void {
  if (shape === 'bare') {
    res.writeHead(status, { 'content-length': '0' });
    res.end();
  } else if (shape === 'challenge') {
    res.writeHead(status, { 'www-authenticate': `Basic realm="upstream", error="${error}"`, 'content-length': '0', 'cache-control': 'no-store' });
    res.end();
  } else {
    res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    res.end(JSON.stringify({ error, error_description: 'token request refused by the test' }));
  }
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

export const CLIENT_ID = 'mcp-auth-proxy-test';

export const newClientSecret = (): string => randomBytes(24).toString('base64url');

/** The issuer of a test IdP started with `port`. */
export const issuerAt = (port: number): string => `http://127.0.0.1:${port}`;

export async function startUpstreamIdp(opts: UpstreamIdpOptions): Promise<UpstreamIdp> {
  const clientSecret = opts.clientSecret ?? newClientSecret();
  let claimOverrides: Record<string, unknown> = {};
  const refusals = new Map<string, TokenRefusal>();
  let rewrite: TokenResponseRewrite | undefined;
  const issued: string[] = [];
  let held: { arrive(): void; released: Promise<void> } | undefined;

  const idp = await startDevIdp({
    port: opts.port ?? (await freePort()),
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
    extraScopes: opts.extraScopes,
    openidClaims: opts.openidClaims,
    ...(opts.issuer ? { issuer: opts.issuer } : {}),
    ...(opts.tls ? { tls: opts.tls } : {}),
    ...(opts.conformIdTokenClaims !== undefined ? { conformIdTokenClaims: opts.conformIdTokenClaims } : {}),
    loginPage: { heading: 'Sign in to the upstream IdP' },
    onError: (err) => console.error('[upstream-idp]', err),
    async intercept(req, res, path) {
      if (opts.routes && (await opts.routes(req, res, path, idp))) return true;
      if (req.method !== 'POST' || path !== '/token') return false;
      if (refusals.size === 0 && !held && !rewrite) {
        recordIssuedTokens(res, issued, undefined);
        return false;
      }
      // Peek the body: oidc-provider falls back to req.body when the stream was already consumed.
      const body = (await readBody(req)).toString('utf8');
      (req as IncomingMessage & { body?: string }).body = body;
      const grantType = new URLSearchParams(body).get('grant_type') ?? '';
      const rewriting = rewrite;
      recordIssuedTokens(res, issued, rewriting && ((response) => rewriting(response, grantType)));
      if (held && grantType === 'refresh_token') {
        held.arrive();
        await held.released;
      }
      const refusal = refusals.get(grantType);
      if (!refusal) return false;
      refusals.delete(grantType);
      sendRefusal(res, refusal);
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
    failNextRefresh(error = { error: 'invalid_grant', status: 400 }) {
      refusals.set('refresh_token', error);
    },
    failNextTokenRequest(grantType, refusal) {
      refusals.set(grantType, refusal);
    },
    holdRefreshes() {
      let arrive!: () => void;
      let release!: () => void;
      const arrived = new Promise<void>((resolve) => (arrive = resolve));
      const released = new Promise<void>((resolve) => (release = resolve));
      held = { arrive, released };
      return {
        arrived,
        release() {
          held = undefined;
          release();
        },
      };
    },
    async revokeAllAccessTokens() {
      idp.store.deleteModel('AccessToken');
    },
    issuedTokens: () => [...issued],
    setUserClaims(claims) {
      claimOverrides = claims;
    },
    rewriteTokenResponses(next) {
      rewrite = next;
    },
  };
}

/** Keeps the tokens of a token endpoint response as it is sent, rewriting a successful one first. */
function recordIssuedTokens(res: ServerResponse, into: string[], rewrite: ((body: Record<string, unknown>) => Record<string, unknown>) | undefined): void {
  const end = res.end.bind(res) as (...args: unknown[]) => ServerResponse;
  res.end = ((...args: unknown[]) => {
    const [chunk] = args;
    if (typeof chunk === 'string' || Buffer.isBuffer(chunk)) {
      try {
        let body = JSON.parse(chunk.toString()) as Record<string, unknown>;
        if (rewrite && res.statusCode === 200 && !res.headersSent) {
          body = rewrite(body);
          const text = JSON.stringify(body);
          res.setHeader('content-length', Buffer.byteLength(text));
          args[0] = text;
        }
        for (const name of ['access_token', 'refresh_token', 'id_token']) if (typeof body[name] === 'string') into.push(body[name]);
      } catch {
        // not JSON: no tokens
      }
    }
    return end(...args);
  }) as ServerResponse['end'];
}
