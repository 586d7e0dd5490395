// What IDENTITY_PROVIDER presets: for `github`, the endpoints of github.com or of a GitHub
// Enterprise Server (OAuth under /login/oauth, the REST API at api.github.com or <server>/api/v3),
// and the scopes the proxy needs; for `google`, its issuer, scopes, and the authorization
// parameters without which Google issues no refresh token. Every explicit IDENTITY_* setting wins
// over a preset. `heroku`: Heroku Identity's built-in metadata (it has no discovery), the `global`
// scope, and the Platform API for the user's email.
import { HEROKU_IDENTITY_METADATA } from '../identity/heroku-identity.js';
import type { ServerMetadata } from './parsers.js';
import type { IdentityProviderPreset } from './types.js';

export const IDENTITY_PROVIDERS = ['oidc', 'github', 'google', 'heroku'] as const;
export type IdentityProviderName = (typeof IDENTITY_PROVIDERS)[number];

export const GITHUB_COM = new URL('https://github.com');
export const GOOGLE_ACCOUNTS = new URL('https://accounts.google.com');
export const HEROKU_IDENTITY = new URL('https://id.heroku.com');
const HEROKU_STAGING_HOST = 'identity.staging.herokudev.com';
/** Google lists only these in scopes_supported; it has no offline_access (access_type=offline instead). */
export const GOOGLE_SCOPES = ['openid', 'email', 'profile'];
/** Who the user is, and their email addresses. */
export const GITHUB_SCOPES = ['read:user', 'user:email'];
/** Also needed to see private organisation and team memberships (IDENTITY_ALLOWED_GITHUB_ORGS). */
export const GITHUB_MEMBERSHIP_SCOPE = 'read:org';

/** The server URL a provider uses when IDENTITY_SERVER_URL is unset; undefined: it must be set. */
export function defaultServerUrl(provider: IdentityProviderName): URL | undefined {
  if (provider === 'github') return GITHUB_COM;
  if (provider === 'heroku') return HEROKU_IDENTITY;
  return provider === 'google' ? GOOGLE_ACCOUNTS : undefined;
}

/** The preset's scopes when IDENTITY_SCOPE is not set; undefined: IDENTITY_SCOPE's own default. */
export function presetScopes(provider: IdentityProviderName, membershipsChecked: boolean): string[] | undefined {
  if (provider === 'google') return [...GOOGLE_SCOPES];
  if (provider === 'heroku') return ['global'];
  if (provider !== 'github') return undefined;
  return membershipsChecked ? [...GITHUB_SCOPES, GITHUB_MEMBERSHIP_SCOPE] : [...GITHUB_SCOPES];
}

/** The preset's server metadata, for providers without discovery; undefined: discovery (or the file). */
export function presetMetadata(provider: IdentityProviderName, serverUrl: URL): ServerMetadata | undefined {
  if (provider === 'heroku') {
    // Heroku Identity has no discovery: the metadata Heroku's proxy shipped, for its two hosts.
    if (serverUrl.host === HEROKU_IDENTITY.host) return { ...HEROKU_IDENTITY_METADATA.production, scopes_supported: ['global'] };
    if (serverUrl.host === HEROKU_STAGING_HOST) return { ...HEROKU_IDENTITY_METADATA.staging, scopes_supported: ['global'] };
    return undefined;
  }
  if (provider !== 'github') return undefined;
  const base = serverUrl.href.replace(/\/+$/, '');
  return {
    issuer: base,
    authorization_endpoint: `${base}/login/oauth/authorize`,
    token_endpoint: `${base}/login/oauth/access_token`,
    code_challenge_methods_supported: ['S256'],
  };
}

/**
 * Parameters the preset adds to the authorization request. Google issues a refresh token only for
 * access_type=offline, and only at a consent: prompt=consent asks for one at every sign-in (each
 * sign-in is a new grant here, which needs its own). `hd` preselects the allowed Workspace domain
 * (`*`: any Workspace account); it is a hint, the ID token's hd claim is what the policy checks.
 */
export function presetAuthorizationParams(provider: IdentityProviderName, googleDomains: readonly string[]): Record<string, string> {
  if (provider !== 'google') return {};
  const hd = googleDomains.length === 1 ? googleDomains[0]! : googleDomains.length > 1 ? '*' : undefined;
  return { access_type: 'offline', prompt: 'consent', ...(hd ? { hd } : {}) };
}

export function presetOf(provider: IdentityProviderName, serverUrl: URL): IdentityProviderPreset {
  if (provider === 'google') return { kind: 'google' };
  if (provider === 'heroku') return { kind: 'heroku', apiUrl: herokuApiUrl(serverUrl) };
  if (provider !== 'github') return { kind: 'oidc' };
  const onGithubCom = serverUrl.origin === GITHUB_COM.origin;
  return { kind: 'github', apiUrl: onGithubCom ? new URL('https://api.github.com') : new URL(`${serverUrl.href.replace(/\/+$/, '')}/api/v3`) };
}

/** The Platform API beside Heroku Identity (api.heroku.com, or staging's); another host serves both. */
function herokuApiUrl(serverUrl: URL): URL {
  if (serverUrl.host === HEROKU_IDENTITY.host) return new URL('https://api.heroku.com');
  if (serverUrl.host === HEROKU_STAGING_HOST) return new URL('https://api.staging.herokudev.com');
  return new URL(serverUrl.origin);
}
