// What happens once the upstream IdP has said who signed in: the access policy, then a grant of
// the scopes asked for, holding the user's upstream tokens (encrypted) and claims, the consent
// remembered, audited. Either all of it is kept or none of it: a grant never lacks its upstream
// tokens, and upstream tokens never outlive a grant that could not be saved. The routes turn the
// outcome into a page or a redirect (router.ts).
import type { default as Provider } from 'oidc-provider';
import type { Logger } from 'pino';
import type { Config } from '../config/types.js';
import type { AccountStore } from '../identity/accounts.js';
import { checkAccess, groupsOf } from '../identity/access-policy.js';
import type { UpstreamIdentityResult } from '../identity/upstream.js';
import type { IdentityProviders, SignInProvider } from '../identity/providers.js';
import type { UpstreamTokenVault } from '../identity/vault.js';
import { destroyGrant } from '../grants/end.js';
import { isOurResource, OIDC_SCOPES, resourceScopes } from '../provider/scopes.js';
import type { KeyValueStore } from '../storage/store.js';
import type { AuditLog } from '../telemetry/audit.js';
import type { ProxyMetrics } from '../telemetry/metrics.js';
import type { Consents } from './consents.js';

/** What the sign-in asked for: its interaction's parameters. */
export interface SignInRequest {
  uid: string;
  clientId: string;
  /** The `scope` parameter, split. */
  scopes: string[];
  /** The `resource` parameter(s); none: our MCP resource. */
  resources: string[];
  /** The account whose remembered consent let the confirm page be skipped, if one did. */
  rememberedFor: string | undefined;
}

export type SignInOutcome =
  | { kind: 'signed-in'; grantId: string; accountId: string }
  /** Someone else signed in upstream than whose consent was remembered: ask them. */
  | { kind: 'user-changed' }
  | { kind: 'denied'; accountId: string; account: string; reason: string }
  /** Nothing was kept (storage failed part-way). */
  | { kind: 'not-saved' };

export interface SignInCompletionParts {
  config: Config;
  provider: Provider;
  store: KeyValueStore;
  providers: IdentityProviders;
  vault: UpstreamTokenVault;
  accounts: AccountStore;
  consents: Consents;
  logger: Logger;
  metrics: ProxyMetrics;
  audit: AuditLog;
}

export class SignInCompletion {
  constructor(private readonly parts: SignInCompletionParts) {}

  async complete(request: SignInRequest, identity: UpstreamIdentityResult, signInProvider: SignInProvider): Promise<SignInOutcome> {
    const { config, metrics, logger, consents, audit, providers } = this.parts;
    const accountId = accountIdOf(identity, signInProvider.settings.name, { several: providers.several, linkVerifiedEmails: config.linkVerifiedEmails });
    // With several providers, the grant remembers whose tokens it holds (refresh, revocation, header).
    const tokens = providers.several ? { ...identity.tokens, provider: signInProvider.settings.name } : identity.tokens;
    const revokeUpstream = (why: string) =>
      signInProvider.upstream.revoke(identity.tokens).catch((err: Error) => logger.warn({ message: err.message, why }, 'upstream token revocation failed'));
    if (request.rememberedFor !== undefined && request.rememberedFor !== accountId) {
      metrics.login('user_changed');
      void revokeUpstream('another person signed in than whose consent was remembered');
      await consents.askAgain(request.uid);
      return { kind: 'user-changed' };
    }
    const decision = checkAccess(signInProvider.settings.access, identity.profile);
    if (!decision.allowed) {
      metrics.login('denied_by_policy');
      logger.info({ accountId, reason: decision.reason }, 'sign-in refused by the access policy');
      return { kind: 'denied', accountId, account: identity.claims.email ?? accountId, reason: decision.reason };
    }
    const grantId = await this.#saveGrant(request, accountId);
    try {
      await this.parts.vault.save(grantId, tokens, config.provider.grantTtl);
      // The groups are kept for MCP_AUTH_PROXY_POLICY's group rules.
      const groups = groupsOf(identity.profile, signInProvider.settings.access.groupsClaim);
      await this.parts.accounts.save(accountId, groups.length > 0 ? { ...identity.claims, groups } : identity.claims);
    } catch (err) {
      // Never leave a grant without its upstream tokens, nor upstream tokens without a grant.
      logger.error({ err, grantId }, 'sign-in could not be saved; grant removed');
      await destroyGrant(this.parts.store, grantId).catch((cleanup: unknown) =>
        logger.error({ err: cleanup, grantId }, 'the grant of a sign-in that could not be saved could not be removed either'),
      );
      void revokeUpstream('the sign-in could not be saved');
      return { kind: 'not-saved' };
    }
    await consents.remember(accountId, request.clientId);
    metrics.login('success');
    audit.grantCreated(grantId, { accountId, clientId: request.clientId });
    return { kind: 'signed-in', grantId, accountId };
  }

  /** A grant of what was asked for and may be granted: our OpenID scopes, and our resource's. */
  async #saveGrant(request: SignInRequest, accountId: string): Promise<string> {
    const { config, provider } = this.parts;
    const grant = new provider.Grant({ accountId, clientId: request.clientId });
    const allowedResourceScopes = new Set(resourceScopes(config));
    grant.addOIDCScope(request.scopes.filter((s) => OIDC_SCOPES.has(s) && (config.provider.scopes.includes(s) || s === 'openid')).join(' '));
    const resources = request.resources.length > 0 ? request.resources : [config.mcp.resource];
    for (const resource of resources.filter((r) => isOurResource(config, r))) {
      grant.addResourceScope(resource, request.scopes.filter((s) => allowedResourceScopes.has(s)).join(' '));
    }
    return grant.save();
  }
}

/**
 * The account a sign-in is: the IdP's subject with one provider; with several, the subject within
 * its block (`github:1234567`), so that two providers' users never merge by accident, unless
 * IDENTITY_LINK_VERIFIED_EMAILS lets a verified email make them one (`email:alice@example.com`).
 */
export function accountIdOf(identity: Pick<UpstreamIdentityResult, 'subject' | 'claims'>, provider: string, options: { several: boolean; linkVerifiedEmails: boolean }): string {
  if (!options.several) return identity.subject;
  const { email, email_verified: verified } = identity.claims;
  if (options.linkVerifiedEmails && email && verified === true) return `email:${email.toLowerCase()}`;
  return `${provider}:${identity.subject}`;
}
