// The upstream identity provider, through openid-client: discovery (or a static metadata file;
// retried in the background while the IdP does not answer, see discovery.ts),
// the authorization request with PKCE, state and nonce, the code exchange with the exact
// registered redirect_uri, the user's identity, and refresh.
import * as oidc from 'openid-client';
import type { Logger } from 'pino';
import type { Config } from '../config/types.js';
import { isRestricted } from './access-policy.js';
import { BackgroundDiscovery, configurationFromFile, discover, DiscoveryError, type BackoffOptions } from './discovery.js';
import { githubTokenFetch, githubUser, revokeGithubToken } from './github.js';
import { herokuAccount } from './heroku-identity.js';
import type { LocalSignIn } from './local-sign-in.js';

/** Where a local sign-in starts (IDENTITY_PROVIDER=local): our own page, not an IdP's. */
export const LOCAL_SIGN_IN_PATH = '/interaction/identity/local';
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
  claims: { email?: string; email_verified?: boolean; name?: string; groups?: string[] };
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

/**
 * The OAuth error an IdP's token endpoint answered, in whichever shape it came: a JSON body
 * (`{"error": "invalid_client"}`), a `WWW-Authenticate` challenge only (`Basic error="invalid_client"`,
 * which openid-client reports before any body), or a bare status (401 without a body).
 */
export function tokenEndpointError(err: unknown): { error: string | undefined; status: number } | undefined {
  if (err instanceof oidc.ResponseBodyError) return { error: err.error, status: err.status };
  if (err instanceof oidc.WWWAuthenticateChallengeError) {
    const error = err.cause.map((challenge) => challenge.parameters.error).find((e) => typeof e === 'string');
    return { error, status: err.status };
  }
  if (err instanceof oidc.ClientError && err.cause instanceof Response) return { error: undefined, status: err.cause.status };
  return undefined;
}

/**
 * RFC 6749 §5.2: `invalid_client` (401 when the client authenticated with a header, in any of
 * the shapes above) or `unauthorized_client` means the IdP refuses this proxy's own credentials.
 */
function clientRefusal(err: unknown): UpstreamClientRefused | undefined {
  const answer = tokenEndpointError(err);
  if (!answer) return undefined;
  if (answer.error === 'invalid_client' || answer.error === 'unauthorized_client') return new UpstreamClientRefused(answer.error, { cause: err });
  if (answer.error === undefined && answer.status === 401) return new UpstreamClientRefused('HTTP 401', { cause: err });
  return undefined;
}

/**
 * The scopes of IDENTITY_SCOPE the IdP's metadata does not list in `scopes_supported` (none when
 * it lists nothing): it may refuse the sign-in with invalid_scope.
 */
export function unlistedScopes(requested: readonly string[], metadata: object | undefined): string[] {
  const listed = (metadata as { scopes_supported?: unknown } | undefined)?.scopes_supported;
  if (!Array.isArray(listed)) return [];
  return requested.filter((scope) => !listed.includes(scope));
}

export const unlistedScopesWarning = (scopes: string[]): string =>
  `IDENTITY_SCOPE: the identity provider does not list ${scopes.join(', ')} in its scopes_supported; it may refuse the sign-in (invalid_scope)`;

/** The IdP refused a refresh (an OAuth error answer, e.g. invalid_grant): the session is over. */
export class UpstreamRefreshRefused extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'UpstreamRefreshRefused';
  }
}

/**
 * The IdP's metadata is not loaded yet (discovery keeps failing since startup): an outage, like an
 * IdP that does not answer. Never an UpstreamRefreshRefused: a refresh that meets it keeps the grant.
 */
export class UpstreamUnavailable extends Error {
  constructor() {
    super('the identity provider is unavailable: its metadata is not loaded yet (discovery of IDENTITY_SERVER_URL keeps failing)');
    this.name = 'UpstreamUnavailable';
  }
}

export class UpstreamIdentity {
  #client: oidc.Configuration | undefined;
  #retry: BackgroundDiscovery<oidc.Configuration> | undefined;
  /** Ends the background discovery and every request to the IdP still under way (stop()). */
  readonly #lifetime = new AbortController();

  private constructor(
    private readonly settings: Config['identity'],
    client: oidc.Configuration | undefined,
    /** IDENTITY_PROVIDER=local: the proxy's own accounts stand in for an IdP. */
    private readonly local?: LocalSignIn,
  ) {
    // GitHub answers token errors with HTTP 200: its fetch gives them OAuth's statuses.
    if (client && settings.provider.kind === 'github') client[oidc.customFetch] = githubTokenFetch();
    this.#client = client;
  }

