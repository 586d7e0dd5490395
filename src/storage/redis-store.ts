// Redis-backed store shared by every instance of the proxy (Heroku Key-Value Store in production).
import { Redis } from 'ioredis';
import { nowSeconds, type KeyValueStore } from './store.js';

export interface RedisStoreOptions {
  url: string;
  prefix: string;
  /** Verify the server certificate of rediss:// URLs (Heroku's is self-signed). */
  tlsVerify: boolean;
  /** PEM certificates to trust for rediss:// instead of the system's CAs. */
  tlsCa?: string;
  /** Bound of each connection attempt, TLS handshake included (ioredis' default: 10 s). */
  connectTimeoutMs?: number;
}

/** Why the first connection failed, with the underlying error's code (e.g. a TLS verification code). */
export class RedisConnectError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
    this.name = 'RedisConnectError';
  }
}

/**
 * Delay before reconnection attempt `attempt` (1-based): 100 ms doubling up to about 5 s, with
 * ±20% jitter so instances that lost Redis together do not reconnect in lockstep.
 */
export function reconnectDelay(attempt: number, random: () => number = Math.random): number {
  const base = Math.min(100 * 2 ** Math.min(attempt - 1, 16), 5000);
  return Math.round(base * (0.8 + 0.4 * random()));
}

/**
 * A key of another Redis type than ours: another program's record under our prefix (Heroku's
 * proxy keeps tokens in hashes and grant lists under `oidc:`, its default, which operators keep
 * when switching). It is not ours to read: it reads as absent, and our writes replace it.
 */
const isForeignType = (err: unknown): boolean => err instanceof Error && err.message.startsWith('WRONGTYPE');

/**
 * Redis refusing a write for want of memory (maxmemory reached, noeviction): `OOM command not
 * allowed…`, or a transaction aborted because one of its commands was.
 */
export function isOutOfMemory(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (err.message.startsWith('OOM')) return true;
  const previous = (err as { previousErrors?: unknown[] }).previousErrors;
  return Array.isArray(previous) && previous.some(isOutOfMemory);
}

async function absentIfForeign<T>(read: Promise<T>, absent: T): Promise<T> {
  try {
    return await read;
  } catch (err) {
    if (isForeignType(err)) return absent;
    throw err;
  }
}

export class RedisStore implements KeyValueStore {
  readonly client: Redis;
  readonly #prefix: string;
  #subscriber: Redis | undefined;
  #refusingWrites = false;

  constructor({ url, prefix, tlsVerify, tlsCa, connectTimeoutMs = 10_000 }: RedisStoreOptions) {
    this.#prefix = prefix;
    this.client = new Redis(url, {
      keyPrefix: prefix,
      lazyConnect: true,
      connectTimeout: connectTimeoutMs,
      // Fail requests fast while disconnected instead of queueing them unboundedly.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      // Reconnect for ever: requests fail closed (503) meanwhile and recover by themselves.
      retryStrategy: (attempt) => reconnectDelay(attempt),
      ...(url.startsWith('rediss:') ? { tls: { rejectUnauthorized: tlsVerify, ...(tlsCa ? { ca: tlsCa } : {}) } } : {}),
    });
  }

  /** Connects once at startup so a wrong URL or an unreachable server stops the boot with a clear error. */
  get available(): boolean {
    return this.client.status === 'ready';
  }

  get refusingWrites(): boolean {
    return this.#refusingWrites;
  }

