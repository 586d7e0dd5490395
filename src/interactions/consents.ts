// Consent remembered per (user, client), not per client: one client id (a CIMD document, a
// shared DCR registration) is used by many people, and each must have confirmed it themselves.
import type { KeyValueStore } from '../storage/store.js';
import { keys } from '../storage/keys.js';


export class Consents {
  constructor(
    private readonly store: KeyValueStore,
    /** 0: always ask. */
    private readonly ttlSeconds: number,
  ) {}

  async remember(accountId: string, clientId: string): Promise<void> {
    if (this.ttlSeconds > 0) await this.store.set(keys.consent(accountId, clientId), '1', this.ttlSeconds);
  }

  /** After an operator revoked the user's grant of this client: the user confirms it again. */
  async forget(accountId: string, clientId: string): Promise<void> {
    await this.store.del(keys.consent(accountId, clientId));
  }

  async isRemembered(accountId: string, clientId: string): Promise<boolean> {
    return this.ttlSeconds > 0 && (await this.store.get(keys.consent(accountId, clientId))) !== undefined;
  }

  /** The user who signed in upstream is not the one whose consent was remembered: show the page. */
  async askAgain(uid: string): Promise<void> {
    await this.store.set(keys.consentAskAgain(uid), '1', 600);
  }

  async mustAsk(uid: string): Promise<boolean> {
    return (await this.store.get(keys.consentAskAgain(uid))) !== undefined;
  }
}