  /**
   * Loads the metadata (the file, or discovery) and throws on any failure: for the release check,
   * which must prove the IdP answers, and for one-off commands.
   */
  static async connect(settings: Config['identity'], local?: LocalSignIn): Promise<UpstreamIdentity> {
    if (settings.provider.kind === 'local') return new UpstreamIdentity(settings, undefined, local);
    if (settings.metadata) return new UpstreamIdentity(settings, configurationFromFile(settings, settings.metadata));
    return new UpstreamIdentity(settings, await discover(settings));
  }

  /**
   * For the running proxy: as connect(), except that a transient discovery failure (the IdP is
   * down, busy or unreachable) is logged and retried in the background instead of thrown. Until
   * the metadata is loaded, sign-ins find the IdP unreachable and refreshes and revocations throw
   * UpstreamUnavailable. A definitive failure (a configuration error) still throws. Call stop().
   */
  static async start(settings: Config['identity'], logger: Logger, options: { backoff?: BackoffOptions; local?: LocalSignIn } = {}): Promise<UpstreamIdentity> {
    if (settings.metadata || settings.provider.kind === 'local') return UpstreamIdentity.connect(settings, options.local);
    const identity = new UpstreamIdentity(settings, undefined);
    const attempt = () => discover(settings, identity.#lifetime.signal);
    try {
      identity.#client = await attempt();
      return identity;
    } catch (err) {
      if (!(err instanceof DiscoveryError) || err.kind !== 'transient') throw err;
      logger.warn(
        { identityServerUrl: settings.serverUrl.href, reason: err.reason },
        'identity provider discovery failed (IDENTITY_SERVER_URL): starting without its metadata and retrying in the background; ' +
          'sign-ins and upstream refreshes answer 503 until it loads, /mcp requests with valid upstream tokens keep working',
      );
    }
    identity.#retry = new BackgroundDiscovery({
      attempt,
      loaded: (client) => (identity.#client = client),
      logger,
      serverUrl: settings.serverUrl,
      ...(options.backoff ? { backoff: options.backoff } : {}),
    });
    return identity;
  }

  /** Stops the background discovery and aborts requests to the IdP under way. */
  stop(): void {
    this.#retry?.stop();
    this.#lifetime.abort(new Error('the proxy is stopping'));
  }

  /** The loaded client; an outage while discovery has not succeeded yet. */
  #loaded(): oidc.Configuration {
    if (!this.#client) throw new UpstreamUnavailable();
    return this.#client;
  }

