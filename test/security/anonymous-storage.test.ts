// Attacker: fills storage without signing in, through every write anyone may cause: dynamic
// registrations, client metadata documents the proxy fetches and keeps, device and authorization
// requests. Each has a quota, a size bound and a lifetime sized to need.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { selfSignedCertificate } from '../helpers/certificates.js';
import { freePort } from '../helpers/ports.js';
import { Browser } from '../helpers/browser.js';
import { signInForCode } from '../helpers/sign-in.js';
import { startStack, type Stack } from '../helpers/stack.js';

const REDIRECT = 'http://127.0.0.1:45766/cb';
const QUOTA = 4;

describe('anonymous writes are bounded', function () {
  this.timeout(60_000);
  let dir: string;
  let server: Server;
  let origin: string;
  let stack: Stack;
  let redis: Redis;
  const fetched: string[] = [];
  let nextIp = 0;
  /** Each test asks from its own client address (the router's X-Forwarded-For hop), for its own quota. */
  const fromNewIp = () => ({ 'x-forwarded-for': `203.0.113.${++nextIp}` });

  const key = (name: string) => `${stack.config.redis.prefix}${name}`;
  const authorize = (clientId: string, headers: Record<string, string>) =>
    viaRouter(
      `/auth?${new URLSearchParams({ client_id: clientId, response_type: 'code', redirect_uri: REDIRECT, code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256' })}`,
      { headers },
    );
  /** Requests as they reach the proxy from the router, for the public origin. */
  const viaRouter = (path: string, init: RequestInit & { headers?: Record<string, string> } = {}) =>
    fetch(new URL(path, stack.hop!.listenOrigin), { ...init, redirect: 'manual', headers: { 'x-forwarded-proto': 'https', ...init.headers } });
  const register = (headers: Record<string, string>, metadata: Record<string, unknown>) =>
    viaRouter('/reg', { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify({ redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none', ...metadata }) });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'anon-'));
    const cert = await selfSignedCertificate(dir);
    const port = await freePort();
    origin = `https://127.0.0.1:${port}`;
    // Any path is a document naming itself; /blob/… is 60 kB of something else; /big/… a 6 kB document.
    server = createServer({ key: await readFile(cert.keyFile), cert: await readFile(cert.certFile) }, (req, res) => {
      const path = req.url ?? '/';
      fetched.push(path);
      const headers = { 'content-type': 'application/json', 'cache-control': 'max-age=86400' };
      if (path.startsWith('/blob/')) return void res.writeHead(200, headers).end(JSON.stringify({ junk: 'x'.repeat(60 * 1024) }));
      const document = { client_id: `${origin}${path}`, client_name: 'Doc', redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none' };
      if (path.startsWith('/big/')) Object.assign(document, { client_uri: `https://x.example/${'x'.repeat(6 * 1024)}` });
      res.writeHead(200, headers).end(JSON.stringify(document));
    }).listen(port, '127.0.0.1');
    await once(server, 'listening');
    // Behind the router (https), so the client address is the router's X-Forwarded-For hop.
    stack = await startStack({
      https: true,
      env: { MCP_AUTH_PROXY_TEST_CIMD_ALLOW_LOOPBACK: 'true', MCP_AUTH_PROXY_REGISTRATION_MAX: String(QUOTA), MCP_AUTH_PROXY_REGISTRATION_TTL: '3600' },
    });
    redis = new Redis(stack.redis.url);
  });
  after(async () => {
    redis?.disconnect();
    await stack?.stop();
    server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('registrations: at most 8 kB, kept for MCP_AUTH_PROXY_REGISTRATION_TTL until someone signs in, then as long as the grant', async () => {
    const ip = fromNewIp();
    assert.equal((await register(ip, { client_name: 'x'.repeat(9 * 1024) })).status, 413);
    const response = await register(ip, { client_name: 'Normal' });
    assert.equal(response.status, 201);
    const { client_id: clientId } = (await response.json()) as { client_id: string };
    const stored = Number(await redis.call('MEMORY', 'USAGE', key(`Client:${clientId}`)));
    assert.ok(stored < 2048, `a registration as MCP clients send it takes ${stored} bytes`);
    const unused = await redis.ttl(key(`Client:${clientId}`));
    assert.ok(unused > 3590 && unused <= 3600, `unused: ${unused} s`);

    const { code } = await signInForCode(stack.baseUrl, clientId, REDIRECT, { browser: new Browser({ hop: stack.hop! }) });
    assert.ok(code);
    const used = await redis.ttl(key(`Client:${clientId}`));
    assert.ok(used > stack.config.provider.grantTtl - 10, `after a sign-in: ${used} s`);
  });

  it('client metadata documents: first fetches spend the registration quota of the address that asked', async () => {
    const ip = fromNewIp();
    for (let i = 0; i < QUOTA; i++) assert.notEqual((await authorize(`${origin}/doc-${i}.json`, ip)).status, 400, `document ${i}`);
    const before = fetched.length;
    const over = await authorize(`${origin}/doc-over.json`, ip);
    assert.equal(over.status, 400);
    assert.match(await over.text(), /invalid_client/);
    assert.equal(fetched.length, before, 'refused without fetching');
    // A document already kept costs nothing, and another address has its own quota.
    assert.notEqual((await authorize(`${origin}/doc-0.json`, ip)).status, 400);
    assert.notEqual((await authorize(`${origin}/doc-over.json`, fromNewIp())).status, 400);
  });

  it('client metadata documents: only a client document of at most 5 kB is kept, nothing else is', async () => {
    const ip = fromNewIp();
    const cached = async () => (await redis.keys(key('fetch-cache:*'))).length;
    const before = await cached();
    for (const path of ['/blob/1.json', '/big/1.json']) {
      assert.equal((await authorize(`${origin}${path}`, ip)).status, 400, path);
    }
    assert.equal(await cached(), before, 'neither kept');
    for (const entry of await redis.keys(key('fetch-cache:*'))) {
      assert.ok(Number(await redis.call('MEMORY', 'USAGE', entry)) < 6 * 1024, 'every kept document is small');
    }
  });

  it('device and authorization requests: a record over 16 kB is refused, not kept', async () => {
    const ip = fromNewIp();
    const registered = await register(ip, { grant_types: ['urn:ietf:params:oauth:grant-type:device_code'], response_types: [], redirect_uris: [] });
    const { client_id: clientId } = (await registered.json()) as { client_id: string };
    const keysBefore = await redis.dbsize();
    const device = await viaRouter('/device/auth', {
      method: 'POST',
      headers: { ...ip, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ client_id: clientId, login_hint: 'x'.repeat(20 * 1024) }),
    });
    assert.equal(device.status, 400);
    assert.equal(((await device.json()) as { error: string }).error, 'invalid_request');
    assert.ok((await redis.dbsize()) <= keysBefore + 1, 'nothing kept but the rate-limit counter');
  });
});
