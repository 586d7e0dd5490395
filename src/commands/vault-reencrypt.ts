// `mcp-auth-proxy vault-reencrypt`: after prepending a new key to MCP_AUTH_PROXY_VAULT_KEYS (or
// to OIDC_PROVIDER_JWKS when vault keys are derived), rewrite every stored upstream-token entry
// with it, so the old key can then be removed.
import { loadConfig, readEnvironment, type Environment } from '../config/index.js';
import { UpstreamTokenVault } from '../identity/vault.js';
import { RedisStore } from '../storage/redis-store.js';

export async function vaultReencrypt(env: Environment, print: (line: string) => void = console.log): Promise<number> {
  const config = loadConfig(readEnvironment(env));
  if (!config.redis.url) {
    print('MCP_AUTH_PROXY_REDIS_URL: not set; the in-memory store keeps nothing to re-encrypt');
    return 1;
  }
  const store = new RedisStore({ url: config.redis.url, prefix: config.redis.prefix, tlsVerify: config.redis.tlsVerify });
  try {
    await store.connect();
    const counts = await new UpstreamTokenVault(store, config.vaultKeys).reencryptAll();
    print(`re-encrypted ${counts.reencrypted}, already current ${counts.current}, unreadable with the configured keys ${counts.unreadable}`);
    return counts.unreadable > 0 ? 2 : 0;
  } finally {
    await store.close();
  }
}
