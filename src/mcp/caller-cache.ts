// Validated bearer tokens, remembered briefly in this process so a busy MCP session does not
// cost Redis round trips on every request. Revocations, destroyed grants and upstream refreshes
// reach every instance through the InvalidationBus and drop entries at once; the TTL bounds what a
// lost message could leave behind, and a pub/sub gap clears everything.
import type { Invalidation, InvalidationBus } from '../storage/invalidation.js';
import type { McpCaller } from './caller.js';

interface Entry {
  caller: McpCaller;
  expiresAt: number;
}

export interface CallerCacheOptions {
  ttlMs: number;
  maxEntries: number;
}

export class CallerCache {
  readonly #entries = new Map<string, Entry>();
  readonly #byGrant = new Map<string, Set<string>>();

  constructor(
    bus: InvalidationBus,
    private readonly options: CallerCacheOptions,
  ) {
    bus.on((invalidation) => this.#invalidate(invalidation));
  }

  get(tokenHash: string): McpCaller | undefined {
    const entry = this.#entries.get(tokenHash);
    if (!entry) return undefined;
    if (entry.expiresAt <= Date.now()) {
      this.#delete(tokenHash);
      return undefined;
    }
    return entry.caller;
  }

  /** `tokenExpiresAt` (ms) keeps an entry from outliving its token. */
  set(tokenHash: string, caller: McpCaller, tokenExpiresAt: number): void {
    if (this.options.ttlMs <= 0) return;
    if (this.#entries.size >= this.options.maxEntries) {
      // Maps iterate in insertion order: drop the oldest entry.
      const oldest = this.#entries.keys().next().value;
      if (oldest !== undefined) this.#delete(oldest);
    }
    this.#entries.set(tokenHash, { caller, expiresAt: Math.min(tokenExpiresAt, Date.now() + this.options.ttlMs) });
    const hashes = this.#byGrant.get(caller.grantId) ?? new Set<string>();
    hashes.add(tokenHash);
    this.#byGrant.set(caller.grantId, hashes);
  }

  get size(): number {
    return this.#entries.size;
  }

  #delete(tokenHash: string): void {
    const entry = this.#entries.get(tokenHash);
    if (!entry) return;
    this.#entries.delete(tokenHash);
    const hashes = this.#byGrant.get(entry.caller.grantId);
    hashes?.delete(tokenHash);
    if (hashes?.size === 0) this.#byGrant.delete(entry.caller.grantId);
  }

  #invalidate(invalidation: Invalidation | 'everything'): void {
    if (invalidation === 'everything') {
      this.#entries.clear();
      this.#byGrant.clear();
    } else if ('tokenHash' in invalidation) {
      this.#delete(invalidation.tokenHash);
    } else {
      for (const hash of [...(this.#byGrant.get(invalidation.grantId) ?? [])]) this.#delete(hash);
    }
  }
}
