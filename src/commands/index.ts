// Every command of `mcp-auth-proxy`, loaded only when run: `start` must not pay for the others.
import type { Command } from './command.js';

export interface CommandEntry {
  summary: string;
  load(): Promise<Command>;
}

export const COMMANDS: Record<string, CommandEntry> = {
  start: { summary: 'run the proxy (the default)', load: async () => (await import('./start.js')).start },
  verify: { summary: 'boot everything once and exit: the release-phase check', load: async () => (await import('./start.js')).verify },
  config: { summary: 'print the effective configuration (secrets masked) and every problem in it', load: async () => (await import('./config.js')).command },
  jwks: { summary: 'generate OIDC_PROVIDER_JWKS, or rotate it (--rotate)', load: async () => (await import('./jwks.js')).command },
  'hash-password': { summary: 'hash a password (from standard input) for IDENTITY_LOCAL_USERS', load: async () => (await import('./hash-password.js')).command },
  grants: { summary: "list a user's grants (by account id or email)", load: async () => (await import('./grants.js')).command },
  revoke: { summary: "revoke grants, or all of a user's grants, on every instance at once", load: async () => (await import('./revoke.js')).command },
  policy: { summary: 'show MCP_AUTH_PROXY_POLICY, or check what it lets a user do (policy check <user> <tool>)', load: async () => (await import('./policy.js')).command },
  'vault-reencrypt': {
    summary: 'after a vault key rotation, re-encrypt stored upstream tokens with the first key',
    load: async () => (await import('./vault-reencrypt.js')).command,
  },
};
