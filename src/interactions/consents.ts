// Consent remembered per (user, client), not per client: one client id (a CIMD document, a
// shared DCR registration) is used by many people, and each must have confirmed it themselves.
import type { KeyValueStore } from '../storage/store.js';

const rememberedKey = (accountId: string, clientId: string): string =>
  `consent:${Buffer.from(accountId).toString('base64url')}:${Buffer.from(clientId).toString('base64url')}`;
const askAgainKey = (uid: string): string => `consent-ask-again:${uid}`;

export class Consents {
  constructor(
    private readonly store: KeyValueStore,
    /** 0: always ask. */
    private readonly ttlSeconds: number,
  ) {}

  async remember(accountId: string, clientId: string): Promise<void> {
    if (this.ttlSeconds > 0) await this.store.set(rememberedKey(accountId, clientId), '1', this.ttlSeconds);
  }

  /** After an operator revoked the user's grant of this client: the user confirms it again. */
  async forget(accountId: string, clientId: string): Promise<void> {
    await this.store.del(rememberedKey(accountId, clientId));
  }

  async isRemembered(accountId: string, clientId: string): Promise<boolean> {
    return this.ttlSeconds > 0 && (await this.store.get(rememberedKey(accountId, clientId))) !== undefined;
  }

  /** The user who signed in upstream is not the one whose consent was remembered: show the page. */
  async askAgain(uid: string): Promise<void> {
    await this.store.set(askAgainKey(uid), '1', 600);
  }

  async mustAsk(uid: string): Promise<boolean> {
    return (await this.store.get(askAgainKey(uid))) !== undefined;
  }
}
