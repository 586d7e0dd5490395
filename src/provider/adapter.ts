// oidc-provider storage adapter over our KeyValueStore. Every record has a TTL; tokens of a
// grant are indexed under the grant so the whole grant can be revoked at once.
import type { Adapter, AdapterPayload } from 'oidc-provider';
import type { AuditLog, GrantOwner, GrantRevocationReason } from '../telemetry/audit.js';
import { tokenHash, type InvalidationBus } from '../storage/invalidation.js';
import type { KeyValueStore } from '../storage/store.js';
import { nowSeconds } from '../storage/store.js';

/** Records the provider stores without an expiry (registered clients) live this long since last use. */
export const DEFAULT_RECORD_TTL_SECONDS = 30 * 24 * 3600;

const CONSUMABLE = new Set(['AuthorizationCode', 'RefreshToken', 'DeviceCode', 'BackchannelAuthenticationRequest']);
// Models whose lifetime slides forward while they are used.
const SLIDING = new Set(['Client']);

export const recordKey = (model: string, id: string): string => `${model}:${id}`;
export const grantIndexKey = (grantId: string): string => `grant:${grantId}`;
/** The grants of one user (upstream `sub`), for operators listing and revoking them. */
export const accountGrantsKey = (accountId: string): string => `account-grants:${Buffer.from(accountId).toString('base64url')}`;
const userCodeKey = (userCode: string): string => `userCode:${userCode}`;
const uidKey = (uid: string): string => `uid:${uid}`;

/** Told before a grant's records are deleted (to revoke its upstream tokens at the IdP). */
export type GrantEndHook = (grantId: string) => Promise<void>;

export interface GrantEnd {
  bus?: InvalidationBus | undefined;
  onGrantEnd?: GrantEndHook | undefined;
}

/** Who holds a grant (read from its record), for the audit log. */
export async function grantOwner(store: KeyValueStore, grantId: string): Promise<GrantOwner> {
  const raw = await store.get(recordKey('Grant', grantId));
  const payload = raw === undefined ? {} : (JSON.parse(raw) as AdapterPayload);
  return { accountId: payload.accountId, clientId: payload.clientId };
}

async function deleteGrantIndex(store: KeyValueStore, grantId: string, { bus, onGrantEnd }: GrantEnd): Promise<void> {
  const index = grantIndexKey(grantId);
  await onGrantEnd?.(grantId);
  await store.del(...(await store.indexMembers(index)), index);
  await bus?.publish({ grantId });
}

export interface DestroyGrant extends GrantEnd {
  /** Writes the `grant.revoked` audit line; left out only for a grant that was never handed out. */
  audit?: { log: AuditLog; reason: GrantRevocationReason };
}

/** Deletes the grant record and its entry in its user's index. */
async function deleteGrantRecord(store: KeyValueStore, grantId: string): Promise<void> {
  const key = recordKey('Grant', grantId);
  const raw = await store.get(key);
  await store.del(key);
  const accountId = raw === undefined ? undefined : (JSON.parse(raw) as AdapterPayload).accountId;
  if (typeof accountId === 'string') await store.indexRemove(accountGrantsKey(accountId), grantId);
}

/** Removes a grant and everything that belongs to it, whoever asks (upstream refresh failure, operators). */
export async function destroyGrant(store: KeyValueStore, grantId: string, end: DestroyGrant = {}): Promise<void> {
  const owner = end.audit ? await grantOwner(store, grantId) : undefined;
  await deleteGrantRecord(store, grantId);
  await deleteGrantIndex(store, grantId, end);
  if (end.audit && owner) end.audit.log.grantRevoked(grantId, owner, end.audit.reason);
}

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
}

export function createAdapterClass(store: KeyValueStore, { bus, refreshReplayGraceSeconds = 0, onGrantEnd, cleanClient }: AdapterOptions = {}): new (
  model: string,
) => Adapter {
  return class StoreAdapter implements Adapter {
    constructor(readonly model: string) {}

    async upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void> {
      const key = recordKey(this.model, id);
      const ttl = expiresIn && expiresIn > 0 ? expiresIn : DEFAULT_RECORD_TTL_SECONDS;
      await store.set(key, JSON.stringify(payload), ttl);
      const expiresAt = nowSeconds() + ttl;
      if (payload.grantId) await store.indexAdd(grantIndexKey(payload.grantId), key, expiresAt);
      // Members expire with their grant, so the index never outlives what it lists.
      if (this.model === 'Grant' && typeof payload.accountId === 'string') {
        await store.indexAdd(accountGrantsKey(payload.accountId), id, expiresAt);
      }
      if (payload.userCode) await store.set(userCodeKey(payload.userCode), id, ttl);
      if (payload.uid) await store.set(uidKey(payload.uid), id, ttl);
    }

    async find(id: string): Promise<AdapterPayload | undefined> {
      const key = recordKey(this.model, id);
      const raw = await store.get(key);
      if (raw === undefined) return undefined;
      if (SLIDING.has(this.model)) await store.touch(key, DEFAULT_RECORD_TTL_SECONDS);
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
      const id = await store.get(userCodeKey(userCode));
      return id === undefined ? undefined : this.find(id);
    }

    async findByUid(uid: string): Promise<AdapterPayload | undefined> {
      const id = await store.get(uidKey(uid));
      return id === undefined ? undefined : this.find(id);
    }

    async consume(id: string): Promise<void> {
      if (!CONSUMABLE.has(this.model)) return;
      const key = recordKey(this.model, id);
      const raw = await store.get(key);
      if (raw === undefined) return;
      const payload = JSON.parse(raw) as AdapterPayload;
      // The first consumption counts: the grace window does not move with racing duplicates.
      if (payload.consumed !== undefined) return;
      await store.replace(key, JSON.stringify({ ...payload, consumed: nowSeconds() }));
    }

    async destroy(id: string): Promise<void> {
      if (this.model === 'Grant') {
        // A destroyed grant takes everything indexed under it (tokens, upstream tokens) along.
        await deleteGrantRecord(store, id);
        await deleteGrantIndex(store, id, { bus, onGrantEnd });
        return;
      }
      await store.del(recordKey(this.model, id));
      if (this.model === 'AccessToken') await bus?.publish({ tokenHash: tokenHash(id) });
    }

    async revokeByGrantId(grantId: string): Promise<void> {
      await deleteGrantIndex(store, grantId, { bus, onGrantEnd });
    }
  };
}
