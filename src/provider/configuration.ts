// node-oidc-provider configuration: OAuth 2.1 for MCP clients. PKCE S256 for every client,
// opaque access tokens audience-bound to the MCP resource, refresh tokens for every client that
// registers the grant type, and sign-in delegated to our interaction routes.
import { errors, type Configuration, type default as Provider, type KoaContextWithOIDC, type SigningAlgorithmWithNone } from 'oidc-provider';
import type { Config } from '../config/types.js';
import type { AccountStore } from '../identity/accounts.js';
import { storeFailing, storeRetryAfterSeconds, type KeyValueStore } from '../storage/store.js';
import { problemResponse, problems } from '../http/problems.js';
import { cachingFetch, clientMetadataDocumentFeature } from './client-metadata-documents.js';
import { signingAlgorithm } from './signing-keys.js';
import { parseDeviceForm } from './device-forms.js';
import { clientFacts, shownScopes } from '../pages/client-facts.js';
import { isOurResource, OIDC_SCOPES, registrableScopes, resourceScopes } from './scopes.js';

const CLAIMS_BY_SCOPE: Record<string, string[]> = { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] };

/**
 * oidc-provider turns storage failures into 500 server_error; while the store is down or full
 * they are 503 temporarily_unavailable (fail closed, retry later), as elsewhere in the proxy.
 */
export function failClosedWhileStoreDown(provider: Provider, store: KeyValueStore): void {
  provider.use(async (ctx, next) => {
    await next();
    if (ctx.status === 500 && storeFailing(store)) {
      const { status, headers, body } = problemResponse(problems.storageUnavailable(storeRetryAfterSeconds(store)));
      ctx.status = status;
      ctx.set(headers);
      ctx.type = 'json';
      ctx.body = body;
    }
  });
}

/** oidc-provider lists only OpenID scopes in discovery; MCP clients also need the resource's. */
export function advertiseResourceScopes(provider: Provider, config: Config): void {
  const extra = resourceScopes(config);
  if (extra.length === 0) return;
  provider.use(async (ctx, next) => {
    await next();
    if (ctx.oidc?.route === 'discovery' && ctx.body && typeof ctx.body === 'object') {
      const body = ctx.body as { scopes_supported?: string[] };
      body.scopes_supported = [...new Set([...(body.scopes_supported ?? []), ...extra])];
    }
  });
}

export interface ProviderDependencies {
  config: Config;
  adapter: Configuration['adapter'];
  store: KeyValueStore;
  accounts: AccountStore;
  renderError: (ctx: KoaContextWithOIDC, error: { error: string; error_description?: string }) => Promise<void>;
  /** Renders one of our views (in the layout) as a provider page. */
  renderPage: (ctx: KoaContextWithOIDC, view: string, data: { title: string } & Record<string, unknown>) => Promise<void>;
}

const DEVICE_CODE_ERRORS: Record<string, string> = {
  NoCodeError: 'Enter the code shown on your device.',
  NotFoundError: 'That code is not valid. Check it and try again.',
  ExpiredError: 'That code has expired. Start again on your device.',
  AlreadyUsedError: 'That code was already used. Start again on your device.',
  AbortedError: 'The connection was cancelled.',
};

/**
 * The provider's cookie names. On https they carry the prefixes browsers enforce: `__Host-` for the
 * session cookie (Path=/, no Domain: no sibling subdomain can set or overwrite it), `__Secure-` for
 * the interaction and resume cookies, which oidc-provider scopes to one sign-in's own path
 * (`/interaction/<uid>`, `/auth/<uid>`) so that several sign-ins can run in one browser at once;
 * `__Host-` forbids any path but `/`. Plain-http local use keeps oidc-provider's own names:
 * browsers refuse prefixed cookies without Secure.
 */
export function cookieNames(config: Config): { session: string; interaction: string; resume: string } {
  if (!config.baseUrl.startsWith('https:')) return { session: '_session', interaction: '_interaction', resume: '_interaction_resume' };
  return { session: '__Host-session', interaction: '__Secure-interaction', resume: '__Secure-interaction_resume' };
}

/**
 * A token's lifetime, cut to what is left of its grant: the grant's absolute lifetime
 * (MCP_AUTH_PROXY_GRANT_TTL) bounds every token issued from it, and so every cache of them.
 * oidc-provider has the grant at hand whenever it issues access and refresh tokens.
 */
export function withinGrant(ttl: number): (ctx?: KoaContextWithOIDC) => number {
  return (ctx) => {
    const grantExp = (ctx?.oidc?.entities?.Grant as { exp?: unknown } | undefined)?.exp;
    if (typeof grantExp !== 'number') return ttl;
    return Math.max(1, Math.min(ttl, grantExp - Math.floor(Date.now() / 1000)));
  };
}

