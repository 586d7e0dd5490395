// SLOW (packages once): a Heroku operator switching over. The configuration of each of Heroku's
// documents (../shared/seeds/ 000 buildpack README, 001 Dev Center page, 002 proxy README) and of
// its .env-example, read from the documents themselves and pasted as they are, with only what
// must be reached filled in for loopback (the app's host, the IdP, Redis, free ports, the app
// directory, a key where the document runs jwkgen). The proxy runs as the buildpack runs it, from
// the app directory with the commands of seed 000, its MCP server started by `npm start` (or
// `pnpm start`) in the app; a person signs in through the MCP SDK client and calls a tool.
//
// The identity provider is a stand-in for Heroku Identity (test/helpers/heroku-identity.ts):
// OAuth 2.0 with the scope `global`, the user in the token response, the Platform API's /account.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { chmod, cp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { delimiter, dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { HEROKU_IDENTITY_METADATA } from '../../src/identity/heroku-identity.js';
import { herokuEnvExample, herokuViewsDir, seed } from '../helpers/heroku-reference.js';
import { metadataFileOf, startHerokuIdentity, type HerokuIdentity } from '../helpers/heroku-identity.js';
import { connectWithOAuth, TestOAuthProvider } from '../helpers/mcp-client.js';
import { unpackedApp } from '../helpers/packaged-app.js';
import { freePort } from '../helpers/ports.js';
import { baseEnvironment, live, portAccepts, spawnProcess, stopProcess, type Env, type ProcessResult } from '../helpers/processes.js';
import { ROOT } from '../helpers/proxy-process.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { RouterHop } from '../helpers/router-hop.js';
import { documentedConfig } from '../helpers/seed-snippets.js';
import { TEST_USER } from '../helpers/upstream-idp.js';

// Seed 000's processes (heroku-buildpack-mcp-auth-proxy's bin/release and README).
const WEB = 'node mcp-auth-proxy/index.js';
const RELEASE = 'MCP_AUTH_PROXY_VERIFY_RELEASE=true PORT=3001 node mcp-auth-proxy/index.js';
const RELEASE_LINE = 'Verified release launches. Exit status 0';
const REDIRECT = 'http://127.0.0.1:33418/callback';
const FIXTURE = join(ROOT, 'test', 'fixtures', 'mcp-server.ts');
const TSX = pathToFileURL(join(ROOT, 'node_modules', 'tsx', 'dist', 'loader.mjs')).href;

// Only the variables a document sets for the proxy (its own, and those of the buildpacks around it).
const DOCUMENTED = /^(BASE_URL|MCP_|OIDC_|IDENTITY_|BRANDING_|OTEL_|GITHUB_AUTH_TOKEN)/;

interface Seen {
  authorization: string;
  headers: Record<string, string>;
}

