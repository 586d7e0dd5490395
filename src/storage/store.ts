// The key-value operations the proxy needs from its storage, small enough to implement on
// Redis (shared by every instance) and in memory (local use only). Keys are unprefixed here;
// each implementation applies its own namespace.

export interface KeyValueStore {
  /** False while the store cannot be reached (requests then fail fast instead of queueing). */
  readonly available: boolean;
  /**
   * True since a write was refused for want of memory (Redis at maxmemory with noeviction), until
   * a write succeeds again. Reads, deletions and revocations still work meanwhile.
   */
  readonly refusingWrites: boolean;
  get(key: string): Promise<string | undefined>;
  /** Writes a value that expires after ttlSeconds. */
  set(key: string, value: string, ttlSeconds: number): Promise<void>;
  /** Writes only if the key does not exist; true when written (used for locks and one-time markers). */
  setIfAbsent(key: string, value: string, ttlSeconds: number): Promise<boolean>;
  /** Replaces an existing value and keeps its expiry; false when the key does not exist. */
  replace(key: string, value: string): Promise<boolean>;
  /** Reads and deletes in one step, so a one-time value can be used once. */
  take(key: string): Promise<string | undefined>;
  /** Pushes the expiry of an existing key out to ttlSeconds from now; never brings it closer. */
  extend(key: string, ttlSeconds: number): Promise<void>;
  del(...keys: string[]): Promise<void>;
  /** Adds one to a counter that expires ttlSeconds after its first increment; returns the new count. */
  increment(key: string, ttlSeconds: number): Promise<number>;
  /** Adds a member to a set whose members expire on their own; expired members are pruned on write. */
  indexAdd(index: string, member: string, expiresAtSeconds: number): Promise<void>;
  /** The unexpired members of a set. */
  indexMembers(index: string): Promise<string[]>;
  /** Removes members from a set before they expire (the thing they point at is gone). */
  indexRemove(index: string, ...members: string[]): Promise<void>;
  /** Broadcasts to every subscriber of the channel, on every instance. */
  publish(channel: string, message: string): Promise<void>;
  /**
   * Receives the channel's messages. `onGap` is called when messages may have been missed
   * (the subscription reconnected), so callers can drop what they derived from them.
   */
  subscribe(channel: string, onMessage: (message: string) => void, onGap: () => void): Promise<void>;
  /** Every key starting with `prefix` (for maintenance commands, not for request paths). */
  keysWithPrefix(prefix: string): AsyncIterable<string>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

export const nowSeconds = (): number => Math.floor(Date.now() / 1000);

/**
 * Whether the store is why a request failed (unreachable, or refusing writes): such failures are
 * 503 temporarily_unavailable with Retry-After, not 500, and pass by themselves.
 */
export const storeFailing = (store: KeyValueStore): boolean => !store.available || store.refusingWrites;

/** Retry-After of such a 503: a full store (memory to be freed by an operator) takes longer than a reconnect. */
export const storeRetryAfterSeconds = (store: KeyValueStore): number => (store.refusingWrites ? 30 : 5);
