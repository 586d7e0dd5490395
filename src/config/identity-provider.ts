// What IDENTITY_PROVIDER presets: for `github`, the endpoints of github.com or of a GitHub
// Enterprise Server (OAuth under /login/oauth, the REST API at api.github.com or <server>/api/v3),
// and the scopes the proxy needs. Every explicit IDENTITY_* setting wins over a preset.
import type { ServerMetadata } from './parsers.js';
import type { IdentityProviderPreset } from './types.js';

export const IDENTITY_PROVIDERS = ['oidc', 'github'] as const;
export type IdentityProviderName = (typeof IDENTITY_PROVIDERS)[number];

export const GITHUB_COM = new URL('https://github.com');
/** Who the user is, and their email addresses. */
export const GITHUB_SCOPES = ['read:user', 'user:email'];
/** Also needed to see private organisation and team memberships (IDENTITY_ALLOWED_GITHUB_ORGS). */
export const GITHUB_MEMBERSHIP_SCOPE = 'read:org';

/** The server URL a provider uses when IDENTITY_SERVER_URL is unset; undefined: it must be set. */
export function defaultServerUrl(provider: IdentityProviderName): URL | undefined {
  return provider === 'github' ? GITHUB_COM : undefined;
}

/** The preset's scopes when IDENTITY_SCOPE is not set; undefined: IDENTITY_SCOPE's own default. */
export function presetScopes(provider: IdentityProviderName, membershipsChecked: boolean): string[] | undefined {
  if (provider !== 'github') return undefined;
  return membershipsChecked ? [...GITHUB_SCOPES, GITHUB_MEMBERSHIP_SCOPE] : [...GITHUB_SCOPES];
}

/** The preset's server metadata, for providers without discovery; undefined: discovery (or the file). */
export function presetMetadata(provider: IdentityProviderName, serverUrl: URL): ServerMetadata | undefined {
  if (provider !== 'github') return undefined;
  const base = serverUrl.href.replace(/\/+$/, '');
  return {
    issuer: base,
    authorization_endpoint: `${base}/login/oauth/authorize`,
    token_endpoint: `${base}/login/oauth/access_token`,
    code_challenge_methods_supported: ['S256'],
  };
}

export function presetOf(provider: IdentityProviderName, serverUrl: URL): IdentityProviderPreset {
  if (provider !== 'github') return { kind: 'oidc' };
  const onGithubCom = serverUrl.origin === GITHUB_COM.origin;
  return { kind: 'github', apiUrl: onGithubCom ? new URL('https://api.github.com') : new URL(`${serverUrl.href.replace(/\/+$/, '')}/api/v3`) };
}
