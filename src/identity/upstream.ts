// The upstream identity provider, through openid-client: discovery (or a static metadata file),
// the authorization request with PKCE, state and nonce, the code exchange with the exact
// registered redirect_uri, the user's identity, and refresh.
import * as oidc from 'openid-client';
import type { Config } from '../config/index.js';
import { isRestricted } from './access-policy.js';
import type { UpstreamTokens } from './vault.js';

const REACHABILITY_TIMEOUT_MS = 3000;

export interface AuthorizationChecks {
  state: string;
  codeVerifier: string;
  /** Present when the IdP is an OpenID Provider (the openid scope is requested). */
  nonce?: string;
}

export interface UpstreamIdentityResult {
  subject: string;
  /** What we keep of the user (shown, passed to the MCP server). */
  claims: { email?: string; email_verified?: boolean; name?: string };
  /** Every claim the IdP gave (ID token over userinfo), for the access policy; not stored. */
  profile: Record<string, unknown>;
  tokens: UpstreamTokens;
}

export interface RefreshResult {
  tokens: UpstreamTokens;
  /** The user's claims as of this refresh, when the IdP gives any (ID token or userinfo). */
  profile: Record<string, unknown> | undefined;
}

/** The IdP answered the authorization request with an error (e.g. the user declined). */
export class UpstreamAuthorizationError extends Error {
  constructor(
    readonly error: string,
    readonly description: string | undefined,
  ) {
    super(description ? `${error}: ${description}` : error);
  }
}

/** The IdP refused this proxy's own client credentials: the operator's configuration, not the user. */
export class UpstreamClientRefused extends Error {
  constructor(error: string, options: ErrorOptions) {
    super(`the identity provider refused this proxy as a client (${error}): check IDENTITY_CLIENT_ID and IDENTITY_CLIENT_SECRET`, options);
    this.name = 'UpstreamClientRefused';
  }
}

function clientRefusal(err: unknown): UpstreamClientRefused | undefined {
  if (!(err instanceof oidc.ResponseBodyError)) return undefined;
  if (err.error !== 'invalid_client' && err.error !== 'unauthorized_client') return undefined;
  return new UpstreamClientRefused(err.error, { cause: err });
}

/** The IdP refused a refresh (an OAuth error answer, e.g. invalid_grant): the session is over. */
export class UpstreamRefreshRefused extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'UpstreamRefreshRefused';
  }
}

export class UpstreamIdentity {
  private constructor(
    private readonly client: oidc.Configuration,
    private readonly settings: Config['identity'],
  ) {}

  static async connect(settings: Config['identity']): Promise<UpstreamIdentity> {
    const auth = settings.clientSecret ? oidc.ClientSecretPost(settings.clientSecret) : oidc.None();
    const insecure = settings.serverUrl.protocol === 'http:';
    let client: oidc.Configuration;
    if (settings.metadata) {
      client = new oidc.Configuration(settings.metadata as oidc.ServerMetadata, settings.clientId, undefined, auth);
      if (insecure) oidc.allowInsecureRequests(client);
    } else {
      try {
        client = await oidc.discovery(settings.serverUrl, settings.clientId, undefined, auth, {
          execute: insecure ? [oidc.allowInsecureRequests] : [],
          timeout: 10,
        });
      } catch (err) {
        throw new Error(
          `IDENTITY_SERVER_URL: OpenID Connect discovery of ${settings.serverUrl.href} failed (${(err as Error).message}); ` +
            'check the URL or provide IDENTITY_SERVER_METADATA_FILE',
          { cause: err },
        );
      }
    }
    return new UpstreamIdentity(client, settings);
  }

  /** The IdP's server metadata (discovered or from the file) is in hand: sign-ins can start. */
  get metadataLoaded(): boolean {
    return typeof this.client.serverMetadata().authorization_endpoint === 'string';
  }

  /** OpenID Connect rules (nonce, ID token validation) apply when `openid` is requested. */
  get isOpenIdProvider(): boolean {
    return this.settings.scopes.includes('openid');
  }

  /** Whether the IdP offers RFC 7009 revocation (otherwise revoke() does nothing). */
  get revocationSupported(): boolean {
    return Boolean(this.client.serverMetadata().revocation_endpoint);
  }

  /** RFC 7009 at the IdP, when it offers revocation: the refresh token (which ends the grant there), then the access token. */
  async revoke(tokens: UpstreamTokens): Promise<void> {
    if (!this.revocationSupported) return;
    if (tokens.refreshToken) await oidc.tokenRevocation(this.client, tokens.refreshToken, { token_type_hint: 'refresh_token' });
    await oidc.tokenRevocation(this.client, tokens.accessToken, { token_type_hint: 'access_token' });
  }

