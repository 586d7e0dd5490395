// The shared store as maintenance commands reach it: the proxy's own configuration (environment
// and .env, as `start` reads it), and Redis only, since an in-memory store lives and dies inside
// the proxy process that owns it.
import { ConfigError, loadConfig, readEnvironment, type Config } from '../config/index.js';
import { connectRedis } from '../storage/redis-connect.js';
import type { RedisStore } from '../storage/redis-store.js';
import { EXIT, type CommandIO } from './command.js';

export const IN_MEMORY_EXPLANATION =
  'MCP_AUTH_PROXY_REDIS_URL (or REDIS_URL) is not set. Without Redis each proxy process keeps its clients, ' +
  'grants and tokens in its own memory, which no other process can reach (they end when it stops). ' +
  'Run this command with the same configuration as the proxy, where Redis is set.';

export const NOT_CONFIGURED =
  'Nothing is configured here (`npm start` would run the local demo): run this command with the proxy\'s ' +
  'configuration (its environment, or a .env file in this directory).';

export function loadCommandConfig(io: CommandIO): Config | undefined {
  try {
    const config = loadConfig(readEnvironment(io.env));
    if (config.demo) {
      io.err(`${NOT_CONFIGURED}\n`);
      return undefined;
    }
    return config;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    io.err(`${err.message}\n(\`<cli> config\` shows the effective configuration)\n`);
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
  let store: RedisStore;
  try {
    store = await connectRedis({ ...config.redis, url: config.redis.url });
  } catch (err) {
    io.err(`${(err as Error).message}\n`);
    return EXIT.failed;
  }
  try {
    return await use(store, config);
  } finally {
    await store.close();
  }
}