describe("Heroku's documents, pasted as they are, in the buildpack layout (SLOW: packages once)", function () {
  this.timeout(90_000);
  let app: string;
  let redis: RedisServer;
  let idp: HerokuIdentity;
  let port: number;
  let mcpPort: number;
  let path: string;
  /** What `jwkgen --jwk` prints: one private JWK. */
  let jwkgen: string;
  const clients: Client[] = [];

  before(async function () {
    this.timeout(300_000);
    app = await unpackedApp('heroku-operator-app-');
    // The MCP server's own app, as the documents assume: `npm start` (or `pnpm start`) runs it.
    await writeFile(
      join(app, 'package.json'),
      JSON.stringify({ name: 'mcp-server', private: true, scripts: { start: `node --import ${TSX} ${FIXTURE}` } }, null, 2),
    );
    // Seed 001 runs the server with pnpm: the app's package manager, here npm under that name.
    const tools = join(app, '.tools');
    await mkdir(tools);
    await writeFile(join(tools, 'pnpm'), '#!/bin/sh\nexec npm "$@"\n');
    await chmod(join(tools, 'pnpm'), 0o755);
    path = [tools, dirname(process.execPath), process.env.PATH].join(delimiter);
    [port, mcpPort] = [await freePort(), await freePort()];
    redis = await startRedis();
    idp = await startHerokuIdentity({
      redirectUris: [`https://127.0.0.1:${port}/interaction/identity/callback`, `http://localhost:${port}/interaction/identity/callback`],
    });
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    jwkgen = JSON.stringify({ ...privateKey.export({ format: 'jwk' }), kid: 'jwkgen-1', alg: 'RS256', use: 'sig' });
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close().catch(() => {})));
    await Promise.all([...live].map(stopProcess));
  });

  after(async () => {
    await Promise.all([...live].map(stopProcess));
    await idp?.stop();
    await redis?.stop();
    if (app) await rm(app, { recursive: true, force: true });
  });

  /** A document's configuration with what must be reached filled in for loopback. */
  function onLoopback(documented: Record<string, string>, publicOrigin: string): Env {
    const env: Env = {};
    for (const [name, value] of Object.entries(documented)) {
      let filled = value
        .replace(/^https:\/\/[^/]*herokuapp\.com$/, publicOrigin)
        .replace('http://localhost:3000/', `http://localhost:${mcpPort}/`)
        .replace('[$(jwkgen --jwk)]', `[${jwkgen}]`)
        .replace(/^\/app\//, `${app}/`)
        .replace(/<[a-z-]+>/gi, 'placeholder');
      if (name === 'MCP_SERVER_RUN_DIR') filled = app; // "/app", or a developer's own checkout
      if (name === 'MCP_SERVER_RUN_ENV_JSON') filled = filled.replace('"PORT":3000', `"PORT":${mcpPort}`);
      if (name === 'IDENTITY_SERVER_URL' && value === 'https://identity.example.com') filled = idp.issuer;
      if (name === 'IDENTITY_CLIENT_ID') filled = idp.clientId;
      if (name === 'IDENTITY_CLIENT_SECRET') filled = idp.clientSecret;
      // Never contacted (OTEL_SDK_DISABLED=true comes first in the same document), never leaves the machine.
      if (name === 'OTEL_EXPORTER_OTLP_ENDPOINT') filled = 'http://127.0.0.1:9';
      env[name] = filled;
    }
    return env;
  }

  /** The environment of a dyno of the app: Heroku's Node buildpack, the router's PORT, the Redis add-on. */
  function dyno(config: Env): Env {
    return {
      ...baseEnvironment(),
      PATH: path,
      NODE_ENV: 'production',
      PORT: String(port),
      // Tests listen on loopback only (Heroku's dynos listen on every interface).
      MCP_AUTH_PROXY_LISTEN_HOST: '127.0.0.1',
      MCP_AUTH_PROXY_REDIS_URL: redis.url,
      ...config,
    };
  }

  const sh = (command: string, env: Env) => spawnProcess('sh', ['-c', command], { cwd: app, env });

  async function release(env: Env): Promise<ProcessResult> {
    const { PORT: _set_by_the_command, ...rest } = env;
    return sh(RELEASE.replace('PORT=3001', `PORT=${port}`), rest).exited;
  }

  /** Runs the web process, signs a person in through the SDK client, calls whoami, stops it. */
  async function signInAndCall(env: Env, publicOrigin: string): Promise<{ seen: Seen; auth: TestOAuthProvider; web: ProcessResult }> {
    // Exactly WEB, without a shell in between to outlive: `node` is this Node.
    const [node, ...args] = WEB.split(' ');
    assert.equal(node, 'node');
    const web = spawnProcess(process.execPath, args, { cwd: app, env });
    await Promise.race([
      web.waitForOutput(/MCP auth proxy listening/),
      web.exited.then((r) => assert.fail(`the proxy exited (code ${r.code})\n${r.stdout}\n${r.stderr}`)),
    ]);
    const hop = publicOrigin.startsWith('https:') ? new RouterHop(publicOrigin, `http://127.0.0.1:${port}`) : undefined;
    const auth = new TestOAuthProvider(REDIRECT, undefined, hop);
    const failed = (err: unknown) => assert.fail(`${(err as Error).message}\nproxy stdout:\n${web.stdout()}\nproxy stderr:\n${web.stderr()}`);
    const client = await connectWithOAuth(`${publicOrigin}/mcp`, auth, hop ? { fetch: (url, init) => hop.fetch(url, init) } : {}).catch(failed);
    clients.push(client);
    const result = await client.callTool({ name: 'whoami', arguments: {} }).catch(failed);
    const seen = JSON.parse((result.content as { text: string }[])[0]!.text) as Seen;
    await client.close();
    web.proc.kill('SIGTERM');
    const ended = await web.exited;
    assert.equal(ended.code, 0, `the web process did not stop cleanly:\n${ended.stderr}`);
    assert.equal(await portAccepts(mcpPort), false, 'the MCP server outlived the proxy');
    return { seen, auth, web: ended };
  }

  /** The MCP server got the person's Heroku token (the Platform API accepts it), never ours, and Heroku's scope header. */
  async function assertHerokuToken(seen: Seen, auth: TestOAuthProvider): Promise<void> {
    const token = /^Bearer (\S+)$/.exec(seen.authorization)?.[1];
    assert.ok(token, seen.authorization);
    assert.notEqual(token, auth.savedTokens?.access_token);
    const account = await fetch(idp.accountUrl, { headers: { authorization: `Bearer ${token}`, accept: 'application/vnd.heroku+json; version=3' } });
    assert.equal(account.status, 200);
    assert.equal(((await account.json()) as { id: string }).id, TEST_USER.sub);
    assert.equal(seen.headers['x-authorization-scope'], 'global', "Heroku's token response has no scope: IDENTITY_SCOPE, as Heroku's proxy sends it");
    assert.equal(seen.headers['x-mcp-user-id'], TEST_USER.sub);
  }

  const warningsOf = (result: ProcessResult): string[] =>
    result.stdout
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { level: number; msg: string })
      .filter((line) => line.level === 40)
      .map((line) => line.msg);

  it('000, the buildpack README: releases, serves, and signs in (npm start, numbers in MCP_SERVER_RUN_ENV_JSON, scope global)', async () => {
    const publicOrigin = `https://127.0.0.1:${port}`;
    const documented = documentedConfig(seed('000'), (name) => DOCUMENTED.test(name));
    assert.equal(documented.MCP_SERVER_RUN_ENV_JSON, '{"PORT":3000,"BACKEND_API_URL":"https://mcp.example.com"}', 'pasted as the document gives it');
    const env = dyno(onLoopback(documented, publicOrigin));

    const released = await release(env);
    assert.equal(released.code, 0, `stdout:\n${released.stdout}\nstderr:\n${released.stderr}`);
    assert.equal(released.stdout.split('\n').filter((line) => line === RELEASE_LINE).length, 1);
    assert.deepEqual(warningsOf(released), [], 'nothing the document sets is warned about');

    const { seen, auth } = await signInAndCall(env, publicOrigin);
    await assertHerokuToken(seen, auth);
    assert.match(auth.pages[0]!.html, /<title>Connect SDK Test Client\? · Login for Model Context Protocol<\/title>/);
  });

  it("001, the Dev Center page: pnpm, Heroku's views at its path, BRANDING_TITLE and BRANDING_FAVICON", async () => {
    const publicOrigin = `https://127.0.0.1:${port}`;
    const env = dyno(onLoopback(documentedConfig(seed('001'), (name) => DOCUMENTED.test(name)), publicOrigin));
    assert.equal(env.MCP_SERVER_RUN_COMMAND, 'pnpm');
    assert.equal(env.OIDC_PROVIDER_VIEWS_PATH, `${app}/mcp-auth-proxy/mcp-auth-proxy/support/auth-views`);
    await cp(herokuViewsDir(), env.OIDC_PROVIDER_VIEWS_PATH, { recursive: true });

    const released = await release(env);
    assert.equal(released.code, 0, `stdout:\n${released.stdout}\nstderr:\n${released.stderr}`);
    assert.deepEqual(warningsOf(released), [
      'OIDC_PROVIDER_VIEWS_PATH: interaction.ejs is not used; this proxy takes only confirm-login.ejs and _layout.ejs from there',
    ]);

    const { seen, auth } = await signInAndCall(env, publicOrigin);
    await assertHerokuToken(seen, auth);
    const consent = auth.pages[0]!;
    assert.match(consent.html, /<title>My Custom Auth Service<\/title>/);
    assert.match(consent.html, /<link rel="shortcut icon" type="image\/x-icon" href="https:\/\/example\.com\/custom-favicon\.ico">/);
    assert.match(consent.headers.get('content-security-policy') ?? '', /img-src 'self' data: https:\/\/example\.com/);
    assert.match(consent.html, /I trust this client with access to my account\./, "Heroku's own confirm page");
  });

  it("002, the proxy README: Heroku Identity staging through its metadata file where the document puts it, Heroku's branding, OpenTelemetry off", async () => {
    const publicOrigin = `https://127.0.0.1:${port}`;
    const env = dyno(onLoopback(documentedConfig(seed('002'), (name) => DOCUMENTED.test(name)), publicOrigin));
    assert.equal(env.IDENTITY_SERVER_URL, 'https://identity.staging.herokudev.com');
    assert.equal(env.IDENTITY_SERVER_METADATA_FILE, `${app}/mcp-auth-proxy/heroku_identity_staging_metadata.json`);
    // The package ships the file where the document points; the test IdP stands in for its host.
    assert.deepEqual(JSON.parse(await readFile(env.IDENTITY_SERVER_METADATA_FILE, 'utf8')), HEROKU_IDENTITY_METADATA.staging);
    await writeFile(env.IDENTITY_SERVER_METADATA_FILE, metadataFileOf(idp));
    await cp(herokuViewsDir(), env.OIDC_PROVIDER_VIEWS_PATH!, { recursive: true });

    const released = await release(env);
    assert.equal(released.code, 0, `stdout:\n${released.stdout}\nstderr:\n${released.stderr}`);

    const { seen, auth } = await signInAndCall(env, publicOrigin);
    await assertHerokuToken(seen, auth);
    assert.match(auth.pages[0]!.html, /<title>Login for Model Context Protocol \| Heroku<\/title>/);
    assert.match(auth.pages[0]!.html, /--brand-primary: #8363a1;/);
  });

  it('.env-example, copied to .env: refuses to start naming what to fill in; filled in as the README says, signs in', async () => {
    const dotEnv = herokuEnvExample()
      .replaceAll('3001', String(port))
      .replaceAll('localhost:3000', `localhost:${mcpPort}`)
      .replace('"PORT":3000', `"PORT":${mcpPort}`)
      .replace('MCP_SERVER_RUN_DIR="/app"', `MCP_SERVER_RUN_DIR="${app}"`)
      .replace('redis://localhost:6379', redis.url);
    await writeFile(join(app, '.env'), dotEnv);
    try {
      // Locally: no NODE_ENV, no Redis or PORT from a platform; everything comes from .env.
      const env = { ...baseEnvironment(), PATH: path, MCP_AUTH_PROXY_LISTEN_HOST: '127.0.0.1' };
      const first = await spawnProcess(process.execPath, ['mcp-auth-proxy/index.js'], { cwd: app, env }).exited;
      assert.equal(first.code, 1);
      assert.match(first.stderr, /IDENTITY_SERVER_URL: is required/);
      assert.match(first.stderr, /IDENTITY_CLIENT_ID: is required/);
      assert.doesNotMatch(first.stderr, /MCP_SERVER_RUN_ENV_JSON:/, 'the JSON numbers are fine');

      // "Inspect .env to fill in missing values", then the README's jwkgen line.
      const filled = dotEnv
        .replace(/^IDENTITY_SERVER_URL=$/m, `IDENTITY_SERVER_URL=${idp.issuer}`)
        .replace(/^IDENTITY_CLIENT_ID=$/m, `IDENTITY_CLIENT_ID=${idp.clientId}`)
        .replace(/^IDENTITY_CLIENT_SECRET=$/m, `IDENTITY_CLIENT_SECRET=${idp.clientSecret}`)
        .replace(/^IDENTITY_SCOPE=$/m, 'IDENTITY_SCOPE=global');
      await writeFile(join(app, '.env'), `${filled}OIDC_PROVIDER_JWKS='[${jwkgen}]'\n`);
      const { seen, auth } = await signInAndCall(env, `http://localhost:${port}`);
      await assertHerokuToken(seen, auth);
    } finally {
      await rm(join(app, '.env'), { force: true });
    }
  });
});
