// `mcp-auth-proxy start` and `verify`: the proxy itself (src/main.ts), which runs until a signal
// and ends the process on its own.
import { UsageError, type Command } from './command.js';

const CONFIGURATION = `Configuration comes from the environment and a .env file in the current directory (real
variables win); \`<cli> config\` shows it and every problem in it.`;

export const start: Command = {
  help: `Usage: <cli> [start]

Runs the proxy: connects to Redis, loads the identity provider's metadata (while the IdP does not
answer, it starts anyway and retries in the background), starts the MCP server child
(MCP_SERVER_RUN_COMMAND), and listens on PORT until SIGTERM or SIGINT.
${CONFIGURATION}

Exit status: 0 stopped by a signal; 1 bad configuration, failed startup, or the MCP server exited.
`,
  options: {},
  async run({ positionals }, io) {
    if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    const { main } = await import('../main.js');
    await main({ ...io.env });
    return undefined;
  },
};

export const verify: Command = {
  help: `Usage: <cli> verify

The release-phase check (the same as MCP_AUTH_PROXY_VERIFY_RELEASE=true): boots everything as
\`start\` does (configuration, Redis, identity provider discovery, the MCP server child), then
stops, prints "Verified release launches. Exit status 0" and exits 0. Anything wrong stops it
with exit status 1 and a message naming the variable, an identity provider that does not answer
discovery too.
${CONFIGURATION}
`,
  options: {},
  async run({ positionals }, io) {
    if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    const { main } = await import('../main.js');
    await main({ ...io.env, MCP_AUTH_PROXY_VERIFY_RELEASE: 'true' });
    return undefined;
  },
};