  /** A write: whether Redis refused it for want of memory is remembered until one succeeds. */
  async #write<T>(command: Promise<T>): Promise<T> {
    try {
      const result = await command;
      this.#refusingWrites = false;
      return result;
    } catch (err) {
      if (isOutOfMemory(err)) this.#refusingWrites = true;
      throw err;
    }
  }

  async connect(): Promise<void> {
    // ioredis rejects with a bare "Connection is closed."; the reason comes as an 'error' event.
    let cause: (Error & { code?: string }) | undefined;
    const remember = (err: Error) => (cause = err);
    this.client.on('error', remember);
    try {
      await this.client.connect();
      await this.ping();
    } catch (err) {
      const reason = cause ?? (err as Error & { code?: string });
      throw new RedisConnectError(reason.message || String(reason), reason.code);
    } finally {
      this.client.off('error', remember);
    }
  }

  async get(key: string): Promise<string | undefined> {
    return (await absentIfForeign(this.client.get(key), null)) ?? undefined;
  }

  async set(key: string, value: string, ttlSeconds: number): Promise<void> {
    await this.#write(this.client.set(key, value, 'EX', ttlSeconds));
  }

  async setIfAbsent(key: string, value: string, ttlSeconds: number): Promise<boolean> {
    return (await this.#write(this.client.set(key, value, 'EX', ttlSeconds, 'NX'))) === 'OK';
  }

  async replace(key: string, value: string): Promise<boolean> {
    return (await this.#write(this.client.set(key, value, 'KEEPTTL', 'XX'))) === 'OK';
  }

  async take(key: string): Promise<string | undefined> {
    return (await absentIfForeign(this.client.getdel(key), null)) ?? undefined;
  }

  async extend(key: string, ttlSeconds: number): Promise<void> {
    await this.#write(this.client.expire(key, ttlSeconds, 'GT'));
  }

  async del(...keys: string[]): Promise<void> {
    if (keys.length > 0) await this.client.del(...keys);
  }

  async increment(key: string, ttlSeconds: number): Promise<number> {
    const results = await this.#write(this.client.multi().incr(key).expire(key, ttlSeconds, 'NX').exec());
    const [error, count] = results?.[0] ?? [new Error('INCR returned nothing'), 0];
    if (error) throw error;
    return Number(count);
  }

  async indexAdd(index: string, member: string, expiresAtSeconds: number): Promise<void> {
    // A sorted set scored by expiry: pruning on every write keeps it bounded by live members,
    // and the key itself lives as long as its longest-lived member.
    const results = await this.#write(
      this.client
        .multi()
        .zremrangebyscore(index, '-inf', nowSeconds())
        .zadd(index, 'GT', expiresAtSeconds, member)
        .expireat(index, expiresAtSeconds, 'GT')
        .expireat(index, expiresAtSeconds, 'NX')
        .exec(),
    );
    const failed = results?.find(([error]) => error)?.[0];
    if (!failed) return;
    if (!isForeignType(failed)) throw failed;
    // Another program's record under this name: ours replaces it.
    await this.client.del(index);
    await this.indexAdd(index, member, expiresAtSeconds);
  }

  async indexMembers(index: string): Promise<string[]> {
    return absentIfForeign(this.client.zrangebyscore(index, `(${nowSeconds()}`, '+inf'), []);
  }

  async indexRemove(index: string, ...members: string[]): Promise<void> {
    if (members.length > 0) await absentIfForeign(this.client.zrem(index, ...members), 0);
  }

  async publish(channel: string, message: string): Promise<void> {
    // keyPrefix does not apply to channels: prefix them so deployments sharing a Redis stay apart.
    await this.client.publish(this.#prefix + channel, message);
  }

  async subscribe(channel: string, onMessage: (message: string) => void, onGap: () => void): Promise<void> {
    // A subscribed connection can run no other command: use a dedicated one, with an offline queue
    // so it resubscribes by itself after a reconnect.
    this.#subscriber ??= this.client.duplicate({ keyPrefix: '', enableOfflineQueue: true, lazyConnect: false });
    const subscriber = this.#subscriber;
    const name = this.#prefix + channel;
    let connectedBefore = false;
    subscriber.on('ready', () => {
      if (connectedBefore) onGap();
      connectedBefore = true;
    });
    subscriber.on('error', () => {}); // reported by the main connection's handler
    subscriber.on('message', (from: string, message: string) => {
      if (from === name) onMessage(message);
    });
    await subscriber.subscribe(name);
  }

  async *keysWithPrefix(prefix: string): AsyncIterable<string> {
    // SCAN sees full key names: match under our namespace and hand back unprefixed keys.
    const escaped = (this.#prefix + prefix).replace(/[*?[\]\\]/g, '\\$&');
    for await (const batch of this.client.scanStream({ match: `${escaped}*`, count: 500 })) {
      for (const key of batch as string[]) yield key.slice(this.#prefix.length);
    }
  }

  async ping(): Promise<void> {
    await this.client.ping();
  }

  async close(): Promise<void> {
    this.#subscriber?.disconnect();
    this.client.disconnect();
  }
}
