// In-process store for local development and tests of a single instance. Refused in
// production by the configuration: state would vanish on restart and not be shared.
import { EventEmitter } from 'node:events';
import { nowSeconds, type KeyValueStore } from './store.js';

interface Entry {
  value: string;
  /** Epoch milliseconds, so a 1 s TTL lasts a full second, as in Redis. */
  expiresAt: number;
}

export class MemoryStore implements KeyValueStore {
  readonly available = true;
  readonly refusingWrites = false;
  readonly #values = new Map<string, Entry>();
  readonly #indexes = new Map<string, Map<string, number>>();
  readonly #sweeper = setInterval(() => this.#sweep(), 60_000).unref();
  readonly #channels = new EventEmitter();

  #live(key: string): Entry | undefined {
    const entry = this.#values.get(key);
    if (entry && entry.expiresAt <= Date.now()) {
      this.#values.delete(key);
      return undefined;
    }
    return entry;
  }

  #sweep(): void {
    for (const [key, entry] of this.#values) if (entry.expiresAt <= Date.now()) this.#values.delete(key);
    const now = nowSeconds();
    for (const [key, members] of this.#indexes) {
      for (const [member, expiresAt] of members) if (expiresAt <= now) members.delete(member);
      if (members.size === 0) this.#indexes.delete(key);
    }
  }

  async get(key: string): Promise<string | undefined> {
    return this.#live(key)?.value;
  }

  async set(key: string, value: string, ttlSeconds: number): Promise<void> {
    this.#values.set(key, { value, expiresAt: Date.now() + ttlSeconds * 1000 });
  }

  async setIfAbsent(key: string, value: string, ttlSeconds: number): Promise<boolean> {
    if (this.#live(key)) return false;
    await this.set(key, value, ttlSeconds);
    return true;
  }

  async replace(key: string, value: string): Promise<boolean> {
    const entry = this.#live(key);
    if (!entry) return false;
    entry.value = value;
    return true;
  }

  async take(key: string): Promise<string | undefined> {
    const entry = this.#live(key);
    this.#values.delete(key);
    return entry?.value;
  }

  async extend(key: string, ttlSeconds: number): Promise<void> {
    const entry = this.#live(key);
    if (entry) entry.expiresAt = Math.max(entry.expiresAt, Date.now() + ttlSeconds * 1000);
  }

  async del(...keys: string[]): Promise<void> {
    for (const key of keys) {
      this.#values.delete(key);
      this.#indexes.delete(key);
    }
  }

  async increment(key: string, ttlSeconds: number): Promise<number> {
    const entry = this.#live(key);
    const count = entry ? Number(entry.value) + 1 : 1;
    if (entry) entry.value = String(count);
    else await this.set(key, '1', ttlSeconds);
    return count;
  }

  async indexAdd(index: string, member: string, expiresAtSeconds: number): Promise<void> {
    const members = this.#indexes.get(index) ?? new Map<string, number>();
    const now = nowSeconds();
    for (const [m, expiresAt] of members) if (expiresAt <= now) members.delete(m);
    members.set(member, Math.max(members.get(member) ?? 0, expiresAtSeconds));
    this.#indexes.set(index, members);
  }

  async indexMembers(index: string): Promise<string[]> {
    const now = nowSeconds();
    return [...(this.#indexes.get(index) ?? [])].filter(([, expiresAt]) => expiresAt > now).map(([m]) => m);
  }

  async indexRemove(index: string, ...members: string[]): Promise<void> {
    const set = this.#indexes.get(index);
    if (!set) return;
    for (const member of members) set.delete(member);
    if (set.size === 0) this.#indexes.delete(index);
  }

  async publish(channel: string, message: string): Promise<void> {
    this.#channels.emit(channel, message);
  }

  async subscribe(channel: string, onMessage: (message: string) => void): Promise<void> {
    this.#channels.on(channel, onMessage);
  }

  async *keysWithPrefix(prefix: string): AsyncIterable<string> {
    for (const key of [...this.#values.keys()]) if (key.startsWith(prefix) && this.#live(key)) yield key;
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {
    clearInterval(this.#sweeper);
    this.#channels.removeAllListeners();
  }
}
