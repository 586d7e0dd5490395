// The compiled command-line entry as a real process: `verify` (the release-phase check), the
// configuration errors it must name, and `start`'s life cycle with its MCP server child.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { freePort } from '../helpers/ports.js';
import {
  isAlive,
  jsonLines,
  portAccepts,
  ROOT,
  runProxy,
  spawnProxy,
  stopAllProxies,
  stopProxy,
  type Env,
  buildOnce,
} from '../helpers/proxy-process.js';
import { proxyEnvironment, type ProxyEnvironment } from '../helpers/proxy-environment.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { startUpstreamIdp, type UpstreamIdp } from '../helpers/upstream-idp.js';
import { privateJwks } from '../helpers/keys.js';
import { herokuViewsDir } from '../helpers/heroku-reference.js';

const FIXTURE_URL = pathToFileURL(join(ROOT, 'test', 'fixtures', 'mcp-server.ts')).href;
const RELEASE_LINE = 'Verified release launches. Exit status 0';
const STACK_TRACE_LINE = /^\s+at \S/m;

describe('the released command (bin/mcp-auth-proxy.js on dist/)', function () {
  this.timeout(30_000);
  let redis: RedisServer;
  let idp: UpstreamIdp;
  let tmp: string;
  /** An IdP whose every answer is 503 (down behind its load balancer). */
  let unavailable: Server;
  let unavailableIdp: string;

  before(async function () {
    this.timeout(180_000);
    await buildOnce();
    tmp = await mkdtemp(join(tmpdir(), 'mcp-auth-proxy-release-'));
    redis = await startRedis();
    // No sign-in happens here: the redirect URI is registered but never used.
    idp = await startUpstreamIdp({ redirectUris: ['http://127.0.0.1:9/interaction/identity/callback'] });
    unavailable = createServer((_req, res) => res.writeHead(503, { 'content-type': 'text/html' }).end('<h1>Service Unavailable</h1>'));
    unavailable.listen(0, '127.0.0.1');
    await once(unavailable, 'listening');
    unavailableIdp = `http://127.0.0.1:${(unavailable.address() as AddressInfo).port}`;
  });

  afterEach(async () => {
    await stopAllProxies();
  });

  after(async () => {
    await stopAllProxies();
    await idp?.stop();
    unavailable?.close();
    await redis?.stop();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  /** A complete, valid configuration on fresh ports, running the MCP fixture as the child. */
  async function goodSetup(overrides: Env = {}): Promise<ProxyEnvironment> {
    return proxyEnvironment({ redisUrl: redis.url, idp, production: false, overrides });
  }

  /** Child args that record the child's pid in `pidFile`, then run `then` (JavaScript). */
  function pidRecordingArgs(pidFile: string, then: string, loader: string[] = []): string {
    const script = `require('node:fs').writeFileSync(${JSON.stringify(pidFile)}, String(process.pid)); ${then}`;
    return JSON.stringify([...loader, '-e', script]);
  }

  async function readPid(pidFile: string): Promise<number> {
    const pid = Number(await readFile(pidFile, 'utf8'));
    assert.ok(Number.isInteger(pid) && pid > 0, `no pid in ${pidFile}`);
    return pid;
  }

  describe('release verification', () => {
    const ways: [string, string[], Env][] = [
      ['`verify`', ['verify'], {}],
      ['MCP_AUTH_PROXY_VERIFY_RELEASE=true `start`', ['start'], { MCP_AUTH_PROXY_VERIFY_RELEASE: 'true' }],
    ];
    for (const [name, args, extra] of ways) {
      it(`${name} boots everything, prints the release line, exits 0 and stops the MCP server`, async () => {
        // Production: JSON logs, which tag the child's lines with "child":"mcp-server".
        const { env, mcpPort } = await goodSetup({ NODE_ENV: 'production', OIDC_PROVIDER_JWKS: privateJwks(), ...extra });
        const result = await runProxy(args, env);

        assert.equal(result.code, 0, `stderr:\n${result.stderr}`);
        assert.equal(result.stdout.split('\n').filter((line) => line === RELEASE_LINE).length, 1, result.stdout);
        const childLines = jsonLines(result.stdout).filter((line) => line.child === 'mcp-server');
        assert.ok(
          childLines.some((line) => line.msg === 'MCP server is accepting connections' && line.port === mcpPort),
          `no readiness line for port ${mcpPort} in:\n${result.stdout}`,
        );
        assert.ok(
          childLines.some((line) => line.stream === 'stdout' && line.msg === `mcp fixture listening on ${mcpPort}`),
          `no line from the MCP fixture itself in:\n${result.stdout}`,
        );
        assert.equal(await portAccepts(mcpPort), false, 'the MCP server still listens after verify');
      });
    }
  });

  it('`verify` with a stdio MCP server shared by everyone: starts it, initializes it, stops it, exits 0', async () => {
    const everything = join(ROOT, 'node_modules', '@modelcontextprotocol', 'server-everything', 'dist', 'index.js');
    const { env } = await goodSetup({
      NODE_ENV: 'production',
      OIDC_PROVIDER_JWKS: privateJwks(),
      MCP_SERVER_TRANSPORT: 'stdio',
      MCP_SERVER_STDIO_ISOLATION: 'shared',
      MCP_SERVER_RUN_COMMAND: process.execPath,
      MCP_SERVER_RUN_ARGS_JSON: JSON.stringify([everything, 'stdio']),
    });
    const result = await runProxy(['verify'], env);
    assert.equal(result.code, 0, `stderr:\n${result.stderr}`);
    assert.equal(result.stdout.split('\n').filter((line) => line === RELEASE_LINE).length, 1, result.stdout);
    const lines = jsonLines(result.stdout).filter((line) => line.child === 'mcp-server');
    assert.ok(lines.some((line) => line.msg === 'stdio MCP server process started'), result.stdout);
  });

  describe('bad configuration', () => {
    const cases: { name: string; variable: string; env: () => Promise<Env> }[] = [
      {
        name: 'missing BASE_URL',
        variable: 'BASE_URL',
        env: async () => {
          const { env } = await goodSetup();
          delete env.BASE_URL;
          return env;
        },
      },
      {
        name: 'MCP_SERVER_RUN_ARGS_JSON that is not JSON',
        variable: 'MCP_SERVER_RUN_ARGS_JSON',
        env: async () => (await goodSetup({ MCP_SERVER_RUN_ARGS_JSON: '[--import, tsx' })).env,
      },
      {
        name: 'NODE_ENV=production without a Redis URL',
        variable: 'MCP_AUTH_PROXY_REDIS_URL',
        env: async () => {
          const { env } = await goodSetup({ NODE_ENV: 'production', OIDC_PROVIDER_JWKS: privateJwks() });
          delete env.MCP_AUTH_PROXY_REDIS_URL;
          return env;
        },
      },
      {
        name: 'an unreachable Redis',
        variable: 'MCP_AUTH_PROXY_REDIS_URL',
        env: async () => (await goodSetup({ MCP_AUTH_PROXY_REDIS_URL: `redis://127.0.0.1:${await freePort()}` })).env,
      },
      {
        // Heroku Key-Value Store attached without --as sets REDIS_URL: the message names that one.
        name: 'an unreachable Redis given as REDIS_URL',
        variable: 'REDIS_URL: cannot connect to Redis',
        env: async () => {
          const { env } = await goodSetup({ REDIS_URL: `redis://127.0.0.1:${await freePort()}` });
          delete env.MCP_AUTH_PROXY_REDIS_URL;
          return env;
        },
      },
      {
        // Heroku's layout with a confirm page that uses a variable nobody gives it.
        name: 'OIDC_PROVIDER_VIEWS_PATH with a template that throws',
        variable: 'OIDC_PROVIDER_VIEWS_PATH: confirm-login.ejs line 2: identityServerURL is not defined',
        env: async () => {
          const views = await mkdtemp(join(tmp, 'views-'));
          await cp(herokuViewsDir(), views, { recursive: true });
          await writeFile(join(views, 'confirm-login.ejs'), '<form method="post" action="/interaction/<%= uid %>/confirm-login"></form>\n<%= identityServerURL %>');
          return (await goodSetup({ OIDC_PROVIDER_VIEWS_PATH: views })).env;
        },
      },
      {
        name: "MCP_SERVER_URL on the proxy's own PORT",
        variable: "MCP_SERVER_URL: 127.0.0.1:",
        env: async () => {
          const { env, port } = await goodSetup();
          return { ...env, MCP_SERVER_URL: `http://127.0.0.1:${port}/mcp` };
        },
      },
      // Both are failures `start` rides out (it starts and retries discovery in the background);
      // the release check must prove the IdP answers, so for it they are fatal.
      {
        name: 'an unreachable identity provider (connection refused)',
        variable: 'IDENTITY_SERVER_URL',
        env: async () => (await goodSetup({ IDENTITY_SERVER_URL: `http://127.0.0.1:${await freePort()}` })).env,
      },
      {
        name: 'an identity provider answering 503',
        variable: 'IDENTITY_SERVER_URL',
        env: async () => (await goodSetup({ IDENTITY_SERVER_URL: unavailableIdp })).env,
      },
      {
        name: 'an MCP server that exits at once',
        variable: 'MCP_SERVER_RUN_COMMAND',
        env: async () => (await goodSetup({ MCP_SERVER_RUN_ARGS_JSON: JSON.stringify(['-e', 'process.exit(3)']) })).env,
      },
      {
        name: 'an invalid MCP_AUTH_PROXY_POLICY',
        variable: 'MCP_AUTH_PROXY_POLICY: rule 1: unknown key "tool" (did you mean "tools"?)',
        env: async () => (await goodSetup({ MCP_AUTH_PROXY_POLICY: '{"rules":[{"effect":"deny","tool":["whoami"]}]}' })).env,
      },
      {
        name: 'a stdio MCP server command that is not there',
        variable: 'MCP_SERVER_RUN_COMMAND: no-such-stdio-server was not found',
        env: async () => (await goodSetup({ MCP_SERVER_TRANSPORT: 'stdio', MCP_SERVER_RUN_COMMAND: 'no-such-stdio-server' })).env,
      },
      {
        name: 'a shared stdio MCP server that exits at once',
        variable: 'MCP_SERVER_RUN_COMMAND: The MCP server process exited with code 3',
        env: async () =>
          (await goodSetup({ MCP_SERVER_TRANSPORT: 'stdio', MCP_SERVER_STDIO_ISOLATION: 'shared', MCP_SERVER_RUN_ARGS_JSON: JSON.stringify(['-e', 'process.exit(3)']) })).env,
      },
    ];
    for (const { name, variable, env } of cases) {
      it(`${name}: exits non-zero naming ${variable}, without a stack trace`, async () => {
        const result = await runProxy(['verify'], await env());
        assert.notEqual(result.code, 0);
        assert.equal(result.signal, null);
        assert.ok(result.stderr.includes(variable), `stderr does not name ${variable}:\n${result.stderr}`);
        assert.doesNotMatch(result.stderr, STACK_TRACE_LINE);
        assert.doesNotMatch(result.stdout, STACK_TRACE_LINE);
        assert.ok(!result.stdout.includes(RELEASE_LINE));
      });
    }

    it('a PORT another process holds: one line naming PORT, not a bare EADDRINUSE, and the MCP server stopped', async () => {
      const { env, port, mcpPort } = await goodSetup();
      const holder = createServer();
      holder.listen(port, '127.0.0.1');
      await once(holder, 'listening');
      try {
        const result = await runProxy(['verify'], env);
        assert.equal(result.code, 1);
        const line = `Startup failed: PORT: ${port} is already in use (127.0.0.1 port ${port}); stop what listens there or choose another PORT`;
        assert.deepEqual(result.stderr.split('\n').filter((l) => l.startsWith('Startup failed')), [line]);
        assert.ok(!result.stdout.includes('is already in use'), 'printed once, on stderr only');
        assert.doesNotMatch(result.stderr, /EADDRINUSE/);
        assert.doesNotMatch(result.stderr, STACK_TRACE_LINE);
        assert.equal(await portAccepts(mcpPort), false, 'the MCP server outlived the failed start');
      } finally {
        holder.close();
      }
    });

    it('verify logs the warnings `config` prints, as start does through the same main() (on Heroku nobody runs config)', async () => {
      const { env } = await goodSetup({ NODE_ENV: 'production', OIDC_PROVIDER_JWKS: privateJwks(), MCP_AUTH_PROXY_REDIS_PREFX: 'x:', LOCAL_INSECURE: 'true' });
      const result = await runProxy(['verify'], env);
      assert.equal(result.code, 0, result.stderr);
      const warnings = jsonLines(result.stdout)
        .filter((line) => line.level === 40)
        .map((line) => line.msg);
      assert.deepEqual(warnings, [
        'MCP_AUTH_PROXY_REDIS_PREFX: not a setting of this proxy (misspelt?); it is ignored',
        'LOCAL_INSECURE: true with NODE_ENV=production; plain http is meant for local use only',
      ]);
    });

    it('an MCP server that never opens its port: exits non-zero naming MCP_SERVER_READY_TIMEOUT_MS and stops it', async () => {
      const pidFile = join(tmp, 'never-ready.pid');
      const { env, mcpPort } = await goodSetup({
        MCP_SERVER_RUN_ARGS_JSON: pidRecordingArgs(pidFile, 'setInterval(() => {}, 1000);'),
        MCP_SERVER_READY_TIMEOUT_MS: '1500',
      });
      const result = await runProxy(['verify'], env);

      assert.notEqual(result.code, 0);
      assert.ok(result.stderr.includes('MCP_SERVER_READY_TIMEOUT_MS'), result.stderr);
      assert.doesNotMatch(result.stderr, STACK_TRACE_LINE);
      assert.doesNotMatch(result.stdout, STACK_TRACE_LINE);
      assert.equal(isAlive(await readPid(pidFile)), false, 'the MCP server process outlived the proxy');
      assert.equal(await portAccepts(mcpPort), false);
    });
  });

  describe('`start`', () => {
    it('serves the resource metadata and the 401 challenge, and with MCP_SERVER_RESTART=exit exits non-zero by itself when the MCP server dies', async () => {
      const pidFile = join(tmp, 'crashing-child.pid');
      const { env, port, mcpPort, baseUrl } = await goodSetup({
        MCP_SERVER_RUN_ARGS_JSON: pidRecordingArgs(pidFile, `import(${JSON.stringify(FIXTURE_URL)});`, ['--import', 'tsx']),
        MCP_SERVER_RESTART: 'exit',
      });
      const proxy = spawnProxy(['start'], env);
      await proxy.waitForListening(port);

      const metadataUrl = `${baseUrl}/.well-known/oauth-protected-resource/mcp`;
      const metadata = await fetch(metadataUrl);
      assert.equal(metadata.status, 200);
      assert.equal(((await metadata.json()) as { resource: string }).resource, `${baseUrl}/mcp`);

      const unauthenticated = await fetch(`${baseUrl}/mcp`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
      });
      await unauthenticated.body?.cancel();
      assert.equal(unauthenticated.status, 401);
      assert.ok(
        unauthenticated.headers.get('www-authenticate')?.includes(`resource_metadata="${metadataUrl}"`),
        `WWW-Authenticate: ${unauthenticated.headers.get('www-authenticate')}`,
      );

      const childPid = await readPid(pidFile);
      assert.equal(await portAccepts(mcpPort), true);
      process.kill(childPid, 'SIGKILL');
      const result = await proxy.exited;

      assert.equal(result.signal, null, 'the proxy was killed instead of exiting by itself');
      assert.notEqual(result.code, 0);
      assert.match(result.stderr, /The MCP server cannot be kept running: the MCP server process was killed by SIGKILL \(MCP_SERVER_RESTART=exit\)/);
      assert.equal(await portAccepts(port), false);
    });

    it('exits 0 on SIGTERM and stops the MCP server', async () => {
      const pidFile = join(tmp, 'sigterm-child.pid');
      const { env, port, mcpPort } = await goodSetup({
        MCP_SERVER_RUN_ARGS_JSON: pidRecordingArgs(pidFile, `import(${JSON.stringify(FIXTURE_URL)});`, ['--import', 'tsx']),
      });
      const proxy = spawnProxy(['start'], env);
      try {
        await proxy.waitForListening(port);
        // Our own proxy listens (not whatever else got the port), and its signal handlers are set.
        await proxy.waitForOutput(/MCP auth proxy listening/);
        assert.equal(await portAccepts(mcpPort), true);
        const childPid = await readPid(pidFile);

        proxy.proc.kill('SIGTERM');
        const result = await proxy.exited;

        assert.equal(result.code, 0, `stdout:\n${result.stdout}\nstderr:\n${result.stderr}`);
        assert.equal(await portAccepts(mcpPort), false, 'the MCP server still listens');
        assert.equal(isAlive(childPid), false, 'the MCP server process outlived the proxy');
      } finally {
        // If the assertions failed before the proxy stopped, do not leave its child behind.
        await stopProxy(proxy);
      }
    });

    it('starts while the identity provider is unreachable: warns naming IDENTITY_SERVER_URL, is not ready, and still exits 0 on SIGTERM', async () => {
      const identityServerUrl = `http://127.0.0.1:${await freePort()}`;
      const { env, port, baseUrl } = await goodSetup({
        NODE_ENV: 'production',
        OIDC_PROVIDER_JWKS: privateJwks(),
        IDENTITY_SERVER_URL: identityServerUrl,
      });
      const proxy = spawnProxy(['start'], env);
      try {
        await proxy.waitForListening(port);
        await proxy.waitForOutput(/MCP auth proxy listening/);
        const warning = jsonLines(proxy.stdout()).find((line) => String(line.msg).startsWith('identity provider discovery failed (IDENTITY_SERVER_URL)'));
        assert.ok(warning, proxy.stdout());
        assert.equal(warning.identityServerUrl, `${identityServerUrl}/`);
        assert.match(String(warning.reason), /ECONNREFUSED/);

        const ready = await fetch(`${baseUrl}/readyz`);
        assert.equal(ready.status, 503);
        assert.deepEqual(((await ready.json()) as { failing: string[] }).failing, ['identity_provider']);

        // The background retry holds neither the process nor its shutdown.
        proxy.proc.kill('SIGTERM');
        const result = await proxy.exited;
        assert.equal(result.code, 0, `stdout:\n${result.stdout}\nstderr:\n${result.stderr}`);
        assert.doesNotMatch(result.stderr, /Startup failed/);
      } finally {
        await stopProxy(proxy);
      }
    });

    it('stops the MCP server when SIGTERM arrives while it is still starting', async () => {
      const pidFile = join(tmp, 'starting-child.pid');
      const { env } = await goodSetup({
        MCP_SERVER_RUN_ARGS_JSON: pidRecordingArgs(pidFile, "console.log('child started'); setInterval(() => {}, 1000);"),
        MCP_SERVER_READY_TIMEOUT_MS: '25000',
      });
      const proxy = spawnProxy(['start'], env);
      let childPid: number | undefined;
      try {
        // The proxy logs the child's output: the child runs, and the proxy waits for its port.
        await proxy.waitForOutput(/child started/);
        childPid = await readPid(pidFile);

        proxy.proc.kill('SIGTERM');
        await proxy.exited;

        assert.equal(isAlive(childPid), false, 'the MCP server process outlived the proxy (orphaned)');
      } finally {
        if (childPid !== undefined && isAlive(childPid)) process.kill(childPid, 'SIGKILL');
      }
    });
  });

  describe('the MCP server child environment', () => {
    it("has none of the proxy's secrets, PORT = MCP_SERVER_URL's port, and MCP_SERVER_RUN_ENV_JSON", async () => {
      const dump = join(tmp, 'child-env.json');
      const script =
        `require('node:fs').writeFileSync(${JSON.stringify(dump)}, JSON.stringify(process.env));` +
        `require('node:http').createServer((req, res) => res.end()).listen(Number(process.env.PORT), '127.0.0.1');`;
      const secrets: Env = {
        IDENTITY_CLIENT_SECRET: idp.clientSecret,
        OIDC_PROVIDER_JWKS: privateJwks(),
        MCP_AUTH_PROXY_REDIS_URL: redis.url,
        MCP_AUTH_PROXY_COOKIE_KEYS: 'c'.repeat(40),
        MCP_AUTH_PROXY_VAULT_KEYS: 'ab'.repeat(32),
      };
      const { env, mcpPort } = await goodSetup({
        ...secrets,
        MCP_SERVER_RUN_ARGS_JSON: JSON.stringify(['-e', script]),
        MCP_SERVER_RUN_ENV_JSON: JSON.stringify({ GIVEN_TO_CHILD: 'from-run-env-json' }),
      });
      const result = await runProxy(['verify'], env);
      assert.equal(result.code, 0, `stderr:\n${result.stderr}`);

      const childEnv = JSON.parse(await readFile(dump, 'utf8')) as Env;
      for (const [name, value] of Object.entries(secrets)) {
        assert.equal(childEnv[name], undefined, `the child inherited ${name}`);
        assert.ok(!Object.values(childEnv).includes(value), `the child got the value of ${name} under another name`);
      }
      assert.equal(childEnv.PORT, String(mcpPort));
      assert.equal(childEnv.GIVEN_TO_CHILD, 'from-run-env-json');
    });
  });
});
