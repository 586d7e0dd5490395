#!/usr/bin/env node
// Command-line entry (`node bin/mcp-auth-proxy.js`; `node mcp-auth-proxy/index.js` when packaged):
// start (the default), verify, config, jwks, hash-password, grants, revoke, vault-reencrypt. `--help` lists them;
// the dispatcher is src/cli.ts.
import { existsSync } from 'node:fs';

const cli = new URL('../dist/cli.js', import.meta.url);
if (!existsSync(cli)) {
  process.stderr.write('mcp-auth-proxy is not built yet: run `npm run build` first.\n');
  process.exit(1);
}

const { runCli, processIO } = await import(cli.href);
const code = await runCli(process.argv.slice(2), processIO());
// Undefined: the proxy runs on and ends the process itself. Otherwise let output drain, then exit.
if (code !== undefined) process.exitCode = code;
