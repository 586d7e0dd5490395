// SLOW (about 15 s, once): `npm run package` builds the artifact for heroku-buildpack-mcp-auth-proxy
// (including an `npm ci --omit=dev`), then the test does what the buildpack does with it: unpacks
// build/mcp-auth-proxy.tar.gz into an app directory (giving mcp-auth-proxy/), runs the buildpack's
// `npm install --production` there, and runs the buildpack's default processes from the app
// directory against real parts (Redis, the upstream IdP, the MCP server fixture as the child).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { access, readdir, readFile, rm } from 'node:fs/promises';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { freePort, waitForPort } from '../helpers/ports.js';
import { baseEnvironment, live, portAccepts, spawnProcess, stopProcess, type Env } from '../helpers/processes.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { proxyEnvironment, type ProxyEnvironment } from '../helpers/proxy-environment.js';
import { unpackedApp } from '../helpers/packaged-app.js';
import { startUpstreamIdp, type UpstreamIdp } from '../helpers/upstream-idp.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const run = promisify(execFile);

// heroku-buildpack-mcp-auth-proxy's default processes (its bin/release and README), run by sh
// in the app directory. The release phase's fixed PORT=3001 is swapped for a free port: another
// server on this machine may hold 3001.
const WEB = 'node mcp-auth-proxy/index.js';
const RELEASE = 'MCP_AUTH_PROXY_VERIFY_RELEASE=true PORT=3001 node mcp-auth-proxy/index.js';
const RELEASE_LINE = 'Verified release launches. Exit status 0';

const exists = (path: string) => access(path).then(() => true, () => false);

