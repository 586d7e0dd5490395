// The environment of the proxy run as its own process on loopback, configured as an operator
// configures it on Heroku: fresh ports, a Redis, an upstream IdP, and the MCP fixture as its child.
// Shared by the process tests and the benchmark, so that each states only what it changes.
import { freePort } from './ports.js';
import { baseEnvironment, type Env } from './processes.js';
import { privateJwks } from './keys.js';

/** node's arguments to run the MCP server fixture (from the repository root). */
export const MCP_FIXTURE_ARGS = ['--import', 'tsx', 'test/fixtures/mcp-server.ts'];

export interface ProxyEnvironmentOptions {
  redisUrl: string;
  /** The upstream IdP and the proxy's client there. */
  idp: { issuer: string; clientId: string; clientSecret: string };
  /** NODE_ENV=production: JSON logs and signing keys of its own (the default); false: NODE_ENV=test. */
  production?: boolean;
  /** The proxy's port, when the IdP had to know the redirect URI first (a fresh one otherwise). */
  port?: number;
  /** The MCP fixture's arguments to node (MCP_FIXTURE_ARGS by default) and its environment. */
  mcpArgs?: string[];
  mcpEnv?: Record<string, string>;
  /** Last, so a test can change or add anything. */
  overrides?: Env;
}

export interface ProxyEnvironment {
  env: Env;
  port: number;
  mcpPort: number;
  baseUrl: string;
  mcpUrl: string;
}

export async function proxyEnvironment(options: ProxyEnvironmentOptions): Promise<ProxyEnvironment> {
  const { redisUrl, idp, production = true, mcpArgs = MCP_FIXTURE_ARGS, mcpEnv, overrides = {} } = options;
  const port = options.port ?? (await freePort());
  const mcpPort = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  const env: Env = {
    ...baseEnvironment(),
    ...(production ? { NODE_ENV: 'production', OIDC_PROVIDER_JWKS: privateJwks() } : { NODE_ENV: 'test' }),
    LOG_LEVEL: 'info',
    PORT: String(port),
    BASE_URL: baseUrl,
    LOCAL_INSECURE: 'true',
    MCP_AUTH_PROXY_LISTEN_HOST: '127.0.0.1',
    MCP_SERVER_URL: `http://127.0.0.1:${mcpPort}/mcp`,
    MCP_SERVER_RUN_COMMAND: process.execPath,
    MCP_SERVER_RUN_ARGS_JSON: JSON.stringify(mcpArgs),
    ...(mcpEnv ? { MCP_SERVER_RUN_ENV_JSON: JSON.stringify(mcpEnv) } : {}),
    MCP_AUTH_PROXY_REDIS_URL: redisUrl,
    IDENTITY_SERVER_URL: idp.issuer,
    IDENTITY_CLIENT_ID: idp.clientId,
    IDENTITY_CLIENT_SECRET: idp.clientSecret,
    ...overrides,
  };
  return { env, port, mcpPort, baseUrl, mcpUrl: `${baseUrl}/mcp` };
}
