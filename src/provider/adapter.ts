// oidc-provider storage adapter over our KeyValueStore. Every record has a TTL; tokens of a
// grant are indexed under the grant so the whole grant can be revoked at once.
import { errors, type Adapter, type AdapterPayload } from 'oidc-provider';
import { deleteGrantIndex, deleteGrantRecord, type GrantEndHook } from '../grants/end.js';
import { tokenHash, type InvalidationBus } from '../storage/invalidation.js';
import type { KeyValueStore } from '../storage/store.js';
import { nowSeconds } from '../storage/store.js';
import { keys } from '../storage/keys.js';

/** Records the provider stores without an expiry (other than registrations) live this long. */
export const DEFAULT_RECORD_TTL_SECONDS = 30 * 24 * 3600;
/** A registration nobody has signed in with yet (MCP_AUTH_PROXY_REGISTRATION_TTL's default). */
export const DEFAULT_UNUSED_REGISTRATION_TTL_SECONDS = 24 * 3600;

const CONSUMABLE = new Set(['AuthorizationCode', 'RefreshToken', 'DeviceCode', 'BackchannelAuthenticationRequest']);
/** A dynamic registration: the client and the token that manages it (RFC 7592). */
const REGISTRATION = new Set(['Client', 'RegistrationAccessToken']);
/**
 * Records anyone may make without signing in (a registration, an authorization or device
 * request): each has a size bound, so storage grows with requests, not with their size.
 */
const ANONYMOUS = new Set(['Client', 'RegistrationAccessToken', 'Interaction', 'DeviceCode', 'PushedAuthorizationRequest']);
export const MAX_ANONYMOUS_RECORD_BYTES = 16 * 1024;


export interface AdapterOptions {
  /** Tells every instance's caches about revoked tokens and grants. */
  bus?: InvalidationBus;
  /**
   * A refresh token consumed less than this many seconds ago is served as unconsumed, so a client
   * racing itself gets tokens instead of having its grant revoked as a replay.
   */
  refreshReplayGraceSeconds?: number;
  onGrantEnd?: GrantEndHook;
  /**
   * Rewrites a client record when it needs it (one left by Heroku's proxy, heroku-records.ts):
   * the cleaned record, or undefined when it is fine as stored.
   */
  cleanClient?: (payload: AdapterPayload) => AdapterPayload | undefined;
  /**
   * A code or refresh token came back after another request consumed it (a replay, or a race
   * lost): its grant is revoked, as oidc-provider does for a replay it sees.
   */
  onReplay?: (grantId: string) => Promise<void>;
  /**
   * Lifetime of a registration nobody has signed in with (seconds); each sign-in (a new grant)
   * then extends it to the grant's lifetime, so a client lives as long as its newest grant.
   */
  unusedRegistrationTtlSeconds?: number;
}

const CONSUMED_LABEL: Record<string, string> = {
  AuthorizationCode: 'authorization code',
  RefreshToken: 'refresh token',
  DeviceCode: 'device code',
  BackchannelAuthenticationRequest: 'backchannel authentication request',
};