describe('the Heroku buildpack package: npm run package (SLOW: builds the artifact once)', function () {
  this.timeout(60_000);
  let app: string;
  let redis: RedisServer;
  let idp: UpstreamIdp;

  before(async function () {
    this.timeout(300_000);
    app = await unpackedApp();
    redis = await startRedis();
    idp = await startUpstreamIdp({ redirectUris: ['http://127.0.0.1:9/interaction/identity/callback'] });
  });

  afterEach(async () => {
    await Promise.all([...live].map(stopProcess));
  });

  after(async () => {
    await Promise.all([...live].map(stopProcess));
    await idp?.stop();
    await redis?.stop();
    if (app) await rm(app, { recursive: true, force: true });
  });

  /** A production configuration of the app, running the MCP fixture as the child from the repository. */
  async function appEnvironment(extra: Env = {}): Promise<ProxyEnvironment> {
    return proxyEnvironment({
      redisUrl: redis.url,
      idp,
      overrides: { PATH: [dirname(process.execPath), process.env.PATH].join(delimiter), MCP_SERVER_RUN_DIR: ROOT, ...extra },
    });
  }

  const sh = (command: string, env: Env) => spawnProcess('sh', ['-c', command], { cwd: app, env });

  it('unpacks to mcp-auth-proxy/ with package.json, index.js, compiled JS, views and production node_modules only', async () => {
    assert.deepEqual(await readdir(app), ['mcp-auth-proxy']);
    const dir = join(app, 'mcp-auth-proxy');
    for (const file of ['package.json', 'package-lock.json', 'index.js', 'bin/mcp-auth-proxy.js', 'dist/main.js', 'views/_layout.ejs', 'views/confirm-login.ejs', 'heroku_identity_production_metadata.json', 'heroku_identity_staging_metadata.json']) {
      assert.ok(await exists(join(dir, file)), `${file} is missing`);
    }
    for (const dependency of ['express', 'oidc-provider', 'openid-client', 'ioredis', 'ejs', 'pino']) {
      assert.ok(await exists(join(dir, 'node_modules', dependency, 'package.json')), `node_modules/${dependency} is missing`);
    }
    // The MCP SDK is the stdio bridge's (and the demo's sample server's): a production dependency.
    assert.ok(await exists(join(dir, 'node_modules', '@modelcontextprotocol', 'sdk', 'package.json')), 'node_modules/@modelcontextprotocol/sdk is missing');
    for (const devDependency of ['typescript', 'mocha', 'tsx', '@modelcontextprotocol/inspector', 'playwright-core']) {
      assert.equal(await exists(join(dir, 'node_modules', devDependency)), false, `node_modules/${devDependency} is a development dependency`);
    }
    const pkg = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as { type: string; main: string; scripts: Record<string, string> };
    assert.equal(pkg.type, 'module');
    assert.equal(pkg.main, 'index.js');
    assert.deepEqual(Object.keys(pkg.scripts), ['start'], 'a build or test script would run at the buildpack\'s npm install');
  });

  it("survives the buildpack's `npm install --production` in it, offline", async () => {
    const dir = join(app, 'mcp-auth-proxy');
    const before = await readdir(join(dir, 'node_modules'));
    await run('npm', ['install', '--production', '--offline', '--no-audit', '--no-fund'], { cwd: dir });
    assert.deepEqual(await readdir(join(dir, 'node_modules')), before);
  });

  it(`release: \`${RELEASE}\` boots everything, prints the release line and exits 0`, async () => {
    const { env, port, mcpPort } = await appEnvironment();
    delete env.PORT; // the command sets it
    const result = await sh(RELEASE.replace('PORT=3001', `PORT=${port}`), env).exited;
    assert.equal(result.code, 0, `stdout:\n${result.stdout}\nstderr:\n${result.stderr}`);
    assert.equal(result.stdout.split('\n').filter((line) => line === RELEASE_LINE).length, 1, result.stdout);
    assert.ok(result.stdout.includes(`mcp fixture listening on ${mcpPort}`), 'the MCP server child did not start');
    assert.equal(await portAccepts(mcpPort), false, 'the MCP server still listens after the release check');
  });

  it('release with a bad configuration: exits non-zero naming the variable', async () => {
    const { env, port } = await appEnvironment();
    delete env.IDENTITY_CLIENT_ID;
    const result = await sh(RELEASE.replace('PORT=3001', `PORT=${port}`), env).exited;
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /IDENTITY_CLIENT_ID: is required/);
    assert.ok(!result.stdout.includes(RELEASE_LINE));
  });

  it(`web: \`${WEB}\` serves the resource metadata and the 401 challenge, and exits 0 on SIGTERM with its MCP server`, async () => {
    const { env, port, mcpPort } = await appEnvironment();
    const web = spawnProcess(process.execPath, ['mcp-auth-proxy/index.js'], { cwd: app, env });
    await Promise.race([
      waitForPort(port, '127.0.0.1', 25_000),
      web.exited.then((r) => assert.fail(`the proxy exited (code ${r.code})\n${r.stdout}\n${r.stderr}`)),
    ]);
    await web.waitForOutput(/MCP auth proxy listening/);

    const base = `http://127.0.0.1:${port}`;
    const metadata = await fetch(`${base}/.well-known/oauth-protected-resource/mcp`);
    assert.equal(metadata.status, 200);
    assert.equal(((await metadata.json()) as { resource: string }).resource, `${base}/mcp`);
    const challenge = await fetch(`${base}/mcp`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    });
    await challenge.body?.cancel();
    assert.equal(challenge.status, 401);
    assert.match(challenge.headers.get('www-authenticate') ?? '', new RegExp(`resource_metadata="${base}/\\.well-known/oauth-protected-resource/mcp"`));
    assert.equal(await portAccepts(mcpPort), true);

    web.proc.kill('SIGTERM');
    const result = await web.exited;
    assert.equal(result.code, 0, result.stderr);
    assert.equal(await portAccepts(mcpPort), false, 'the MCP server outlived the proxy');
  });

  it('nothing configured outside production: the demo runs from the package (its sample server needs only production dependencies)', async () => {
    const port = await freePort();
    const demo = spawnProcess(process.execPath, ['mcp-auth-proxy/index.js'], { cwd: app, env: { ...baseEnvironment(), PORT: String(port) } });
    await Promise.race([
      demo.waitForOutput(/MCP auth proxy listening/),
      demo.exited.then((r) => assert.fail(`the demo exited (code ${r.code})\n${r.stdout}\n${r.stderr}`)),
    ]);
    assert.equal(await portAccepts(port + 2), true, 'the sample MCP server listens');
    demo.proc.kill('SIGTERM');
    assert.equal((await demo.exited).code, 0);
    assert.equal(await portAccepts(port + 1), false, 'the demo IdP still listens');
  });
});