  /** Scopes of IDENTITY_SCOPE its metadata does not list (none while the metadata is not loaded). */
  get unlistedScopes(): string[] {
    return unlistedScopes(this.settings.scopes, this.#client?.serverMetadata());
  }

  /** The IdP's server metadata (discovered or from the file) is in hand: sign-ins can start. */
  get metadataLoaded(): boolean {
    if (this.settings.provider.kind === 'local') return true;
    return typeof this.#client?.serverMetadata().authorization_endpoint === 'string';
  }

  /** OpenID Connect rules (nonce, ID token validation) apply when `openid` is requested. */
  get isOpenIdProvider(): boolean {
    return this.settings.scopes.includes('openid');
  }

  /** Whether the IdP offers RFC 7009 revocation (otherwise revoke() does nothing); false until the metadata is loaded. */
  get revocationSupported(): boolean {
    if (this.settings.provider.kind === 'local') return false;
    // GitHub's own endpoint needs the client's secret.
    if (this.settings.provider.kind === 'github') return this.settings.clientSecret !== undefined;
    return Boolean(this.#client?.serverMetadata().revocation_endpoint);
  }

  /**
   * RFC 7009 at the IdP, when it offers revocation: the refresh token (which ends the grant there),
   * then the access token. Throws UpstreamUnavailable while the metadata is not loaded.
   */
  async revoke(tokens: UpstreamTokens): Promise<void> {
    if (this.settings.provider.kind === 'local') return;
    const client = this.#loaded();
    if (!this.revocationSupported) return;
    const { provider, clientId, clientSecret } = this.settings;
    if (provider.kind === 'github') return revokeGithubToken(provider.apiUrl, clientId, clientSecret!, tokens.accessToken);
    if (tokens.refreshToken) await oidc.tokenRevocation(client, tokens.refreshToken, { token_type_hint: 'refresh_token' });
    await oidc.tokenRevocation(client, tokens.accessToken, { token_type_hint: 'access_token' });
  }

  /**
   * Whether the IdP answers at all, asked before a browser is sent there: a browser sent to a dead
   * IdP ends on its own error page, with no way back to the application. Any answer but a gateway
   * error counts (a parameterless request to the authorization endpoint is usually refused).
   * While the metadata is not loaded, the answer is whether discovery succeeds now: the first
   * sign-in after the IdP is back need not wait for the background retry.
   */
  async isReachable(timeoutMs = REACHABILITY_TIMEOUT_MS): Promise<boolean> {
    if (this.settings.provider.kind === 'local') return true;
    if (!this.#client) return (await this.#retry?.tryNow(timeoutMs)) ?? false;
    const endpoint = this.#client.serverMetadata().authorization_endpoint;
    if (!endpoint) return true;
    try {
      const response = await fetch(endpoint, { method: 'HEAD', redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) });
      await response.body?.cancel();
      return ![502, 503, 504].includes(response.status);
    } catch {
      return false;
    }
  }

  /** Organisation and team memberships are read only when an allowlist needs them. */
  get #githubMemberships(): { memberships: boolean } {
    return { memberships: this.settings.access.githubMemberships };
  }

  newChecks(): AuthorizationChecks {
    return {
      state: oidc.randomState(),
      codeVerifier: oidc.randomPKCECodeVerifier(),
      ...(this.isOpenIdProvider ? { nonce: oidc.randomNonce() } : {}),
    };
  }

  async authorizationUrl(checks: AuthorizationChecks): Promise<URL> {
    if (this.settings.provider.kind === 'local') {
      const url = new URL(LOCAL_SIGN_IN_PATH, this.settings.callbackUrl);
      url.searchParams.set('state', checks.state);
      return url;
    }
    return oidc.buildAuthorizationUrl(this.#loaded(), {
      ...this.settings.authorizationParams,
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
    if (this.settings.provider.kind === 'local') {
      const user = await this.local?.redeem(callbackQuery, checks.state);
      if (!user) throw new UpstreamAuthorizationError('access_denied', 'the local sign-in code is not valid');
      // No upstream token: the MCP server gets the configured credentials or none (MCP_SERVER_CREDENTIALS).
      return { ...user, tokens: { accessToken: '' } };
    }
    // The redirect_uri of the code exchange is derived from this URL minus its query: exactly the registered one.
    const client = this.#loaded();
    const currentUrl = new URL(this.settings.callbackUrl);
    currentUrl.search = callbackQuery.toString();
    let response: oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers;
    try {
      response = await oidc.authorizationCodeGrant(client, currentUrl, {
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
    const { provider } = this.settings;
    if (provider.kind === 'github') return { ...(await githubUser(provider.apiUrl, tokens.accessToken, this.#githubMemberships)), tokens };
    if (provider.kind === 'heroku') {
      // The user from the token response (user_id), the rest from the Platform API.
      const account = await herokuAccount(provider.apiUrl, tokens.accessToken);
      return { ...identify(undefined, account, response), tokens };
    }
    const idClaims = response.claims();
    let userinfo: Record<string, unknown> | undefined;
    if ((!idClaims?.email || isRestricted(this.settings.access)) && client.serverMetadata().userinfo_endpoint) {
      userinfo = await oidc
        .fetchUserInfo(client, tokens.accessToken, idClaims?.sub ?? oidc.skipSubjectCheck)
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
   * restricted, also reads the user's current claims so the policy can be checked again. Throws
   * UpstreamUnavailable (an outage: the grant is kept) while the metadata is not loaded.
   */
  async refresh(current: UpstreamTokens): Promise<RefreshResult> {
    if (!current.refreshToken) throw new UpstreamRefreshRefused('no upstream refresh token');
    const client = this.#loaded();
    let response: Awaited<ReturnType<typeof oidc.refreshTokenGrant>>;
    try {
      response = await oidc.refreshTokenGrant(client, current.refreshToken);
    } catch (err) {
      throw refreshFailure(err);
    }
    const next = toUpstreamTokens(response);
    // RFC 6749 §5.1: an omitted scope is the one granted before; an omitted refresh token stays valid.
    const tokens = {
      ...next,
      refreshToken: next.refreshToken ?? current.refreshToken,
      ...(next.scope === undefined && current.scope !== undefined ? { scope: current.scope } : {}),
    };
    if (!isRestricted(this.settings.access)) return { tokens, profile: undefined };
    const { provider } = this.settings;
    if (provider.kind === 'github') return { tokens, profile: (await githubUser(provider.apiUrl, tokens.accessToken, this.#githubMemberships)).profile };
    if (provider.kind === 'heroku') return { tokens, profile: await herokuAccount(provider.apiUrl, tokens.accessToken) };
    const idClaims = response.claims();
    const userinfo = client.serverMetadata().userinfo_endpoint
      ? await oidc.fetchUserInfo(client, tokens.accessToken, idClaims?.sub ?? oidc.skipSubjectCheck)
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
  const answer = tokenEndpointError(err);
  if (!answer) return err as Error;
  if (answer.error === 'invalid_grant' && answer.status < 500) return new UpstreamRefreshRefused(answer.error);
  const refused = clientRefusal(err);
  if (refused) return refused;
  return new Error(`the identity provider could not refresh (${answer.error ?? 'no OAuth error'}, HTTP ${answer.status})`, { cause: err });
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
