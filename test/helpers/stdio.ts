// What the stdio server tests share: server-everything from the npm registry as the server, the
// settings that run it, and clients that sign in as a given user and leave properly.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { TestOAuthProvider } from './mcp-client.js';
import { TEST_USER } from './upstream-idp.js';

const require = createRequire(import.meta.url);
export const EVERYTHING = require.resolve('@modelcontextprotocol/server-everything/dist/index.js');
export const FILESYSTEM = require.resolve('@modelcontextprotocol/server-filesystem/dist/index.js');

/** Proxy settings running `node <args>` as a stdio server (server-everything by default). */
export function stdioEnv(more: Record<string, string> = {}, args = [EVERYTHING, 'stdio']): Record<string, string> {
  return { MCP_SERVER_TRANSPORT: 'stdio', MCP_SERVER_RUN_COMMAND: process.execPath, MCP_SERVER_RUN_ARGS_JSON: JSON.stringify(args), ...more };
}

/** A test client that signs in at the test IdP as `user`. */
export function signedIn(user: { username: string; password: string } = TEST_USER): TestOAuthProvider {
  const auth = new TestOAuthProvider();
  auth.credentials = { username: user.username, password: user.password };
  return auth;
}

/** Leaves as a well-behaved client does: DELETE the session (its process stops), then close. */
export async function disconnect(client: Client): Promise<void> {
  await (client.transport as StreamableHTTPClientTransport).terminateSession().catch(() => {});
  await client.close();
}

export function textOf(result: Awaited<ReturnType<Client['callTool']>>): string {
  const [content] = result.content as { type: string; text: string }[];
  assert.equal(content?.type, 'text');
  return content.text;
}

/** server-everything's get-env: the environment its process was started with. */
export async function envOf(client: Client): Promise<Record<string, string>> {
  return JSON.parse(textOf(await client.callTool({ name: 'get-env', arguments: {} }))) as Record<string, string>;
}

export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
