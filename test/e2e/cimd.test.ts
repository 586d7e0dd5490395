// Client ID Metadata Documents: the SDK client uses an https URL as client_id; the proxy fetches
// the document once for all instances (shared cache), shows its host on the consent page, and
// refuses documents that do not name themselves, denied hosts, and loopback hosts (SSRF) unless a
// test-only setting allows them.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { Browser } from '../helpers/browser.js';
import { connectWithOAuth, TestOAuthProvider } from '../helpers/mcp-client.js';
import { freePort } from '../helpers/ports.js';
import { startStack, type Stack } from '../helpers/stack.js';
import { privateJwks } from '../helpers/keys.js';

const REDIRECT = 'http://127.0.0.1:33419/callback';

describe('Client ID Metadata Documents', function () {
  this.timeout(60_000);
  let dir: string;
  let server: Server;
  let documentUrl: string;
  let origin: string;
  const hits: Record<string, number> = {};
  let a: Stack;
  let b: Stack;
  let client: Client | undefined;
  let auth: TestOAuthProvider;

  const documents = (): Record<string, object> => ({
    '/client.json': {
      client_id: documentUrl,
      client_name: 'CIMD Test Client',
      redirect_uris: [REDIRECT],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    },
    '/impostor.json': { client_id: 'https://claude.ai/oauth/client.json', redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none' },
    // What many documents look like: no token_endpoint_auth_method (the draft's default is none),
    // and a scope naming the resource's scopes, which client registration cannot hold.
    '/minimal.json': { client_id: `${origin}/minimal.json`, client_name: 'Minimal Document', redirect_uris: [REDIRECT], scope: 'openid mcp:tools' },
  });

  const authorizeUrl = (stack: Stack, clientId: string) =>
    `${stack.baseUrl}/auth?${new URLSearchParams({
      client_id: clientId,
      response_type: 'code',
      redirect_uri: REDIRECT,
      code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
      code_challenge_method: 'S256',
    })}`;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cimd-'));
    const [key, cert] = [join(dir, 'key.pem'), join(dir, 'cert.pem')];
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    const port = await freePort();
    origin = `https://127.0.0.1:${port}`;
    documentUrl = `${origin}/client.json`;
    server = createServer({ key: await readFile(key), cert: await readFile(cert) }, (req, res) => {
      const document = documents()[req.url ?? ''];
      hits[req.url ?? ''] = (hits[req.url ?? ''] ?? 0) + 1;
      if (!document) return void res.writeHead(404).end();
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=300' }).end(JSON.stringify(document));
    }).listen(port, '127.0.0.1');
    await once(server, 'listening');

    const jwks = privateJwks();
    const env = { OIDC_PROVIDER_JWKS: jwks, MCP_AUTH_PROXY_TEST_CIMD_ALLOW_LOOPBACK: 'true', MCP_AUTH_PROXY_CIMD_DENIED_HOSTS: 'denied.example.com' };
    a = await startStack({ env });
    b = await startStack({ env: { ...env, BASE_URL: a.baseUrl }, redis: a.redis, idp: a.idp });
  });
  after(async () => {
    await client?.close();
    await b?.stop();
    await a?.stop();
    server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('is advertised with the none token endpoint auth method', async () => {
    const meta = (await (await fetch(`${a.baseUrl}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>;
    assert.equal(meta.client_id_metadata_document_supported, true);
    assert.ok((meta.token_endpoint_auth_methods_supported as string[]).includes('none'));
  });

  it('lets the SDK client sign in with its document URL as client_id, without registering', async () => {
    auth = new TestOAuthProvider(REDIRECT, documentUrl);
    client = await connectWithOAuth(a.mcpUrl, auth);
    assert.equal(auth.client?.client_id, documentUrl);
    const { tools } = await client.listTools();
    assert.ok(tools.length > 0);
    const consent = auth.pages[0]!.html;
    assert.match(consent, /CIMD Test Client/);
    // The name is vouched for by the host that publishes the document: no "not verified" mark.
    assert.match(consent, new RegExp(`<span class="badge verified">Verified by 127\\.0\\.0\\.1:${origin.split(':')[2]}</span>`));
    assert.doesNotMatch(consent, /Name not verified/);
    assert.match(consent, /class="warning"/, 'loopback-only redirects are flagged');
  });

  it('fetches the document once for every instance (shared cache)', async () => {
    const before = hits['/client.json'];
    const page = await new Browser().open(authorizeUrl(b, documentUrl));
    assert.equal(page.status, 200);
    assert.match(page.html, /CIMD Test Client/);
    assert.equal(hits['/client.json'], before);
    assert.equal(before, 1);
  });

  it('takes a document without token_endpoint_auth_method as a public client (none), scopes it may hold kept', async () => {
    const page = await new Browser().open(authorizeUrl(a, `${origin}/minimal.json`));
    assert.equal(page.status, 200, page.html.slice(0, 400));
    assert.match(page.html, /Connect Minimal Document\?/);
    assert.doesNotMatch(page.html, /client_secret is mandatory/);
  });

  it('refuses a document whose client_id is not its own URL', async () => {
    const page = await new Browser().open(authorizeUrl(a, `${origin}/impostor.json`));
    assert.equal(page.status, 400);
    assert.match(page.html, /invalid_client/);
  });

  it('refuses documents of denied hosts without fetching them', async () => {
    const page = await new Browser().open(authorizeUrl(a, 'https://denied.example.com/client.json'));
    assert.equal(page.status, 400);
    assert.match(page.html, /invalid_client/);
  });

  it('refuses loopback documents (SSRF) without the test-only setting', async () => {
    const c = await startStack({ redis: a.redis, idp: a.idp, env: { MCP_AUTH_PROXY_REDIS_PREFIX: 'other:' } });
    try {
      const before = hits['/client.json'];
      const page = await new Browser().open(authorizeUrl(c, documentUrl));
      assert.equal(page.status, 400);
      assert.equal(hits['/client.json'], before);
    } finally {
      await c.stop();
    }
  });
});
