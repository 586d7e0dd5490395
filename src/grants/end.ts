// Ending a grant: its record, its tokens (indexed under it), its entry in its user's index, the
// caches of every instance and, through the hook, its upstream tokens at the IdP. Shared by the
// authorization server (oidc-provider revoking a grant, a replay), the upstream refresher (the IdP
// ended the session) and the operators' commands, so it belongs to none of them.
import type { AuditLog, GrantOwner, GrantRevocationReason } from '../telemetry/audit.js';
import type { InvalidationBus } from '../storage/invalidation.js';
import type { KeyValueStore } from '../storage/store.js';
import { keys } from '../storage/keys.js';

/** The fields of oidc-provider's Grant record read here. */
interface GrantRecord {
  accountId?: string;
  clientId?: string;
}

/** Told before a grant's records are deleted (to revoke its upstream tokens at the IdP). */
export type GrantEndHook = (grantId: string) => Promise<void>;

export interface GrantEnd {
  bus?: InvalidationBus | undefined;
  onGrantEnd?: GrantEndHook | undefined;
}

/** Who holds a grant (read from its record), for the audit log. */
export async function grantOwner(store: KeyValueStore, grantId: string): Promise<GrantOwner> {
  const raw = await store.get(keys.record('Grant', grantId));
  const payload = raw === undefined ? {} : (JSON.parse(raw) as GrantRecord);
  return { accountId: payload.accountId, clientId: payload.clientId };
}

/**
 * Grant ends under way in this process: oidc-provider revokes a grant once per token model, in
 * parallel, and each would otherwise revoke its upstream tokens at the IdP again.
 */
const ending = new Map<string, Promise<void>>();

/** Deletes a grant's tokens and index, once at a time per grant in this process (the hook runs first). */
export function deleteGrantIndex(store: KeyValueStore, grantId: string, end: GrantEnd): Promise<void> {
  const running = ending.get(grantId);
  if (running) return running;
  const done = endGrant(store, grantId, end).finally(() => ending.delete(grantId));
  ending.set(grantId, done);
  return done;
}

async function endGrant(store: KeyValueStore, grantId: string, { bus, onGrantEnd }: GrantEnd): Promise<void> {
  const index = keys.grantIndex(grantId);
  await onGrantEnd?.(grantId);
  await store.del(...(await store.indexMembers(index)), index);
  await bus?.publish({ grantId });
}

export interface DestroyGrant extends GrantEnd {
  /** Writes the `grant.revoked` audit line; left out only for a grant that was never handed out. */
  audit?: { log: AuditLog; reason: GrantRevocationReason };
}

/** Deletes the grant record and its entry in its user's index. */
export async function deleteGrantRecord(store: KeyValueStore, grantId: string): Promise<void> {
  const key = keys.record('Grant', grantId);
  const raw = await store.get(key);
  await store.del(key);
  const accountId = raw === undefined ? undefined : (JSON.parse(raw) as GrantRecord).accountId;
  if (typeof accountId === 'string') await store.indexRemove(keys.accountGrants(accountId), grantId);
}

/** Removes a grant and everything that belongs to it, whoever asks (upstream refresh failure, operators). */
export async function destroyGrant(store: KeyValueStore, grantId: string, end: DestroyGrant = {}): Promise<void> {
  const owner = end.audit ? await grantOwner(store, grantId) : undefined;
  await deleteGrantRecord(store, grantId);
  await deleteGrantIndex(store, grantId, end);
  // One line per grant: a grant already gone (another request ended it) has no owner left.
  if (end.audit && owner?.clientId !== undefined) end.audit.log.grantRevoked(grantId, owner, end.audit.reason);
}
