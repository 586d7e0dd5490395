// The demo as a newcomer starts it: `npm start` in the project with nothing configured (only
// PORT, so the test can run beside other servers), then the whole flow with the official MCP SDK
// client, signing in with the credentials the demo printed. Also what `npm start` says when the
// configuration is partial, or missing in production.
import assert from 'node:assert/strict';
import { copyFile, mkdtemp, rm, symlink } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { connectWithOAuth, TestOAuthProvider } from '../helpers/mcp-client.js';
import { freePortRun } from '../helpers/ports.js';
import {
  baseEnvironment,
  interruptGroup,
  isAlive,
  live,
  portAccepts,
  spawnProcess,
  stopProcess,
  type Env,
  type ProcessResult,
} from '../helpers/processes.js';
import { buildOnce } from '../helpers/proxy-process.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

describe('the local demo: `npm start` with nothing configured (process)', function () {
  this.timeout(60_000);
  /**
   * A copy of the project to run `npm start` in: the same package.json and built files, but its
   * own working directory, so no .env of the developer's is read.
   */
  let project: string;

  before(async function () {
    this.timeout(180_000);
    await buildOnce();
    project = await mkdtemp(join(tmpdir(), 'mcp-auth-proxy-demo-'));
    await copyFile(join(ROOT, 'package.json'), join(project, 'package.json'));
    for (const dir of ['bin', 'dist', 'views', 'node_modules']) await symlink(join(ROOT, dir), join(project, dir));
  });

  afterEach(async () => {
    await Promise.all([...live].map(stopProcess));
  });

  after(async () => {
    if (project) await rm(project, { recursive: true, force: true });
  });

  /** `npm start` in the project copy, with no configuration but `extra`. */
  function npmStart(extra: Env) {
    return spawnProcess('npm', ['start'], { cwd: project, env: { ...baseEnvironment(), ...extra }, detached: true });
  }

  const text = (result: Awaited<ReturnType<Client['callTool']>>): string => {
    const [first] = result.content as { type: string; text: string }[];
    assert.equal(first?.type, 'text');
    return first.text;
  };

  it('prints the MCP URL and the demo account, completes the OAuth flow, serves the sample tools, and stops with Ctrl-C', async () => {
    const port = await freePortRun(3);
    const demo = npmStart({ PORT: String(port) });

    const [, mcpUrl] = await demo.waitForOutput(/MCP server URL:\s+(\S+)/);
    const [, username, password] = await demo.waitForOutput(/username:\s+(\S+)\n\s+password:\s+(\S+)/);
    assert.equal(mcpUrl, `http://localhost:${port}/mcp`);
    assert.match(demo.stdout(), /DEMO: not for real use/);
    assert.ok(demo.stdout().includes(`npx mcp-remote http://localhost:${port}/mcp`), demo.stdout());
    assert.match(demo.stdout(), /cp \.env-template \.env/);

    const auth = new TestOAuthProvider();
    auth.credentials = { username: username!, password: password! };
    const client = await connectWithOAuth(mcpUrl!, auth);
    try {
      // Both pages the user saw say it is a demo: ours (confirm) and the demo IdP's (sign-in).
      const [confirm, signIn] = auth.pages;
      assert.match(confirm!.html, /class="demo-banner"[^>]*>Demo: this proxy runs on embedded defaults and is not for real use/);
      assert.ok(signIn!.url.startsWith(`http://127.0.0.1:${port + 1}/interaction/`), signIn!.url);
      assert.match(signIn!.html, /class="banner"[^>]*>This is a demo, not for real use/);

      const { tools } = await client.listTools();
      assert.deepEqual(tools.map((t) => t.name).sort(), ['echo', 'time', 'whoami']);
      assert.equal(text(await client.callTool({ name: 'echo', arguments: { text: 'hello demo' } })), 'hello demo');

      // The sample server got the user's upstream token (the IdP accepts it) and the identity headers.
      const whoami = JSON.parse(text(await client.callTool({ name: 'whoami', arguments: {} }))) as {
        proxy_headers: Record<string, string>;
        upstream_access_token: string;
        identity_provider_userinfo: Record<string, unknown>;
      };
      assert.equal(whoami.proxy_headers['x-mcp-user-id'], 'demo-user');
      assert.equal(whoami.proxy_headers['x-mcp-user-email'], 'demo@example.com');
      assert.equal(whoami.proxy_headers['x-mcp-client-id'], auth.client?.client_id);
      assert.match(whoami.upstream_access_token, /^received/);
      assert.equal(whoami.identity_provider_userinfo.sub, 'demo-user');
      assert.equal(whoami.identity_provider_userinfo.email, 'demo@example.com');
      assert.ok(!JSON.stringify(whoami).includes(auth.savedTokens!.access_token), 'the client token reached the MCP server');
    } finally {
      await client.close();
    }

    // The proxy, the demo IdP and the sample MCP server listen until the terminal's Ctrl-C.
    for (const p of [port, port + 1, port + 2]) assert.equal(await portAccepts(p), true, `nothing listens on ${p}`);
    interruptGroup(demo);
    await demo.exited;
    for (const p of [port, port + 1, port + 2]) assert.equal(await portAccepts(p), false, `${p} still listens after Ctrl-C`);
    assert.equal(isAlive(-demo.proc.pid!), false, 'a process of the demo outlived it');
  });

  it('`start -- <stdio server>`: the demo\'s sign-in in front of a stdio MCP server from npm, a process per session', async () => {
    const port = await freePortRun(3);
    const everything = fileURLToPath(import.meta.resolve('@modelcontextprotocol/server-everything/dist/index.js'));
    const proxy = spawnProcess(process.execPath, ['bin/mcp-auth-proxy.js', 'start', '--', process.execPath, everything, 'stdio'], {
      cwd: project,
      env: { ...baseEnvironment(), PORT: String(port) },
      detached: true,
    });
    const [, mcpUrl] = await proxy.waitForOutput(/MCP server URL:\s+(\S+)/);
    const [, username, password] = await proxy.waitForOutput(/username:\s+(\S+)\n\s+password:\s+(\S+)/);
    assert.match(proxy.stdout(), /Behind the proxy runs your stdio MCP server/);
    // No sample server: nothing listens on its port.
    assert.equal(await portAccepts(port + 2), false);

    const auth = new TestOAuthProvider();
    auth.credentials = { username: username!, password: password! };
    const client = await connectWithOAuth(mcpUrl!, auth);
    try {
      assert.match(client.getServerVersion()?.name ?? '', /everything/i);
      const result = await client.callTool({ name: 'get-env', arguments: {} });
      const env = JSON.parse(text(result)) as Record<string, string>;
      assert.equal(env.MCP_USER_ID, 'demo-user');
    } finally {
      await client.close();
    }
    interruptGroup(proxy);
    await proxy.exited;
    assert.equal(isAlive(-proxy.proc.pid!), false, 'a process of the proxy (a stdio server) outlived it');
  });

  it('stops the sample MCP server and the demo IdP when the proxy alone gets SIGTERM (as on Heroku), and exits 0', async () => {
    const port = await freePortRun(3);
    const proxy = spawnProcess(process.execPath, ['bin/mcp-auth-proxy.js', 'start'], {
      cwd: project,
      env: { ...baseEnvironment(), PORT: String(port) },
    });
    await proxy.waitForOutput(/MCP server URL:/);
    for (const p of [port, port + 1, port + 2]) assert.equal(await portAccepts(p), true, `nothing listens on ${p}`);

    proxy.proc.kill('SIGTERM');
    const result = await proxy.exited;
    assert.equal(result.code, 0, result.stderr);
    for (const p of [port, port + 1, port + 2]) assert.equal(await portAccepts(p), false, `${p} still listens after SIGTERM`);
  });

  describe('when the demo cannot or must not run', () => {
    async function refusal(extra: Env): Promise<ProcessResult> {
      const result = await npmStart(extra).exited;
      assert.notEqual(result.code, 0);
      assert.doesNotMatch(result.stdout, /DEMO/);
      assert.doesNotMatch(result.stderr, /^\s+at \S/m, 'a stack trace');
      return result;
    }

    it('NODE_ENV=production with nothing configured: refuses, naming every missing variable', async () => {
      const { stderr } = await refusal({ NODE_ENV: 'production', PORT: String(await freePortRun(1)) });
      for (const name of ['BASE_URL', 'MCP_SERVER_URL', 'IDENTITY_SERVER_URL', 'IDENTITY_CLIENT_ID', 'MCP_AUTH_PROXY_REDIS_URL', 'OIDC_PROVIDER_JWKS']) {
        assert.match(stderr, new RegExp(`^  - ${name}: is required`, 'm'), stderr);
      }
      assert.match(stderr, /NODE_ENV=production never runs the local demo/);
    });

    it('partial configuration: names what is missing and how to get the demo instead', async () => {
      const { stderr } = await refusal({ BASE_URL: 'http://localhost:3001', LOCAL_INSECURE: 'true' });
      for (const name of ['MCP_SERVER_URL', 'IDENTITY_SERVER_URL', 'IDENTITY_CLIENT_ID']) {
        assert.match(stderr, new RegExp(`^  - ${name}: is required`, 'm'), stderr);
      }
      assert.doesNotMatch(stderr, /BASE_URL: is required/);
      assert.match(stderr, /or none of BASE_URL, .* to run the local demo/);
    });

    it("the demo IdP's port (PORT+1) is taken: says so, and leaves nothing running", async () => {
      const port = await freePortRun(3);
      const squatter: Server = createServer();
      await new Promise<void>((resolve) => squatter.listen(port + 1, '127.0.0.1', resolve));
      try {
        const { stderr } = await refusal({ PORT: String(port) });
        assert.match(stderr, new RegExp(`port 127\\.0\\.0\\.1:${port + 1} is in use \\(the demo listens on PORT, PORT\\+1 and PORT\\+2`));
        assert.equal(await portAccepts(port), false);
        assert.equal(await portAccepts(port + 2), false);
      } finally {
        await new Promise((resolve) => squatter.close(resolve));
      }
    });

    it('PORT itself is taken: names PORT (not a bare EADDRINUSE), and leaves nothing running', async () => {
      const port = await freePortRun(3);
      const squatter: Server = createServer();
      await new Promise<void>((resolve) => squatter.listen(port, '127.0.0.1', resolve));
      try {
        const { stderr } = await refusal({ PORT: String(port) });
        assert.match(stderr, new RegExp(`PORT: ${port} is already in use \\(127\\.0\\.0\\.1 port ${port}\\); stop what listens there or choose another PORT`));
        assert.doesNotMatch(stderr, /EADDRINUSE/);
        assert.equal(await portAccepts(port + 1), false, 'the demo IdP still listens');
        assert.equal(await portAccepts(port + 2), false, 'the sample MCP server still listens');
      } finally {
        await new Promise((resolve) => squatter.close(resolve));
      }
    });
  });
});