export function createAdapterClass(
  store: KeyValueStore,
  { bus, refreshReplayGraceSeconds = 0, onGrantEnd, cleanClient, onReplay, unusedRegistrationTtlSeconds = DEFAULT_UNUSED_REGISTRATION_TTL_SECONDS }: AdapterOptions = {},
): new (
  model: string,
) => Adapter {
  /** Extends a registration to last at least as long as a new grant (never shortens it). */
  async function extendRegistration(clientId: string, ttl: number): Promise<void> {
    const tokenId = await store.get(keys.registrationToken(clientId));
    const registration = [keys.record('Client', clientId), ...(tokenId ? [keys.record('RegistrationAccessToken', tokenId), keys.registrationToken(clientId)] : [])];
    for (const key of registration) await store.extend(key, ttl);
  }

  return class StoreAdapter implements Adapter {
    constructor(readonly model: string) {}

    async upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void> {
      const key = keys.record(this.model, id);
      const value = JSON.stringify(payload);
      if (ANONYMOUS.has(this.model) && Buffer.byteLength(value) > MAX_ANONYMOUS_RECORD_BYTES) {
        throw new errors.InvalidRequest(`the request is too large to be kept (over ${MAX_ANONYMOUS_RECORD_BYTES / 1024} kB)`);
      }
      const ttl = expiresIn && expiresIn > 0 ? expiresIn : REGISTRATION.has(this.model) ? unusedRegistrationTtlSeconds : DEFAULT_RECORD_TTL_SECONDS;
      await store.set(key, value, ttl);
      const expiresAt = nowSeconds() + ttl;
      if (this.model === 'RegistrationAccessToken' && typeof payload.clientId === 'string') {
        await store.set(keys.registrationToken(payload.clientId), id, ttl);
      }
      // Someone signed in with the client: its registration lives as long as this grant.
      if (this.model === 'Grant' && typeof payload.clientId === 'string') await extendRegistration(payload.clientId, ttl);
      if (payload.grantId) await store.indexAdd(keys.grantIndex(payload.grantId), key, expiresAt);
      // Members expire with their grant, so the index never outlives what it lists.
      if (this.model === 'Grant' && typeof payload.accountId === 'string') {
        await store.indexAdd(keys.accountGrants(payload.accountId), id, expiresAt);
      }
      if (payload.userCode) await store.set(keys.userCode(payload.userCode), id, ttl);
      if (payload.uid) await store.set(keys.uid(payload.uid), id, ttl);
    }

    async find(id: string): Promise<AdapterPayload | undefined> {
      const key = keys.record(this.model, id);
      const raw = await store.get(key);
      if (raw === undefined) return undefined;
      let payload = JSON.parse(raw) as AdapterPayload;
      const cleaned = this.model === 'Client' ? cleanClient?.(payload) : undefined;
      if (cleaned) {
        await store.set(key, JSON.stringify(cleaned), DEFAULT_RECORD_TTL_SECONDS);
        payload = cleaned;
      }
      if (this.model === 'RefreshToken' && typeof payload.consumed === 'number' && nowSeconds() - payload.consumed < refreshReplayGraceSeconds) {
        delete payload.consumed;
      }
      return payload;
    }

    async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
      const id = await store.get(keys.userCode(userCode));
      return id === undefined ? undefined : this.find(id);
    }

    async findByUid(uid: string): Promise<AdapterPayload | undefined> {
      const id = await store.get(keys.uid(uid));
      return id === undefined ? undefined : this.find(id);
    }

    /**
     * Single use, across requests and instances: oidc-provider reads a code or refresh token,
     * checks it is unconsumed, then consumes it, so parallel requests all pass the check. The
     * consumption itself decides, in one store operation (SET NX): the first request consumes
     * it, every other one is a replay (a refresh token within the grace window excepted).
     */
    async consume(id: string): Promise<void> {
      if (!CONSUMABLE.has(this.model)) return;
      const key = keys.record(this.model, id);
      const raw = await store.get(key);
      if (raw === undefined) return;
      const payload = JSON.parse(raw) as AdapterPayload;
      const now = nowSeconds();
      const ttl = Math.max(1, (typeof payload.exp === 'number' ? payload.exp : now + DEFAULT_RECORD_TTL_SECONDS) - now);
      if (payload.consumed === undefined && (await store.setIfAbsent(keys.consumed(key), String(now), ttl))) {
        await store.replace(key, JSON.stringify({ ...payload, consumed: now }));
        return;
      }
      // Consumed before. The first consumption counts: the grace window does not move with duplicates.
      if (this.model === 'RefreshToken') {
        const consumedAt = typeof payload.consumed === 'number' ? payload.consumed : Number(await store.get(keys.consumed(key)));
        if (now - consumedAt < refreshReplayGraceSeconds) return;
      }
      if (typeof payload.grantId === 'string') await onReplay?.(payload.grantId);
      throw new errors.InvalidGrant(`${CONSUMED_LABEL[this.model]} already used`);
    }

    async destroy(id: string): Promise<void> {
      if (this.model === 'Grant') {
        // A destroyed grant takes everything indexed under it (tokens, upstream tokens) along.
        await deleteGrantRecord(store, id);
        await deleteGrantIndex(store, id, { bus, onGrantEnd });
        return;
      }
      const key = keys.record(this.model, id);
      await store.del(key, ...(CONSUMABLE.has(this.model) ? [keys.consumed(key)] : []));
      if (this.model === 'AccessToken') await bus?.publish({ tokenHash: tokenHash(id) });
    }

    async revokeByGrantId(grantId: string): Promise<void> {
      await deleteGrantIndex(store, grantId, { bus, onGrantEnd });
    }
  };
}
