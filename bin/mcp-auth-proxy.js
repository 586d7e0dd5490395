#!/usr/bin/env node
// Command-line entry: `mcp-auth-proxy start` (default) runs the proxy; `verify` is the
// release-phase check (the same as MCP_AUTH_PROXY_VERIFY_RELEASE=true).
import { existsSync } from 'node:fs';

const main = new URL('../dist/main.js', import.meta.url);
if (!existsSync(main)) {
  process.stderr.write('mcp-auth-proxy is not built yet: run `npm run build` first.\n');
  process.exit(1);
}

const [command = 'start'] = process.argv.slice(2);
const { main: run } = await import(main.href);
switch (command) {
  case 'start':
    await run(process.env);
    break;
  case 'verify':
    await run({ ...process.env, MCP_AUTH_PROXY_VERIFY_RELEASE: 'true' });
    break;
  default:
    process.stderr.write(`unknown command "${command}"\nusage: mcp-auth-proxy [start|verify]\n`);
    process.exit(2);
}
