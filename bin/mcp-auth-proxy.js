#!/usr/bin/env node
// Command-line entry: `mcp-auth-proxy start` (default) runs the proxy; `verify` is the
// release-phase check (the same as MCP_AUTH_PROXY_VERIFY_RELEASE=true); `vault-reencrypt` rewrites
// stored upstream tokens with the first vault key after a rotation.
import { existsSync } from 'node:fs';

const main = new URL('../dist/main.js', import.meta.url);
if (!existsSync(main)) {
  process.stderr.write('mcp-auth-proxy is not built yet: run `npm run build` first.\n');
  process.exit(1);
}

const [command = 'start'] = process.argv.slice(2);
const { main: run } = await import(main.href);
switch (command) {
  case 'vault-reencrypt': {
    const { vaultReencrypt } = await import(new URL('../dist/commands/vault-reencrypt.js', import.meta.url).href);
    process.exitCode = await vaultReencrypt(process.env);
    break;
  }
  case 'start':
    await run(process.env);
    break;
  case 'verify':
    await run({ ...process.env, MCP_AUTH_PROXY_VERIFY_RELEASE: 'true' });
    break;
  default:
    process.stderr.write(`unknown command "${command}"\nusage: mcp-auth-proxy [start|verify|vault-reencrypt]\n`);
    process.exit(2);
}