export function providerConfiguration({ config, adapter, store, accounts, renderError, renderPage }: ProviderDependencies): Configuration {
  const { provider: settings } = config;
  const idTokenAlg = signingAlgorithm(settings.jwks[0]!) as SigningAlgorithmWithNone;
  return {
    adapter,
    // Outbound fetches (client metadata documents) shared by every instance through the store.
    fetch: cachingFetch(store, settings.clientMetadataDocuments, registrableScopes(config)) as unknown as Configuration['fetch'],
    jwks: { keys: settings.jwks as Configuration['jwks'] extends { keys: infer K } | undefined ? K : never },
    cookies: {
      names: cookieNames(config),
      keys: settings.cookieKeys,
      // Secure is added by oidc-provider whenever the request is https (X-Forwarded-Proto from
      // the router, trusted through provider.proxy).
      long: { signed: true, httpOnly: true, sameSite: 'lax' },
      short: { signed: true, httpOnly: true, sameSite: 'lax' },
    },
    // Only OpenID scopes here: oidc-provider would treat any scope listed here as one. Resource
    // scopes come from getResourceServerInfo and are advertised through `discovery`.
    scopes: settings.scopes.filter((scope) => OIDC_SCOPES.has(scope)),
    // Every key here is also a scope: declare only the ones we grant.
    claims: Object.fromEntries(
      Object.entries(CLAIMS_BY_SCOPE).filter(([scope]) => scope === 'openid' || settings.scopes.includes(scope)),
    ),
    async findAccount(_ctx, sub) {
      return { accountId: sub, claims: async () => ({ sub, ...(await accounts.find(sub)) }) };
    },
    clientDefaults: {
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: idTokenAlg,
    },
    enabledJWA: {
      idTokenSigningAlgValues: ['RS256', 'PS256', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'],
    },
    responseTypes: ['code'],
    pkce: { required: () => true },
    features: {
      devInteractions: { enabled: false },
      // No RP-initiated logout: MCP clients do not use it, and its post_logout_redirect_uri
      // (registrable by anyone) would be a redirect off this site. The session reset oidc-provider
      // does when another person signs in (end_session_confirm) stays, redirecting only to itself.
      rpInitiatedLogout: { enabled: false },
      registration: { enabled: true },
      // No pushed authorization requests (RFC 9126): no MCP client uses them, and each push is an
      // anonymous write to storage whose request the rules of /auth would have to follow.
      pushedAuthorizationRequests: { enabled: false },
      revocation: { enabled: true },
      clientIdMetadataDocument: clientMetadataDocumentFeature(settings.clientMetadataDocuments, { store, ...config.rateLimit.registration }),
      // RFC 8628 for clients without a browser of their own; sign-in continues in our interaction.
      deviceFlow: {
        enabled: true,
        charset: 'base-20',
        mask: '****-****',
        async userCodeInputSource(ctx, form, _out, err) {
          const error = err ? (DEVICE_CODE_ERRORS[err.name] ?? 'The code could not be checked. Try again.') : undefined;
          await renderPage(ctx, 'device-input', { title: 'Connect a device', ...parseDeviceForm(form), error });
        },
        // The person's one confirmation of a device's request: the same facts as our confirm page,
        // which the sign-in then skips (interactions/router.ts).
        async userCodeConfirmSource(ctx, form, client, _deviceInfo, userCode) {
          const facts = clientFacts(client, undefined, settings);
          const scopes = shownScopes(String(ctx.oidc.deviceCode?.params?.scope ?? '').split(' ').filter(Boolean));
          await renderPage(ctx, 'device-confirm', { title: `Connect ${facts.clientName}?`, ...parseDeviceForm(form), userCode, ...facts, scopes });
        },
        async successSource(ctx) {
          const client = ctx.oidc.client;
          await renderPage(ctx, 'device-success', { title: 'Device connected', clientName: client?.clientName ?? client?.clientId ?? 'The application' });
        },
      },
      userinfo: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => config.mcp.resource,
        useGrantedResource: () => true,
        getResourceServerInfo(_ctx, resourceIndicator) {
          if (!isOurResource(config, resourceIndicator)) {
            throw new errors.InvalidTarget(`this server only issues tokens for ${config.mcp.resource}`);
          }
          return {
            scope: resourceScopes(config).join(' '),
            audience: config.mcp.resource,
            accessTokenTTL: settings.accessTokenTtl,
            accessTokenFormat: 'opaque',
          };
        },
      },
    },
    // Every client that registered the refresh_token grant gets refresh tokens: MCP clients do not
    // reliably send offline_access with prompt=consent.
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    rotateRefreshToken: true,
    // Tokens live as long as the settings say, not as long as the browser session that signed in
    // (oidc-provider binds them to it unless offline_access was consented, which MCP clients
    // rarely ask for): a sign-in outlives the 14-day session cookie, and signing the same client
    // in again from the same browser (two installations of one app) leaves the first grant alone.
    expiresWithSession: async () => false,
    // Each authorization gets its own grant with its own upstream tokens: never reuse another one.
    async loadExistingGrant(ctx) {
      const grantId = ctx.oidc.result?.consent?.grantId;
      return grantId ? ctx.oidc.provider.Grant.find(grantId) : undefined;
    },
    ttl: {
      AccessToken: withinGrant(settings.accessTokenTtl),
      AuthorizationCode: 60,
      IdToken: 3600,
      Interaction: 600,
      Session: 14 * 24 * 3600,
      Grant: settings.grantTtl,
      RefreshToken: withinGrant(settings.refreshTokenTtl),
      DeviceCode: 600,
    },
    // CORS at the token, revocation and userinfo endpoints for every client and origin: browser
    // clients (MCP Inspector, web apps) call them from their own origin, and no cookie rides on
    // those requests; what guards them is the code's PKCE verifier and the tokens themselves.
    clientBasedCORS: () => true,
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    async renderError(ctx, out) {
      await renderError(ctx, out as { error: string; error_description?: string });
    },
  };
}
