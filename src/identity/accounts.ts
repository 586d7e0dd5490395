// What the proxy remembers of a user between sign-ins: the few claims it shows and passes on,
// and an email → account index so operators can find a user's grants by email.
import { nowSeconds, type KeyValueStore } from '../storage/store.js';
import type { UpstreamIdentityResult } from './upstream.js';
import { keys } from '../storage/keys.js';

export type AccountClaims = UpstreamIdentityResult['claims'];


export class AccountStore {
  constructor(
    private readonly store: KeyValueStore,
    private readonly ttlSeconds: number,
  ) {}

  async save(accountId: string, claims: AccountClaims): Promise<void> {
    await this.store.set(keys.account(accountId), JSON.stringify(claims), this.ttlSeconds);
    if (claims.email) await this.store.indexAdd(keys.accountsByEmail(claims.email), accountId, nowSeconds() + this.ttlSeconds);
  }

  async find(accountId: string): Promise<AccountClaims> {
    const raw = await this.store.get(keys.account(accountId));
    return raw === undefined ? {} : (JSON.parse(raw) as AccountClaims);
  }

  async exists(accountId: string): Promise<boolean> {
    return (await this.store.get(keys.account(accountId))) !== undefined;
  }

  /** Accounts whose last sign-in carried this email (case-insensitive); an email may have changed since. */
  async findByEmail(email: string): Promise<string[]> {
    const candidates = await this.store.indexMembers(keys.accountsByEmail(email));
    const current = await Promise.all(candidates.map(async (id) => ((await this.find(id)).email?.toLowerCase() === email.toLowerCase() ? id : undefined)));
    return current.filter((id): id is string => id !== undefined);
  }
}
