// What the demo prints once it runs: where to point an MCP client, how to sign in, and that it
// is a demo (with the way to run for real).
import type { Config } from '../config/types.js';
import { DEMO_ACCOUNT } from './defaults.js';

export function demoBanner(config: Config): string {
  const mcpUrl = config.mcp.resource;
  const rule = '─'.repeat(78);
  return [
    rule,
    '  mcp-auth-proxy DEMO: not for real use',
    '',
    `  MCP server URL:  ${mcpUrl}`,
    '    MCP Inspector:  npx @modelcontextprotocol/inspector  (UI: http://localhost:6274)',
    `                    Add Servers > Add manually: streamable-http, URL ${mcpUrl}; Connect`,
    `    mcp-remote:     npx mcp-remote ${mcpUrl}`,
    '',
    `  Sign in at the demo identity provider (${config.identity.serverUrl.origin}) with`,
    `    username:  ${DEMO_ACCOUNT.username}`,
    `    password:  ${DEMO_ACCOUNT.password}`,
    '',
    '  Everything is in memory and the keys are generated for this process: a restart',
    ...(config.mcp.stdio
      ? [
          `  signs everyone out. Behind the proxy runs your stdio MCP server (${config.mcp.stdio.command}),`,
          `  one process per MCP session (MCP_SERVER_STDIO_ISOLATION=${config.mcp.stdio.isolation}).`,
        ]
      : [
          '  signs everyone out. Behind the proxy runs a sample MCP server (tools: whoami, echo,',
          '  time); whoami shows what it receives: the user\'s upstream token and identity headers.',
        ]),
    '',
    '  To run for real: cp .env-template .env, fill in BASE_URL, MCP_SERVER_* and',
    '  IDENTITY_* (see README.md), then npm start again.',
    rule,
    '',
  ].join('\n');
}
