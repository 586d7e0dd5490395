import { spawn, type ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';
import { freePort, waitForPort } from './ports.js';

export interface RedisServer {
  /** `redis://…`, or `rediss://…` when started with TLS. */
  url: string;
  port: number;
  /** The certificate it serves TLS with, if any. */
  tls?: RedisTls;
  stop(): Promise<void>;
}

/** TLS only (no plain-text port), as Heroku Key-Value Store; clients are not asked for certificates. */
export interface RedisTls {
  certFile: string;
  keyFile: string;
}

const REDIS_BIN = process.env.REDIS_SERVER_BIN ?? 'redis-server';

/** Starts a redis-server on a given port again (e.g. after stop(), to test recovery). */
export function startRedisOn(port: number, tls?: RedisTls): Promise<RedisServer> {
  return startOn(port, tls);
}

/** Starts a throwaway, non-persistent redis-server on 127.0.0.1:<free port> (TLS only with `tls`). */
export async function startRedis(tls?: RedisTls): Promise<RedisServer> {
  // freePort() -> spawn is racy; retry a couple of times if the port got taken meanwhile.
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    try {
      return await startOn(port, tls);
    } catch (err) {
      if (attempt >= 3 || !/address already in use/i.test(String(err))) throw err;
    }
  }
}

async function startOn(port: number, tls?: RedisTls): Promise<RedisServer> {
  // Debian's redis-server 7 is built with TLS.
  const listen = tls
    ? ['--port', '0', '--tls-port', String(port), '--tls-cert-file', tls.certFile, '--tls-key-file', tls.keyFile, '--tls-auth-clients', 'no']
    : ['--port', String(port)];
  const child = spawn(
    REDIS_BIN,
    [
      ...listen,
      '--bind', '127.0.0.1',
      '--save', '',
      '--appendonly', 'no',
      '--daemonize', 'no',
      '--loglevel', 'warning',
      '--logfile', '', // log to stdout (which we capture), not to a file
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  child.once('error', (err) => (output += err.message)); // e.g. ENOENT when redis-server is missing
  const exited = exitPromise(child);

  // Either the port opens, or redis exits early (bad flag, port taken) and we surface its output.
  const early = exited.then(() => {
    throw new Error(`redis-server exited early (code ${child.exitCode}, signal ${child.signalCode}): ${output.trim()}`);
  });
  try {
    await Promise.race([waitForPort(port), early]);
  } catch (err) {
    child.kill('SIGKILL');
    await exited;
    throw err;
  }
  early.catch(() => {}); // the exit on stop() is expected, not an error

  let stopping: Promise<void> | undefined;
  return {
    url: `${tls ? 'rediss' : 'redis'}://127.0.0.1:${port}`,
    port,
    ...(tls ? { tls } : {}),
    stop() {
      stopping ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
        await exited;
      })();
      return stopping;
    },
  };
}

function exitPromise(child: ChildProcess): Promise<void> {
  return new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    // spawn failure (e.g. ENOENT) emits 'error' and may never emit 'exit'
    child.once('error', () => resolve());
  });
}

/**
 * Makes every key starting with `keyPrefix` read-only for Redis's default user (a real storage
 * failure: writes answer NOPERM) until the returned function restores full access. Redis ACLs
 * only list what is allowed, so the allowed keys are spelled out as every key that differs from
 * the prefix at some character.
 */
export async function denyWrites(url: string, keyPrefix: string): Promise<() => Promise<void>> {
  const glob = (s: string) => s.replace(/[*?[\]\\^]/g, '\\$&');
  const allowed = [...keyPrefix].map((char, i) => `~${glob(keyPrefix.slice(0, i))}[^${glob(char)}]*`);
  // Keys that are a beginning of the prefix itself.
  for (let i = 0; i < keyPrefix.length; i++) allowed.push(`~${glob(keyPrefix.slice(0, i))}`);
  const admin = new Redis(url);
  try {
    await admin.call('ACL', 'SETUSER', 'default', 'resetkeys', ...allowed, `%R~${glob(keyPrefix)}*`);
  } finally {
    admin.disconnect();
  }
  return async () => {
    const again = new Redis(url);
    try {
      await again.call('ACL', 'SETUSER', 'default', 'resetkeys', 'allkeys');
    } finally {
      again.disconnect();
    }
  };
}

/**
 * Moves Redis's clock forward by `seconds` for every key, as if that time had passed: each key's
 * lifetime shortens by it, and the keys it ends are deleted, as expiry would. (The proxy's own
 * clock does not move: what it caches in process for a time is not affected.)
 */
export async function fastForward(url: string, seconds: number): Promise<void> {
  const redis = new Redis(url);
  try {
    for await (const batch of redis.scanStream({ count: 500 })) {
      for (const key of batch as string[]) {
        const ttl = await redis.pttl(key);
        if (ttl < 0) continue; // no expiry (or gone meanwhile)
        if (ttl <= seconds * 1000) await redis.del(key);
        else await redis.pexpire(key, ttl - seconds * 1000);
      }
    }
  } finally {
    redis.disconnect();
  }
}
