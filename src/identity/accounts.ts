// What the proxy remembers of a user between sign-ins: the few claims it shows and passes on.
import type { KeyValueStore } from '../storage/store.js';
import type { UpstreamIdentityResult } from './upstream.js';

export type AccountClaims = UpstreamIdentityResult['claims'];

const accountKey = (accountId: string): string => `account:${accountId}`;

export class AccountStore {
  constructor(
    private readonly store: KeyValueStore,
    private readonly ttlSeconds: number,
  ) {}

  async save(accountId: string, claims: AccountClaims): Promise<void> {
    await this.store.set(accountKey(accountId), JSON.stringify(claims), this.ttlSeconds);
  }

  async find(accountId: string): Promise<AccountClaims> {
    const raw = await this.store.get(accountKey(accountId));
    return raw === undefined ? {} : (JSON.parse(raw) as AccountClaims);
  }
}
