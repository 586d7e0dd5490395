// Refreshes a grant's upstream tokens once, however many requests (on however many instances)
// find them stale at the same time: an in-process single flight plus a Redis lock. When the
// IdP refuses, the grant is revoked so the client is sent to sign in again.
import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import type { Logger } from 'pino';
import { destroyGrant, grantOwner, type GrantEndHook } from '../grants/end.js';
import type { InvalidationBus } from '../storage/invalidation.js';
import type { KeyValueStore } from '../storage/store.js';
import { AuditLog } from '../telemetry/audit.js';
import { ProxyMetrics } from '../telemetry/metrics.js';
import { checkAccess } from './access-policy.js';
import type { IdentityProviders } from './providers.js';
import { UpstreamRefreshRefused } from './upstream.js';
import type { UpstreamTokens, UpstreamTokenVault } from './vault.js';
import { keys } from '../storage/keys.js';

const LOCK_TTL_SECONDS = 30;
const WAIT_STEP_MS = 50;
const WAIT_LIMIT_MS = 15_000;

export interface RefreshObservers {
  metrics: ProxyMetrics;
  audit: AuditLog;
}

export class UpstreamRefresher {
  readonly #inFlight = new Map<string, Promise<UpstreamTokens | undefined>>();
  readonly #metrics: ProxyMetrics;
  readonly #audit: AuditLog;

  constructor(
    private readonly store: KeyValueStore,
    private readonly vault: UpstreamTokenVault,
    private readonly providers: IdentityProviders,
    private readonly bus: InvalidationBus,
    private readonly logger: Logger,
    private readonly onGrantEnd?: GrantEndHook,
    observers?: RefreshObservers,
  ) {
    this.#metrics = observers?.metrics ?? new ProxyMetrics();
    this.#audit = observers?.audit ?? new AuditLog(logger);
  }

  /** New tokens for the grant, or undefined when the grant had to be revoked. */
  refresh(grantId: string, stale: UpstreamTokens): Promise<UpstreamTokens | undefined> {
    let flight = this.#inFlight.get(grantId);
    if (!flight) {
      flight = this.#refreshOnce(grantId, stale).finally(() => this.#inFlight.delete(grantId));
      this.#inFlight.set(grantId, flight);
    }
    return flight;
  }

  async #refreshOnce(grantId: string, stale: UpstreamTokens): Promise<UpstreamTokens | undefined> {
    const lock = keys.upstreamRefreshLock(grantId);
    const owner = randomUUID();
    const deadline = Date.now() + WAIT_LIMIT_MS;
    while (!(await this.store.setIfAbsent(lock, owner, LOCK_TTL_SECONDS))) {
      // Another instance is refreshing: use its result as soon as it is stored.
      const current = await this.vault.load(grantId);
      if (!current) return undefined;
      if (current.accessToken !== stale.accessToken) return current;
      if (Date.now() > deadline) throw new Error('timed out waiting for another instance to refresh upstream tokens');
      await delay(WAIT_STEP_MS);
    }
    try {
      const current = await this.vault.load(grantId);
      if (!current) return undefined;
      if (current.accessToken !== stale.accessToken) return current;
      let next: UpstreamTokens;
      let policyRefusal = false;
      try {
        // The provider the grant was signed in with, and its access policy.
        const { upstream, settings } = this.providers.of(current);
        const refreshed = await upstream.refresh(current);
        next = { ...refreshed.tokens, ...(current.provider !== undefined ? { provider: current.provider } : {}) };
        // Who may sign in is checked again: a user removed from the allowlist loses access here.
        const decision = refreshed.profile ? checkAccess(settings.access, refreshed.profile) : { allowed: true as const };
        if (!decision.allowed) {
          policyRefusal = true;
          throw new UpstreamRefreshRefused(`access policy: ${decision.reason}`);
        }
      } catch (err) {
        // An outage of the IdP is not the end of the session: the caller answers 503 and keeps it.
        if (!(err instanceof UpstreamRefreshRefused)) {
          this.#metrics.upstreamRefresh('failed');
          throw err;
        }
        this.#metrics.upstreamRefresh(policyRefusal ? 'denied_by_policy' : 'refused');
        this.logger.info({ grantId, reason: (err as Error).message }, 'upstream refresh refused; grant revoked');
        await destroyGrant(this.store, grantId, {
          bus: this.bus,
          onGrantEnd: this.onGrantEnd,
          audit: { log: this.#audit, reason: policyRefusal ? 'access_policy' : 'upstream_refused' },
        });
        return undefined;
      }
      if (!(await this.vault.update(grantId, next))) return undefined;
      // Cached callers of this grant hold the old upstream token.
      await this.bus.publish({ grantId });
      this.#metrics.upstreamRefresh('success');
      this.#audit.grantRefreshed(grantId, await grantOwner(this.store, grantId), 'upstream');
      return next;
    } finally {
      if ((await this.store.get(lock)) === owner) await this.store.del(lock);
    }
  }
}
