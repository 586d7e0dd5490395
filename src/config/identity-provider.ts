// What IDENTITY_PROVIDER presets, one row per provider: where it is when IDENTITY_SERVER_URL is
// unset, the scopes that stand in for IDENTITY_SCOPE's default, parameters the authorization
// request needs, built-in metadata for providers without discovery, and what the proxy must know
// at runtime. Every explicit IDENTITY_* setting wins over a preset. docs/identity-providers.md
// says why each row is as it is.
import { HEROKU_IDENTITY_METADATA } from '../identity/heroku-identity.js';
import type { ServerMetadata } from './parsers.js';
import type { IdentityProviderPreset } from './types.js';

export const IDENTITY_PROVIDERS = ['oidc', 'github', 'google', 'heroku', 'entra', 'okta', 'auth0', 'keycloak', 'gitlab', 'salesforce', 'local'] as const;
export type IdentityProviderName = (typeof IDENTITY_PROVIDERS)[number];

/** What the presets read of the other settings. */
export interface PresetContext {
  /** IDENTITY_ALLOWED_GITHUB_ORGS is set: memberships must be readable. */
  githubMemberships: boolean;
  googleDomains: readonly string[];
}

interface Preset {
  /** IDENTITY_SERVER_URL when unset; none: it must be set. */
  serverUrl?: URL;
  scopes?: (context: PresetContext) => string[];
  authorizationParams?: (context: PresetContext) => Record<string, string>;
  /** For providers without discovery; undefined: discovery (or IDENTITY_SERVER_METADATA_FILE). */
  metadata?: (serverUrl: URL) => ServerMetadata | undefined;
  runtime?: (serverUrl: URL) => IdentityProviderPreset;
}

export const GITHUB_COM = new URL('https://github.com');
const HEROKU_IDENTITY = new URL('https://id.heroku.com');
const HEROKU_STAGING_HOST = 'identity.staging.herokudev.com';
/** Who the user is, and their email addresses. */
export const GITHUB_SCOPES = ['read:user', 'user:email'];
/** Also needed to see private organisation and team memberships (IDENTITY_ALLOWED_GITHUB_ORGS). */
export const GITHUB_MEMBERSHIP_SCOPE = 'read:org';
/** Entra ID's tenant-independent endpoints: any Microsoft tenant can sign in through them. */
export const ENTRA_MULTI_TENANT = /^https:\/\/login\.microsoftonline\.com\/(common|organizations|consumers)\/v2\.0\/?$/i;

const withoutSlash = (url: URL): string => url.href.replace(/\/+$/, '');

const PRESETS: Record<IdentityProviderName, Preset> = {
  oidc: {},
  github: {
    serverUrl: GITHUB_COM,
    scopes: ({ githubMemberships }) => (githubMemberships ? [...GITHUB_SCOPES, GITHUB_MEMBERSHIP_SCOPE] : [...GITHUB_SCOPES]),
    // OAuth under /login/oauth; GitHub Enterprise Server the same below its URL.
    metadata: (serverUrl) => ({
      issuer: withoutSlash(serverUrl),
      authorization_endpoint: `${withoutSlash(serverUrl)}/login/oauth/authorize`,
      token_endpoint: `${withoutSlash(serverUrl)}/login/oauth/access_token`,
      code_challenge_methods_supported: ['S256'],
    }),
    runtime: (serverUrl) => ({
      kind: 'github',
      apiUrl: serverUrl.origin === GITHUB_COM.origin ? new URL('https://api.github.com') : new URL(`${withoutSlash(serverUrl)}/api/v3`),
    }),
  },
  google: {
    serverUrl: new URL('https://accounts.google.com'),
    // Google lists only these; it has no offline_access (access_type=offline instead).
    scopes: () => ['openid', 'email', 'profile'],
    // A refresh token comes only with access_type=offline, and only at a consent: prompt=consent
    // asks for one at every sign-in (each sign-in is a grant of its own here). `hd` preselects
    // the allowed Workspace domain (`*`: any); a hint only, the hd claim is what is checked.
    authorizationParams: ({ googleDomains }) => {
      const hd = googleDomains.length === 1 ? googleDomains[0]! : googleDomains.length > 1 ? '*' : undefined;
      return { access_type: 'offline', prompt: 'consent', ...(hd ? { hd } : {}) };
    },
  },
  heroku: {
    serverUrl: HEROKU_IDENTITY,
    scopes: () => ['global'],
    // No discovery: the metadata Heroku's proxy shipped, for its two hosts.
    metadata: (serverUrl) => {
      if (serverUrl.host === HEROKU_IDENTITY.host) return { ...HEROKU_IDENTITY_METADATA.production, scopes_supported: ['global'] };
      if (serverUrl.host === HEROKU_STAGING_HOST) return { ...HEROKU_IDENTITY_METADATA.staging, scopes_supported: ['global'] };
      return undefined;
    },
    // The Platform API beside it (another host serves both).
    runtime: (serverUrl) => ({
      kind: 'heroku',
      apiUrl:
        serverUrl.host === HEROKU_IDENTITY.host
          ? new URL('https://api.heroku.com')
          : serverUrl.host === HEROKU_STAGING_HOST
            ? new URL('https://api.staging.herokudev.com')
            : new URL(serverUrl.origin),
    }),
  },
  // The tenant is part of the URL; multi-tenant URLs need IDENTITY_ALLOWED_ENTRA_TENANTS (index.ts).
  // openid-client checks the ID token's issuer against the {tenantid} template with its tid.
  entra: {},
  okta: {},
  auth0: {},
  keycloak: {},
  // GitLab knows no offline_access scope; it issues refresh tokens anyway.
  gitlab: { serverUrl: new URL('https://gitlab.com'), scopes: () => ['openid', 'profile', 'email'] },
  // Salesforce's refresh scope is refresh_token; `api` is what an MCP server calls Salesforce with.
  salesforce: { serverUrl: new URL('https://login.salesforce.com'), scopes: () => ['openid', 'profile', 'email', 'refresh_token', 'api'] },
  // Accounts of this proxy (IDENTITY_LOCAL_USERS): no IdP, no scopes; the sign-in page is ours.
  local: { scopes: () => [], runtime: () => ({ kind: 'local' }) },
};

/** The server URL a provider uses when IDENTITY_SERVER_URL is unset; undefined: it must be set. */
export const defaultServerUrl = (provider: IdentityProviderName): URL | undefined => PRESETS[provider].serverUrl;

/** The preset's scopes when IDENTITY_SCOPE is not set; undefined: IDENTITY_SCOPE's own default. */
export const presetScopes = (provider: IdentityProviderName, context: PresetContext): string[] | undefined => PRESETS[provider].scopes?.(context);

/** Parameters the preset adds to the authorization request. */
export const presetAuthorizationParams = (provider: IdentityProviderName, context: PresetContext): Record<string, string> =>
  PRESETS[provider].authorizationParams?.(context) ?? {};

/** The preset's server metadata, for providers without discovery; undefined: discovery (or the file). */
export const presetMetadata = (provider: IdentityProviderName, serverUrl: URL): ServerMetadata | undefined => PRESETS[provider].metadata?.(serverUrl);

/** What the proxy needs to know of the provider at runtime (its API, for the non-OIDC ones). */
export function presetOf(provider: IdentityProviderName, serverUrl: URL): IdentityProviderPreset {
  return PRESETS[provider].runtime?.(serverUrl) ?? { kind: 'oidc' };
}
