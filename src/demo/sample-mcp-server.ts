// The demo's MCP server, which the proxy runs as its child (MCP_SERVER_RUN_COMMAND) when nothing
// is configured. A real MCP server (the official SDK over Streamable HTTP, stateless) whose tools
// show what an MCP server behind the proxy receives: the user's upstream access token (never the
// client's) and the identity headers. Its own process, so it reads its environment itself:
//   PORT               where to listen (127.0.0.1), set by the proxy from MCP_SERVER_URL
//   DEMO_USERINFO_URL  the demo IdP's userinfo endpoint, called with the upstream token
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import * as z from 'zod';

const port = Number(process.env.PORT);
const userinfoUrl = process.env.DEMO_USERINFO_URL;
if (!Number.isInteger(port) || port <= 0) throw new Error('sample MCP server: PORT is required');

/** What the proxy adds to every request it passes on (X-MCP-* under their default names). */
const PROXY_HEADERS = ['x-mcp-user-id', 'x-mcp-user-email', 'x-mcp-client-id', 'x-authorization-scope', 'x-dynamic-client-id'];

/** Calls the IdP as the user, with the token the proxy sent: what a real server does with its API. */
async function userinfo(authorization: string | undefined): Promise<unknown> {
  if (!authorization?.startsWith('Bearer ')) return { error: 'no bearer token received' };
  if (!userinfoUrl) return { error: 'DEMO_USERINFO_URL is not set' };
  try {
    const res = await fetch(userinfoUrl, { headers: { authorization } });
    return res.ok ? await res.json() : { error: `the identity provider answered ${res.status}` };
  } catch (err) {
    return { error: `the identity provider could not be reached: ${(err as Error).message}` };
  }
}

async function whoami(headers: IncomingHttpHeaders): Promise<Record<string, unknown>> {
  return {
    proxy_headers: Object.fromEntries(PROXY_HEADERS.flatMap((name) => (headers[name] === undefined ? [] : [[name, headers[name]]]))),
    // Only whether a token came: a demo should not teach printing tokens.
    upstream_access_token: headers.authorization ? "received (the user's token from the identity provider)" : 'missing',
    identity_provider_userinfo: await userinfo(headers.authorization),
  };
}

function buildServer(): McpServer {
  const server = new McpServer({ name: 'mcp-auth-proxy-demo', version: '1.0.0' });
  server.registerTool(
    'whoami',
    {
      title: 'Who am I?',
      description:
        'Who is calling: the identity headers the proxy added, and what the identity provider says when this server calls it with the upstream access token it received',
    },
    async (extra) => {
      const report = await whoami((extra.requestInfo?.headers ?? {}) as IncomingHttpHeaders);
      return { content: [{ type: 'text', text: JSON.stringify(report, null, 2) }] };
    },
  );
  server.registerTool(
    'echo',
    { title: 'Echo', description: 'Returns the text it is given', inputSchema: { text: z.string() } },
    async ({ text }) => ({ content: [{ type: 'text', text }] }),
  );
  server.registerTool('time', { title: 'Time', description: 'The current time on this server (ISO 8601, UTC)' }, async () => ({
    content: [{ type: 'text', text: new Date().toISOString() }],
  }));
  return server;
}

function notFound(res: ServerResponse): void {
  res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'not_found' }));
}

const httpServer = createServer((req, res) => {
  if (new URL(req.url ?? '/', 'http://127.0.0.1').pathname !== '/mcp') return notFound(res);
  // Stateless: a server and transport per request, closed with it.
  const server = buildServer();
  const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
  res.on('close', () => {
    void transport.close();
    void server.close();
  });
  server
    .connect(transport)
    .then(() => transport.handleRequest(req, res))
    .catch((err: unknown) => {
      console.error('sample MCP server error', err);
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32603, message: 'Internal error' }, id: null }));
    });
});

httpServer.listen(port, '127.0.0.1', () => console.log(`sample MCP server listening on 127.0.0.1:${port}`));

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    httpServer.close(() => process.exit(0));
    httpServer.closeAllConnections();
  });
}