  /**
   * Whether the IdP answers at all, asked before a browser is sent there: a browser sent to a dead
   * IdP ends on its own error page, with no way back to the application. Any answer but a gateway
   * error counts (a parameterless request to the authorization endpoint is usually refused).
   */
  async isReachable(timeoutMs = REACHABILITY_TIMEOUT_MS): Promise<boolean> {
    const endpoint = this.client.serverMetadata().authorization_endpoint;
    if (!endpoint) return true;
    try {
      const response = await fetch(endpoint, { method: 'HEAD', redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) });
      await response.body?.cancel();
      return ![502, 503, 504].includes(response.status);
    } catch {
      return false;
    }
  }

  newChecks(): AuthorizationChecks {
    return {
      state: oidc.randomState(),
      codeVerifier: oidc.randomPKCECodeVerifier(),
      ...(this.isOpenIdProvider ? { nonce: oidc.randomNonce() } : {}),
    };
  }

  async authorizationUrl(checks: AuthorizationChecks): Promise<URL> {
    return oidc.buildAuthorizationUrl(this.client, {
      redirect_uri: this.settings.callbackUrl,
      scope: this.settings.scopes.join(' '),
      state: checks.state,
      code_challenge: await oidc.calculatePKCECodeChallenge(checks.codeVerifier),
      code_challenge_method: 'S256',
      ...(checks.nonce ? { nonce: checks.nonce } : {}),
    });
  }

  /** Exchanges the code from the IdP's redirect (its query string) and resolves who signed in. */
  async exchange(callbackQuery: URLSearchParams, checks: AuthorizationChecks): Promise<UpstreamIdentityResult> {
    // The redirect_uri of the code exchange is derived from this URL minus its query: exactly the registered one.
    const currentUrl = new URL(this.settings.callbackUrl);
    currentUrl.search = callbackQuery.toString();
    let response: oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers;
    try {
      response = await oidc.authorizationCodeGrant(this.client, currentUrl, {
        pkceCodeVerifier: checks.codeVerifier,
        expectedState: checks.state,
        ...(checks.nonce ? { expectedNonce: checks.nonce, idTokenExpected: true } : {}),
      });
    } catch (err) {
      if (err instanceof oidc.AuthorizationResponseError) {
        throw new UpstreamAuthorizationError(err.error, err.error_description);
      }
      throw clientRefusal(err) ?? err;
    }
    const tokens = toUpstreamTokens(response);
    const idClaims = response.claims();
    let userinfo: Record<string, unknown> | undefined;
    if ((!idClaims?.email || isRestricted(this.settings.access)) && this.client.serverMetadata().userinfo_endpoint) {
      userinfo = await oidc
        .fetchUserInfo(this.client, tokens.accessToken, idClaims?.sub ?? oidc.skipSubjectCheck)
        .catch((err: unknown) => {
          // Userinfo only adds claims when the user is already identified (ID token or user_id).
          if (idClaims?.sub || response.user_id || response.id) return undefined;
          throw err;
        });
    }
    return { ...identify(idClaims, userinfo, response), tokens };
  }

  /**
   * Spends the refresh token (keeping it when the IdP does not rotate it). When sign-in is
   * restricted, also reads the user's current claims so the policy can be checked again.
   */
  async refresh(current: UpstreamTokens): Promise<RefreshResult> {
    if (!current.refreshToken) throw new UpstreamRefreshRefused('no upstream refresh token');
    let response: Awaited<ReturnType<typeof oidc.refreshTokenGrant>>;
    try {
      response = await oidc.refreshTokenGrant(this.client, current.refreshToken);
    } catch (err) {
      throw refreshFailure(err);
    }
    const next = toUpstreamTokens(response);
    const tokens = { ...next, refreshToken: next.refreshToken ?? current.refreshToken };
    if (!isRestricted(this.settings.access)) return { tokens, profile: undefined };
    const idClaims = response.claims();
    const userinfo = this.client.serverMetadata().userinfo_endpoint
      ? await oidc.fetchUserInfo(this.client, tokens.accessToken, idClaims?.sub ?? oidc.skipSubjectCheck)
      : undefined;
    return { tokens, profile: idClaims || userinfo ? { ...userinfo, ...idClaims } : undefined };
  }
}

/**
 * Only `invalid_grant` says the session is over (the refresh token is expired, revoked or the
 * user is gone: RFC 6749 §5.2). Anything else is not the user's doing and must not sign everyone
 * out: a refused client (a wrong or rotated IDENTITY_CLIENT_SECRET), a server error in OAuth's
 * shape, a network failure. Those are outages: the caller answers 503 and keeps the grant.
 */
function refreshFailure(err: unknown): Error {
  if (!(err instanceof oidc.ResponseBodyError)) return err as Error;
  if (err.error === 'invalid_grant' && err.status < 500) return new UpstreamRefreshRefused(err.error);
  const refused = clientRefusal(err);
  if (refused) return refused;
  return new Error(`the identity provider could not refresh (${err.error}, HTTP ${err.status})`, { cause: err });
}

/**
 * Who signed in: the ID token's `sub`, else userinfo's `sub`, else (non-OIDC IdPs such as
 * Heroku Identity) the token response's `user_id` or `id`. Claims come from the ID token first.
 */
export function identify(
  idClaims: Record<string, unknown> | undefined,
  userinfo: Record<string, unknown> | undefined,
  tokenResponse: Record<string, unknown>,
): Omit<UpstreamIdentityResult, 'tokens'> {
  const claims: Record<string, unknown> = { ...userinfo, ...idClaims };
  const subject = [claims.sub, tokenResponse.user_id, tokenResponse.id].find(
    (v): v is string | number => (typeof v === 'string' && v !== '') || typeof v === 'number',
  );
  if (subject === undefined) {
    throw new Error('the identity provider did not identify the user (no ID token sub, userinfo sub, user_id or id)');
  }
  return {
    subject: String(subject),
    claims: {
      ...(typeof claims.email === 'string' ? { email: claims.email } : {}),
      ...(typeof claims.email_verified === 'boolean' ? { email_verified: claims.email_verified } : {}),
      ...(typeof claims.name === 'string' ? { name: claims.name } : {}),
    },
    profile: claims,
  };
}

function toUpstreamTokens(response: oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers): UpstreamTokens {
  const expiresIn = response.expiresIn();
  return {
    accessToken: response.access_token,
    ...(response.refresh_token ? { refreshToken: response.refresh_token } : {}),
    ...(expiresIn !== undefined ? { expiresAt: Math.floor(Date.now() / 1000) + expiresIn } : {}),
    ...(response.scope ? { scope: response.scope } : {}),
    tokenType: response.token_type,
  };
}
