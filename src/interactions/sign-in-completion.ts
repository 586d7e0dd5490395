// What happens once the upstream IdP has said who signed in: the access policy, then a grant of
// the scopes asked for, holding the user's upstream tokens (encrypted) and claims, the consent
// remembered, audited. Either all of it is kept or none of it: a grant never lacks its upstream
// tokens, and upstream tokens never outlive a grant that could not be saved. The routes turn the
// outcome into a page or a redirect (router.ts).
import type { default as Provider } from 'oidc-provider';
import type { Logger } from 'pino';
import type { Config } from '../config/types.js';
import type { AccountStore } from '../identity/accounts.js';
import { checkAccess } from '../identity/access-policy.js';
import type { UpstreamIdentity, UpstreamIdentityResult } from '../identity/upstream.js';
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
  upstream: UpstreamIdentity;
  vault: UpstreamTokenVault;
  accounts: AccountStore;
  consents: Consents;
  logger: Logger;
  metrics: ProxyMetrics;
  audit: AuditLog;
}

export class SignInCompletion {
  constructor(private readonly parts: SignInCompletionParts) {}

  async complete(request: SignInRequest, identity: UpstreamIdentityResult): Promise<SignInOutcome> {
    const { config, metrics, logger, consents, audit } = this.parts;
    const accountId = identity.subject;
    if (request.rememberedFor !== undefined && request.rememberedFor !== accountId) {
      metrics.login('user_changed');
      this.#revokeUpstream(identity, 'another person signed in than whose consent was remembered');
      await consents.askAgain(request.uid);
      return { kind: 'user-changed' };
    }
    const decision = checkAccess(config.identity.access, identity.profile);
    if (!decision.allowed) {
      metrics.login('denied_by_policy');
      logger.info({ accountId, reason: decision.reason }, 'sign-in refused by the access policy');
      return { kind: 'denied', accountId, account: identity.claims.email ?? accountId, reason: decision.reason };
    }
    const grantId = await this.#saveGrant(request, accountId);
    try {
      await this.parts.vault.save(grantId, identity.tokens, config.provider.grantTtl);
      await this.parts.accounts.save(accountId, identity.claims);
    } catch (err) {
      // Never leave a grant without its upstream tokens, nor upstream tokens without a grant.
      logger.error({ err, grantId }, 'sign-in could not be saved; grant removed');
      await destroyGrant(this.parts.store, grantId).catch((cleanup: unknown) =>
        logger.error({ err: cleanup, grantId }, 'the grant of a sign-in that could not be saved could not be removed either'),
      );
      this.#revokeUpstream(identity, 'the sign-in could not be saved');
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

  /** Upstream tokens nobody will use are revoked at the IdP (best effort: it may be down). */
  #revokeUpstream(identity: UpstreamIdentityResult, why: string): void {
    this.parts.upstream.revoke(identity.tokens).catch((err: Error) => this.parts.logger.warn({ message: err.message, why }, 'upstream token revocation failed'));
  }
}
