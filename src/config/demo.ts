// What the local demo runs on when nothing is configured: the settings it stands in for, so that
// the configuration builds an ordinary Config from them. src/demo/ starts the parts.
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { port as parsePort } from './parsers.js';
import { SETTINGS } from './settings.js';
import { isSet } from './environment.js';
import type { Environment } from './types.js';

export const DEMO_CLIENT_ID = 'mcp-auth-proxy-demo';

/** The demo's other listeners sit next to the proxy's port, so PORT moves all three. */
export function demoPorts(port: number): { idp: number; mcp: number } {
  return { idp: port + 1, mcp: port + 2 };
}

// Run from the compiled dist/ (npm start) or from src/ under tsx (tests): the sample server is
// src/demo/sample-mcp-server, and TypeScript needs the tsx loader.
const SAMPLE_SERVER = new URL(`../demo/sample-mcp-server${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url);

/** The settings the demo stands in for, as environment text. */
export function demoEnvironment(port: number): Record<string, string> {
  const ports = demoPorts(port);
  const idp = `http://127.0.0.1:${ports.idp}`;
  const loader = SAMPLE_SERVER.pathname.endsWith('.ts') ? ['--import', 'tsx'] : [];
  return {
    BASE_URL: `http://localhost:${port}`,
    LOCAL_INSECURE: 'true',
    // The demo account's password is printed: keep the demo off the network.
    MCP_AUTH_PROXY_LISTEN_HOST: '127.0.0.1',
    MCP_SERVER_URL: `http://127.0.0.1:${ports.mcp}/mcp`,
    MCP_SERVER_RUN_COMMAND: process.execPath,
    MCP_SERVER_RUN_ARGS_JSON: JSON.stringify([...loader, fileURLToPath(SAMPLE_SERVER)]),
    // The sample server calls the IdP's userinfo endpoint with the upstream token it receives.
    MCP_SERVER_RUN_ENV_JSON: JSON.stringify({ DEMO_USERINFO_URL: `${idp}/me` }),
    IDENTITY_SERVER_URL: idp,
    IDENTITY_CLIENT_ID: DEMO_CLIENT_ID,
    IDENTITY_CLIENT_SECRET: randomBytes(24).toString('base64url'),
  };
}

/** The MCP server's own settings: with MCP_SERVER_TRANSPORT=stdio they go with the demo's sign-in. */
export const STDIO_SERVER_SETTINGS = new Set<string>(['MCP_SERVER_TRANSPORT', 'MCP_SERVER_RUN_COMMAND', 'MCP_SERVER_RUN_ARGS_JSON', 'MCP_SERVER_RUN_DIR', 'MCP_SERVER_RUN_ENV_JSON']);

/** A stdio server of one's own (`start -- <command>`), read from the raw environment (before parsing). */
export const ownsStdioServer = (env: Environment): boolean => env.MCP_SERVER_TRANSPORT?.trim().toLowerCase() === 'stdio';

/** The demo's stand-in settings under the given ones (PORT decides its ports). */
export function withDemoDefaults(env: Environment, problems: string[]): Environment {
  let port = 3001;
  try {
    port = parsePort(isSet(env, 'PORT') ? env.PORT! : SETTINGS.PORT.default);
  } catch {
    // readSettings reports the bad PORT.
  }
  if (port > 65533) {
    problems.push('PORT: the demo also listens on PORT+1 (its identity provider) and PORT+2 (its MCP server); choose a PORT below 65534');
    port = 3001;
  }
  // With a stdio server of one's own, the demo stands in for the identity provider only.
  const own = ownsStdioServer(env);
  const standIns = Object.entries(demoEnvironment(port)).filter(([name]) => !isSet(env, name) && !(own && STDIO_SERVER_SETTINGS.has(name)));
  return { ...env, ...Object.fromEntries(standIns) };
}
