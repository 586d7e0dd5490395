// `mcp-auth-proxy start` and `verify`: the proxy itself (src/main.ts), which runs until a signal
// and ends the process on its own.
import { UsageError, type Command } from './command.js';

const CONFIGURATION = `Configuration comes from the environment and a .env file in the current directory (real
variables win); \`<cli> config\` shows it and every problem in it.`;

export const start: Command = {
  help: `Usage: <cli> [start] [-- <command> [<argument>...]]

Runs the proxy: connects to Redis, loads the identity provider's metadata (while the IdP does not
answer, it starts anyway and retries in the background), starts the MCP server child
(MCP_SERVER_RUN_COMMAND), and listens on PORT until SIGTERM or SIGINT.

After --, a stdio MCP server to put behind the proxy, run once per MCP session (the same as
MCP_SERVER_TRANSPORT=stdio with MCP_SERVER_RUN_COMMAND and MCP_SERVER_RUN_ARGS_JSON), e.g.
  <cli> start -- npx -y @modelcontextprotocol/server-everything
With nothing else configured, the local demo's sign-in stands in front of it.
${CONFIGURATION}

Exit status: 0 stopped by a signal; 1 bad configuration, failed startup, or the MCP server exited.
`,
  options: {},
  async run({ positionals, rest }, io) {
    if (positionals.length > (rest?.length ?? 0)) throw new UsageError(`unexpected argument "${positionals[0]}" (a stdio MCP server's command goes after --)`);
    const { main } = await import('../main.js');
    await main({ ...io.env, ...stdioServerOf(rest) });
    return undefined;
  },
};

/** The settings `-- <command> [<argument>...]` stands for (they win over the environment's). */
function stdioServerOf(rest: string[] | undefined): Record<string, string> {
  if (rest === undefined) return {};
  const [command, ...args] = rest;
  if (!command) throw new UsageError('expected a command after --');
  return { MCP_SERVER_TRANSPORT: 'stdio', MCP_SERVER_RUN_COMMAND: command, MCP_SERVER_RUN_ARGS_JSON: JSON.stringify(args) };
}

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
