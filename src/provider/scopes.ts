// The scopes and the resource of this proxy: which configured scopes are OpenID Connect's and
// which are the MCP resource's, which a client may register, and which resource identifiers
// name our one MCP endpoint. Shared by the authorization server, the sign-in and /mcp.
import type { Config } from '../config/types.js';

// Scopes oidc-provider treats as OpenID Connect scopes; every other configured scope is a scope
// of the MCP resource and ends up in its access tokens.
export const OIDC_SCOPES = new Set(['openid', 'offline_access', 'profile', 'email']);

/**
 * RFC 8707: the one resource we serve. Clients also send it with a trailing slash, or as the bare
 * origin (Claude Code adds a slash to an origin-only resource); all name the same MCP endpoint.
 */
export function isOurResource(config: Config, resource: string): boolean {
  const trimmed = resource.replace(/\/$/, '');
  return trimmed === config.mcp.resource || trimmed === config.baseUrl;
}

export function resourceScopes(config: Config): string[] {
  return config.provider.scopes.filter((scope) => !OIDC_SCOPES.has(scope));
}

/**
 * The scopes a client may register (DCR `scope`): oidc-provider refuses any other, resource
 * scopes included (those are granted per resource, whatever the client registered). They are
 * its configured OpenID scopes plus `openid`, which the claims configuration always defines.
 */
export function registrableScopes(config: Config): string[] {
  return ['openid', ...config.provider.scopes.filter((scope) => OIDC_SCOPES.has(scope) && scope !== 'openid')];
}
