// Graceful shutdown of the real process under a signed-in MCP client: on SIGTERM the proxy stops
// accepting connections, lets an open SSE stream and an in-flight tool call finish, then stops its
// MCP server child and exits 0; a stream that would not end is cut at the drain bound. Also: the
// child crashing and being restarted, and the proxy giving up on a child that cannot come back.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { connectWithOAuth, TestOAuthProvider } from '../helpers/mcp-client.js';
import { freePort } from '../helpers/ports.js';
import { isAlive } from '../helpers/processes.js';
import {
  jsonLines,
  portAccepts,
  ROOT,
  spawnProxy,
  stopAllProxies,
  stopProxy,
  type Env,
  type ProxyProcess,
  buildOnce,
} from '../helpers/proxy-process.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { startUpstreamIdp, type UpstreamIdp } from '../helpers/upstream-idp.js';
import { until } from '../helpers/wait.js';
import { proxyEnvironment } from '../helpers/proxy-environment.js';

const FIXTURE_URL = pathToFileURL(join(ROOT, 'test', 'fixtures', 'mcp-server.ts')).href;


describe('the proxy process: shutdown and supervision', function () {
  this.timeout(60_000);
  let redis: RedisServer;
  let tmp: string;
  let idps: UpstreamIdp[] = [];
  let clients: Client[] = [];

  before(async function () {
    this.timeout(180_000);
    await buildOnce();
    tmp = await mkdtemp(join(tmpdir(), 'mcp-auth-proxy-shutdown-'));
    redis = await startRedis();
  });
  afterEach(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => {})));
    clients = [];
    await stopAllProxies();
    await Promise.all(idps.map((idp) => idp.stop()));
    idps = [];
  });
  after(async () => {
    await stopAllProxies();
    await redis?.stop();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  interface Running {
    proxy: ProxyProcess;
    port: number;
    mcpPort: number;
    mcpUrl: string;
    baseUrl: string;
    pidFile: string;
  }

  /** Starts the proxy running the MCP fixture (which records its pid in pidFile) and waits until it listens. */
  async function startProxyProcess(name: string, overrides: Env = {}, options: { groupLeader?: boolean } = {}): Promise<Running> {
    const port = await freePort();
    const idp = await startUpstreamIdp({ redirectUris: [`http://127.0.0.1:${port}/interaction/identity/callback`] });
    idps.push(idp);
    const pidFile = join(tmp, `${name}.pid`);
    const script = `require('node:fs').appendFileSync(${JSON.stringify(pidFile)}, process.pid + '\\n'); import(${JSON.stringify(FIXTURE_URL)});`;
    // Production: JSON logs, to read what the proxy reports.
    const { env, mcpPort, baseUrl } = await proxyEnvironment({
      redisUrl: redis.url,
      idp,
      port,
      mcpArgs: ['--import', 'tsx', '-e', script],
      mcpEnv: { MCP_FIXTURE_EXTRA_TOOLS: 'true', MCP_FIXTURE_TOKEN_CHECK_URL: `${idp.issuer}/me` },
      overrides,
    });
    const proxy = spawnProxy(['start'], env, options);
    await proxy.waitForOutput(/MCP auth proxy listening/);
    return { proxy, port, mcpPort, mcpUrl: `${baseUrl}/mcp`, baseUrl, pidFile };
  }

  async function childPids(pidFile: string): Promise<number[]> {
    return (await readFile(pidFile, 'utf8')).split('\n').filter(Boolean).map(Number);
  }

  async function signIn(mcpUrl: string): Promise<{ client: Client; token: string }> {
    const auth = new TestOAuthProvider();
    const client = await connectWithOAuth(mcpUrl, auth);
    clients.push(client);
    return { client, token: auth.savedTokens!.access_token };
  }

  it('SIGTERM (to its process group, twice): an open SSE stream and an in-flight call finish, the child is stopped, exit 0', async () => {
    // Its own process group, as a shell job: the signal reaches the group, but not the MCP server
    // (in a group of its own), which must keep serving until the drain is over.
    const { proxy, port, mcpPort, mcpUrl, pidFile } = await startProxyProcess('drain', {}, { groupLeader: true });
    try {
      const { client, token } = await signIn(mcpUrl);
      const [childPid] = await childPids(pidFile);

      const stream = await fetch(`${mcpUrl}/slow-sse?delayMs=1500`, { headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' } });
      assert.equal(stream.status, 200);
      const streamBody = stream.text();
      let firstProgress: () => void = () => {};
      const progressed = new Promise<void>((resolve) => (firstProgress = resolve));
      const call = client.callTool({ name: 'progress', arguments: { steps: 3, intervalMs: 500 } }, undefined, {
        onprogress: () => firstProgress(),
      });
      await progressed; // the call is in flight at the MCP server

      const signalledAt = Date.now();
      process.kill(-proxy.proc.pid!, 'SIGTERM');
      process.kill(proxy.proc.pid!, 'SIGTERM'); // Heroku signals every process; npm or a shell may forward one more
      await proxy.waitForOutput(/shutting down/);
      await until(async () => !(await portAccepts(port)), 'the proxy to stop accepting connections', 2000);

      assert.match(await streamBody, /event: done\ndata: \{"delayMs":1500\}/);
      assert.deepEqual((await call).content, [{ type: 'text', text: 'done 3' }]);

      const result = await proxy.exited;
      assert.equal(result.code, 0, `stdout:\n${result.stdout}\nstderr:\n${result.stderr}`);
      assert.equal(result.signal, null);
      assert.ok(Date.now() - signalledAt < 10_000, 'the drain ended when the requests did, not at its bound');
      assert.equal(isAlive(childPid!), false, 'the MCP server outlived the proxy');
      assert.equal(await portAccepts(mcpPort), false);
      const lines = jsonLines(result.stdout);
      assert.ok(lines.some((l) => l.msg === 'stopped' && l.code === 0));
      assert.ok(!lines.some((l) => l.msg === 'the drain bound cut requests that were still open'));
      // The client's GET event stream was ended at once, not waited for: the SDK reopens it.
      assert.equal(lines.find((l) => l.msg === 'ended MCP event streams at once (their clients reconnect)')?.released, 1);
      // The child was stopped by the proxy after the drain, not by the signal to the group.
      assert.ok(!lines.some((l) => l.child === 'mcp-server' && /^MCP server process /.test(String(l.msg))));
    } finally {
      await stopProxy(proxy);
    }
  });

  it('cuts a stream that would not end at MCP_AUTH_PROXY_DRAIN_TIMEOUT_MS, then stops the child and exits 0', async () => {
    const { proxy, mcpUrl, pidFile } = await startProxyProcess('bound', { MCP_AUTH_PROXY_DRAIN_TIMEOUT_MS: '1000' });
    try {
      const { client, token } = await signIn(mcpUrl);
      // Only the hanging stream is in flight: the client's own GET stream, released at the start
      // of the drain, would reconnect during it and race the count.
      await client.close();
      const [childPid] = await childPids(pidFile);
      const hang = await fetch(`${mcpUrl}/hang?headers=1`, { headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' } });
      assert.equal(hang.status, 200);
      const read = hang.body!.getReader().read().then(
        (r) => (r.done ? 'ended' : 'data'),
        (err: Error) => err.name,
      );

      const signalledAt = Date.now();
      proxy.proc.kill('SIGTERM');
      assert.equal(await read, 'TypeError', 'the stream was cut, not ended as if complete');
      const cutAfter = Date.now() - signalledAt;
      assert.ok(cutAfter >= 900 && cutAfter < 5000, `cut after ${cutAfter} ms`);

      const result = await proxy.exited;
      assert.equal(result.code, 0, result.stderr);
      const cut = jsonLines(result.stdout).find((l) => l.msg === 'the drain bound cut requests that were still open');
      assert.deepEqual({ cut: cut?.cut, drainMs: cut?.drainMs }, { cut: 1, drainMs: 1000 });
      assert.equal(isAlive(childPid!), false);
    } finally {
      await stopProxy(proxy);
    }
  });

  it('SIGTERM to every process, as Heroku sends it: the child that exits is not restarted, exit 0', async () => {
    const { proxy, baseUrl, pidFile } = await startProxyProcess('heroku', {
      MCP_SERVER_RESTART_DELAY_MS: '50',
      MCP_AUTH_PROXY_DRAIN_TIMEOUT_MS: '1500',
    });
    try {
      const [childPid] = await childPids(pidFile);
      // A request in flight whose body never ends: the drain lasts its whole bound, long after
      // the child has exited and the restart delay has passed.
      let pending = 0;
      const body = new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(new TextEncoder().encode('{"redirect_uris":'));
        },
        pull: () => new Promise(() => void pending++),
      });
      const upload = fetch(`${baseUrl}/reg`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
        duplex: 'half',
      } as RequestInit).catch((err: Error) => err);
      await until(() => pending > 0, 'the upload to be in flight');

      proxy.proc.kill('SIGTERM');
      process.kill(childPid!, 'SIGTERM');
      const result = await proxy.exited;
      await upload;
      assert.equal(result.code, 0, result.stderr);
      const lines = jsonLines(result.stdout);
      assert.ok(lines.some((l) => l.msg === 'MCP server process exited with code 0 during shutdown'), result.stdout);
      assert.ok(!lines.some((l) => l.msg === 'restarting the MCP server'), 'a restart during shutdown');
      assert.equal((await childPids(pidFile)).length, 1);
      assert.equal(isAlive(childPid!), false);
    } finally {
      await stopProxy(proxy);
    }
  });

  it('restarts a crashed MCP server; requests succeed again without signing in again', async () => {
    const { proxy, mcpUrl, baseUrl, pidFile } = await startProxyProcess('restart', { MCP_SERVER_RESTART_DELAY_MS: '200' });
    try {
      const { client } = await signIn(mcpUrl);
      const [first] = await childPids(pidFile);
      process.kill(first!, 'SIGKILL');
      await proxy.waitForOutput(/MCP server restarted and is accepting connections/);
      await until(async () => (await fetch(`${baseUrl}/readyz`)).status === 200, 'readiness');

      assert.deepEqual((await client.callTool({ name: 'echo', arguments: { text: 'again' } })).content, [{ type: 'text', text: 'again' }]);
      const [, second] = await childPids(pidFile);
      assert.ok(second && second !== first && isAlive(second));
      assert.equal(proxy.proc.exitCode, null, 'the proxy kept running');
      const crash = jsonLines(proxy.stdout()).find((l) => l.msg === 'MCP server process was killed by SIGKILL');
      assert.equal(crash?.child, 'mcp-server');
    } finally {
      await stopProxy(proxy);
    }
  });

  it('exits non-zero with a clear line when the MCP server cannot be kept running', async () => {
    // The first run serves; every restart exits at once.
    const pidFile = join(tmp, 'give-up.pid');
    const mcpPort = await freePort();
    const script =
      `const fs = require('node:fs'); if (fs.existsSync(${JSON.stringify(pidFile)})) process.exit(4);` +
      ` fs.writeFileSync(${JSON.stringify(pidFile)}, String(process.pid));` +
      ` require('node:http').createServer((q, s) => s.end()).listen(Number(process.env.PORT), '127.0.0.1');`;
    const { proxy } = await startProxyProcess('give-up-unused', {
      MCP_SERVER_URL: `http://127.0.0.1:${mcpPort}/mcp`,
      MCP_SERVER_RUN_ARGS_JSON: JSON.stringify(['-e', script]),
      MCP_SERVER_RESTART_DELAY_MS: '50',
      MCP_SERVER_RESTART_MAX_ATTEMPTS: '2',
    });
    process.kill(Number(await readFile(pidFile, 'utf8')), 'SIGKILL');
    const result = await proxy.exited;
    assert.equal(result.code, 1);
    assert.equal(result.signal, null);
    assert.match(
      result.stderr,
      /The MCP server cannot be kept running: the MCP server kept failing: giving up after 2 consecutive restarts \(MCP_SERVER_RESTART_MAX_ATTEMPTS\)/,
    );
  });
});
