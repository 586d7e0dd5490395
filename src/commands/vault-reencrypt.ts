// `mcp-auth-proxy vault-reencrypt`: after prepending a new key to MCP_AUTH_PROXY_VAULT_KEYS (or
// to OIDC_PROVIDER_JWKS when vault keys are derived), rewrite every stored upstream-token entry
// with it, so the old key can then be removed.
import { UpstreamTokenVault } from '../identity/vault.js';
import { EXIT, UsageError, type Command } from './command.js';
import { withRedis } from './operator-store.js';

export const command: Command = {
  help: `Usage: <cli> vault-reencrypt

Finishes a vault key rotation: rewrites every stored upstream token with the first key of
MCP_AUTH_PROXY_VAULT_KEYS (or the key derived from the first key of OIDC_PROVIDER_JWKS when vault
keys are derived), keeping each entry's expiry. Afterwards the older keys can be removed.
Reads the proxy's configuration (environment and .env); needs Redis.

Exit status: 0 every entry is sealed with the current key; 3 some entries no configured key
opens (they were left alone; their grants end when they expire or fail); 1 failure.

Example (Heroku): heroku run <cli> vault-reencrypt
`,
  options: {},
  async run({ positionals }, io) {
    if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    return withRedis(io, async (store, config) => {
      const counts = await new UpstreamTokenVault(store, config.vaultKeys).reencryptAll();
      io.out(`re-encrypted ${counts.reencrypted}, already current ${counts.current}, unreadable with the configured keys ${counts.unreadable}\n`);
      return counts.unreadable > 0 ? EXIT.incomplete : EXIT.ok;
    });
  },
};
