// What oidc-provider tells us through its events: token responses (the tokens-issued metric,
// and the audit line of a refresh token rotation), refused token requests (denials), and the
// grants it revokes itself (RFC 7009 revocation, replay detection, sign-out).
import type { default as Provider, KoaContextWithOIDC } from 'oidc-provider';
import type { AuditLog, GrantOwner, GrantRevocationReason } from './audit.js';
import type { ProxyMetrics } from './metrics.js';

// Device flow polling answers these while the user has not finished: not refusals.
const NOT_REFUSALS = new Set(['authorization_pending', 'slow_down']);

interface OwnedEntity {
  accountId?: string | undefined;
  clientId?: string | undefined;
}

function ownerOf(ctx: KoaContextWithOIDC): GrantOwner {
  const { entities } = ctx.oidc;
  const entity = [entities.Grant, entities.RefreshToken, entities.AuthorizationCode, entities.DeviceCode, entities.AccessToken].find(
    (e): e is NonNullable<typeof e> => e !== undefined,
  ) as OwnedEntity | undefined;
  return {
    accountId: entity?.accountId ?? ctx.oidc.session?.accountId,
    clientId: entity?.clientId ?? ctx.oidc.client?.clientId,
  };
}

function revocationReason(ctx: KoaContextWithOIDC): GrantRevocationReason {
  if (ctx.oidc.route === 'revocation') return 'client_revocation';
  if (ctx.oidc.route === 'end_session' || ctx.oidc.route === 'end_session_confirm') return 'sign_out';
  // At the token endpoint the provider revokes a grant only when a used code or refresh token comes back.
  return 'replay';
}

export function observeProvider(provider: Provider, metrics: ProxyMetrics, audit: AuditLog): void {
  provider.on('grant.success', (ctx) => {
    const grantType = String(ctx.oidc.params?.grant_type);
    metrics.tokenIssued(grantType);
    const grant = ctx.oidc.entities.Grant;
    if (grantType === 'refresh_token' && grant?.jti) audit.grantRefreshed(grant.jti, ownerOf(ctx), 'refresh_token');
  });
  provider.on('grant.error', (_ctx, err) => {
    const status = (err as { statusCode?: number }).statusCode ?? 500;
    if (status < 500 && !NOT_REFUSALS.has(err.error)) metrics.denial(err.error, 'oauth');
  });
  provider.on('grant.revoked', (ctx, grantId) => {
    audit.grantRevoked(grantId, ownerOf(ctx), revocationReason(ctx));
  });
}
