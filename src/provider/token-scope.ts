// The `scope` of token responses (RFC 6749 §5.1). oidc-provider reports the access token's scope
// only, which for our one resource holds its resource scopes alone: `"scope": ""` when the client
// was granted `openid offline_access` and PROVIDER_SCOPE has no resource scope. Clients read that
// as "nothing granted" (some then drop the refresh token). The response names what the grant
// gives: its OpenID scopes and the access token's, and `offline_access` whenever a refresh token
// comes with it (oidc-provider leaves that scope out of grants made without prompt=consent, yet
// issues the refresh token); or it leaves the member out when that is nothing.
import type { default as Provider } from 'oidc-provider';

interface GrantLike {
  getOIDCScope(): string;
}

export function grantedScope(grantScope: string, tokenScope: string, offlineAccess = false): string | undefined {
  const scopes = [...new Set(`${grantScope} ${offlineAccess ? 'offline_access ' : ''}${tokenScope}`.split(' ').filter(Boolean))];
  return scopes.length > 0 ? scopes.join(' ') : undefined;
}

/** `offlineAccess`: PROVIDER_SCOPE has `offline_access`, so a refresh token means it was granted. */
export function reportGrantedScope(provider: Provider, offlineAccess: boolean): void {
  provider.use(async (ctx, next) => {
    await next();
    if (ctx.oidc?.route !== 'token' || ctx.status !== 200 || !ctx.body || typeof ctx.body !== 'object') return;
    const body = ctx.body as { scope?: string; access_token?: string; refresh_token?: string };
    if (typeof body.access_token !== 'string') return;
    const grant = ctx.oidc.entities.Grant as GrantLike | undefined;
    const scope = grantedScope(grant?.getOIDCScope() ?? '', body.scope ?? '', offlineAccess && typeof body.refresh_token === 'string');
    if (scope === undefined) delete body.scope;
    else body.scope = scope;
  });
}
