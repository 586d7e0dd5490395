// The shared store as maintenance commands reach it: the proxy's own configuration (environment
// and .env, as `start` reads it), and Redis only, since an in-memory store lives and dies inside
// the proxy process that owns it.
import { ConfigError, loadConfig, readEnvironment, type Config } from '../config/index.js';
import { RedisStore } from '../storage/redis-store.js';
import { EXIT, type CommandIO } from './command.js';

export const IN_MEMORY_EXPLANATION =
  'MCP_AUTH_PROXY_REDIS_URL (or REDIS_URL) is not set. Without Redis each proxy process keeps its clients, ' +
  'grants and tokens in its own memory, which no other process can reach (they end when it stops). ' +
  'Run this command with the same configuration as the proxy, where Redis is set.';

const CONNECT_TIMEOUT_MS = 10_000;

export function loadCommandConfig(io: CommandIO): Config | undefined {
  try {
    return loadConfig(readEnvironment(io.env));
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    io.err(`${err.message}\n(\`mcp-auth-proxy config\` shows the effective configuration)\n`);
    return undefined;
  }
}

/** Runs `use` with a connected Redis store, or answers with the exit code of why it cannot. */
export async function withRedis(io: CommandIO, use: (store: RedisStore, config: Config) => Promise<number>): Promise<number> {
  const config = loadCommandConfig(io);
  if (!config) return EXIT.failed;
  if (!config.redis.url) {
    io.err(`${IN_MEMORY_EXPLANATION}\n`);
    return EXIT.failed;
  }
  const store = new RedisStore({ url: config.redis.url, prefix: config.redis.prefix, tlsVerify: config.redis.tlsVerify });
  store.client.on('error', () => {}); // the connect below reports it
  try {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        store.connect(),
        new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${CONNECT_TIMEOUT_MS / 1000} s`)), CONNECT_TIMEOUT_MS))),
      ]);
    } catch (err) {
      io.err(`MCP_AUTH_PROXY_REDIS_URL: cannot connect to Redis at ${new URL(config.redis.url).host} (${(err as Error).message})\n`);
      return EXIT.failed;
    } finally {
      clearTimeout(timer);
    }
    return await use(store, config);
  } finally {
    await store.close();
  }
}
