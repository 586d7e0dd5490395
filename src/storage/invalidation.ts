// Tells every instance (this one at once, the others through the store's pub/sub) that what
// it may have cached about a grant or an access token is no longer true: revocation, grant
// destruction, upstream token refresh.
import { createHash } from 'node:crypto';
import type { KeyValueStore } from './store.js';
import { channels } from './keys.js';

export type Invalidation = { grantId: string } | { tokenHash: string };
export type InvalidationHandler = (invalidation: Invalidation | 'everything') => void;


/** Tokens are never published or kept as they are: only their hash. */
export const tokenHash = (token: string): string => createHash('sha256').update(token).digest('base64url');

export class InvalidationBus {
  readonly #handlers: InvalidationHandler[] = [];

  constructor(private readonly store: KeyValueStore) {}

  /** Subscribes to the other instances' invalidations. */
  async start(): Promise<void> {
    await this.store.subscribe(
      channels.invalidations,
      (message) => {
        let parsed: unknown;
        try {
          parsed = JSON.parse(message);
        } catch {
          return;
        }
        if (parsed && typeof parsed === 'object' && ('grantId' in parsed || 'tokenHash' in parsed)) {
          this.#emit(parsed as Invalidation);
        }
      },
      () => this.#emit('everything'),
    );
  }

  on(handler: InvalidationHandler): void {
    this.#handlers.push(handler);
  }

  async publish(invalidation: Invalidation): Promise<void> {
    // Locally first and synchronously: the next request on this instance must already see it.
    this.#emit(invalidation);
    await this.store.publish(channels.invalidations, JSON.stringify(invalidation));
  }

  #emit(invalidation: Invalidation | 'everything'): void {
    for (const handler of this.#handlers) handler(invalidation);
  }
}
