// Real MCP client programs against the proxy: mcp-remote through its own OAuth flow (we play the
// user's browser from the URL it prints), and the MCP Inspector 2.x CLI over Streamable HTTP with
// a bearer token (its web UI's OAuth flow: test/browser/inspector.test.ts).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { Browser } from '../helpers/browser.js';
import { connectWithOAuth, TestOAuthProvider } from '../helpers/mcp-client.js';
import { freePort } from '../helpers/ports.js';
import { startStack, type Stack } from '../helpers/stack.js';
import { TEST_USER } from '../helpers/upstream-idp.js';

const require = createRequire(import.meta.url);
const MCP_REMOTE = join(dirname(require.resolve('mcp-remote/package.json')), 'dist/proxy.js');
// `npx @modelcontextprotocol/inspector --cli …`: the package's launcher, in CLI mode.
const INSPECTOR = join(dirname(require.resolve('@modelcontextprotocol/inspector/package.json')), 'clients/launcher/build/index.js');

describe('real client programs', function () {
  this.timeout(90_000);
  let stack: Stack;
  let configDir: string;

  /** A clean environment: no way to open a real browser, tokens kept in a temporary directory. */
  const env = (): Record<string, string> => ({
    PATH: process.env.PATH ?? '',
    HOME: configDir,
    MCP_REMOTE_CONFIG_DIR: configDir,
    BROWSER: '/bin/true',
    DISPLAY: '',
  });

  before(async () => {
    stack = await startStack();
    configDir = await mkdtemp(join(tmpdir(), 'mcp-remote-'));
  });
  after(async () => {
    await stack?.stop();
    await rm(configDir, { recursive: true, force: true });
  });

  it('mcp-remote completes its OAuth flow and proxies tools over stdio', async () => {
    const { client, stderr } = await throughMcpRemote(stack, env());
    try {
      const { tools } = await client.listTools();
      assert.ok(tools.some((t) => t.name === 'whoami'), stderr());
      const echoed = await client.callTool({ name: 'echo', arguments: { text: 'via mcp-remote' } });
      assert.deepEqual(echoed.content, [{ type: 'text', text: 'via mcp-remote' }]);
    } finally {
      await client.close();
    }
  });

  it('the MCP Inspector CLI lists and calls tools with a bearer token', async () => {
    const auth = new TestOAuthProvider('http://127.0.0.1:33420/callback');
    const sdk = await connectWithOAuth(stack.mcpUrl, auth);
    await sdk.close();
    const token = auth.savedTokens!.access_token;
    const run = (...method: string[]) =>
      promisify(execFile)(
        process.execPath,
        [INSPECTOR, '--cli', '--transport', 'http', '--server-url', stack.mcpUrl, '--header', `Authorization: Bearer ${token}`, ...method],
        { env: { ...env(), HOME: configDir }, timeout: 60_000 },
      );
    const listed = JSON.parse((await run('--method', 'tools/list')).stdout) as { tools: { name: string }[] };
    assert.deepEqual(listed.tools.map((t) => t.name).sort(), ['echo', 'whoami']);
    const called = JSON.parse((await run('--method', 'tools/call', '--tool-name', 'echo', '--tool-arg', 'text=inspected')).stdout) as {
      content: { text: string }[];
    };
    assert.equal(called.content[0]?.text, 'inspected');
  });
});

/**
 * mcp-remote as a person runs it (`npx mcp-remote <url>`): an SDK client on its stdio, the person
 * played through consent, upstream sign-in and the redirect to mcp-remote's callback server.
 */
async function throughMcpRemote(stack: Stack, env: Record<string, string>): Promise<{ client: Client; stderr: () => string }> {
  const callbackPort = await freePort();
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [MCP_REMOTE, stack.mcpUrl, String(callbackPort), '--allow-http'],
    env,
    stderr: 'pipe',
  });
  let stderr = '';
  const authorizeUrl = new Promise<string>((resolve) => {
    transport.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      const match = /Please authorize this client by visiting:\s+(\S+)/.exec(stderr);
      if (match) resolve(match[1]!);
    });
  });
  const client = new Client({ name: 'via-mcp-remote', version: '1.0.0' });
  const connected = client.connect(transport);
  try {
    const browser = new Browser();
    const consent = await browser.open(await authorizeUrl);
    assert.equal(consent.status, 200, stderr);
    const login = await browser.submit(consent, { actionIncludes: '/confirm', button: { name: 'action', value: 'confirm' } });
    const done = await browser.submit(login, { fields: { username: TEST_USER.username, password: TEST_USER.password } });
    assert.match(done.url, new RegExp(`^http://(localhost|127\\.0\\.0\\.1):${callbackPort}/`), stderr);
    await connected;
  } catch (err) {
    await client.close();
    throw err;
  }
  return { client, stderr: () => stderr };
}

describe('mcp-remote in front of a stdio MCP server (MCP_SERVER_TRANSPORT=stdio, server-everything)', function () {
  this.timeout(90_000);
  let stack: Stack;
  let configDir: string;

  before(async () => {
    const everything = require.resolve('@modelcontextprotocol/server-everything/dist/index.js');
    stack = await startStack({
      env: { MCP_SERVER_TRANSPORT: 'stdio', MCP_SERVER_RUN_COMMAND: process.execPath, MCP_SERVER_RUN_ARGS_JSON: JSON.stringify([everything, 'stdio']) },
    });
    configDir = await mkdtemp(join(tmpdir(), 'mcp-remote-stdio-'));
  });
  after(async () => {
    await stack?.stop();
    await rm(configDir, { recursive: true, force: true });
  });

  it('stdio on both ends: mcp-remote (stdio to its client) to the proxy to a stdio server process', async () => {
    const env = { PATH: process.env.PATH ?? '', HOME: configDir, MCP_REMOTE_CONFIG_DIR: configDir, BROWSER: '/bin/true', DISPLAY: '' };
    const { client, stderr } = await throughMcpRemote(stack, env);
    try {
      assert.match(client.getServerVersion()?.name ?? '', /everything/i, stderr());
      const echoed = await client.callTool({ name: 'echo', arguments: { message: 'stdio to stdio' } });
      assert.deepEqual(echoed.content, [{ type: 'text', text: 'Echo: stdio to stdio' }]);
      assert.ok(stack.proxy.stdioServers!.size >= 1);
    } finally {
      await client.close();
    }
  });
});
