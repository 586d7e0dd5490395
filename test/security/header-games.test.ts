// Attacker: headers and paths chosen to mislead. Proxy headers a client makes up never reach
// the MCP server as if the proxy vouched for them; paths below /mcp cannot climb out of it; and
// no URL the proxy gives out names another host or scheme than BASE_URL's.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { connectWithOAuth, TestOAuthProvider } from '../helpers/mcp-client.js';
import { startStack, type Stack } from '../helpers/stack.js';

interface RawAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/**
 * A request exactly as given, to the address in `url`: any Host, and a request-target in any form
 * (fetch resolves dot segments and will not send a Host of its own choosing).
 */
function raw(url: string, target: string, { method = 'GET', headers = {}, body }: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<RawAnswer> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ host: hostname, port, path: target, method, headers: { ...(body ? { 'content-length': String(Buffer.byteLength(body)) } : {}), ...headers } }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Every absolute URL in a JSON document or header value. */
const urlsIn = (text: string): string[] => [...text.matchAll(/[a-z][a-z0-9+.-]*:\/\/[^\s"',;]+/gi)].map(([u]) => u);

describe('header and path games against /mcp', function () {
  this.timeout(60_000);
  let stack: Stack;
  let client: Client;
  let token: string;

  before(async () => {
    stack = await startStack();
    const auth = new TestOAuthProvider();
    client = await connectWithOAuth(stack.mcpUrl, auth);
    token = auth.savedTokens!.access_token;
  });
  after(async () => {
    await client?.close();
    await stack?.stop();
  });

  it('never forwards X-Forwarded-*, Forwarded or X-Real-IP as the client sent them; says what the proxy knows', async () => {
    const response = await fetch(`${stack.mcpUrl}/headers`, {
      headers: {
        authorization: `Bearer ${token}`,
        'x-forwarded-for': '6.6.6.6',
        'x-forwarded-host': 'evil.example',
        'x-forwarded-proto': 'gopher',
        'x-forwarded-port': '1',
        forwarded: 'for=6.6.6.6;host=evil.example;proto=http',
        'x-real-ip': '6.6.6.6',
      },
    });
    assert.equal(response.status, 200);
    const seen = (await response.json()) as Record<string, string>;
    assert.equal(seen['x-forwarded-for'], '127.0.0.1', 'the address the proxy saw');
    assert.equal(seen['x-forwarded-host'], new URL(stack.baseUrl).host);
    assert.equal(seen['x-forwarded-proto'], 'http');
    for (const name of ['forwarded', 'x-real-ip', 'x-forwarded-port']) assert.equal(seen[name], undefined, name);
    assert.ok(!JSON.stringify(seen).includes('6.6.6.6') && !JSON.stringify(seen).includes('evil.example'));
  });

  for (const path of ['/mcp/../admin', '/mcp/%2e%2e/admin', '/mcp/.%2E/admin', '/mcp/./headers', '/mcp/a%2f..%2fb', '/mcp/%zz']) {
    it(`refuses ${path} before it reaches the MCP server`, async () => {
      const { status, body } = await raw(stack.mcpUrl, path, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(status, 400, body);
      assert.equal((JSON.parse(body) as { error: string }).error, 'invalid_request');
    });
  }
});

/** Headers (and a request-target) that try to make the proxy name another origin. */
const ORIGIN_GAMES: { label: string; headers: Record<string, string>; absolute?: boolean }[] = [
  { label: 'Host', headers: { host: 'evil.example' } },
  { label: 'X-Forwarded-Host', headers: { 'x-forwarded-host': 'evil.example' } },
  { label: 'X-Forwarded-Proto: http', headers: { 'x-forwarded-proto': 'http' } },
  { label: 'Forwarded', headers: { forwarded: 'for=6.6.6.6;host=evil.example;proto=http' } },
  { label: 'absolute-form request-target', headers: {}, absolute: true },
];

for (const https of [false, true]) {
  describe(`every URL given out derives from BASE_URL (${https ? 'https behind the router' : 'plain http'})`, function () {
    this.timeout(60_000);
    let stack: Stack;
    let deviceClient: string;
    /** Where requests go: behind the router, the proxy's own listener with the router's headers. */
    let listen: string;
    let routerHeaders: Record<string, string>;

    before(async () => {
      stack = await startStack(https ? { https: true } : {});
      listen = stack.hop?.listenOrigin ?? stack.baseUrl;
      routerHeaders = https ? { 'x-forwarded-proto': 'https', 'x-forwarded-for': '127.0.0.1' } : {};
      const registered = await raw(listen, '/reg', {
        method: 'POST',
        headers: { ...routerHeaders, 'content-type': 'application/json' },
        body: JSON.stringify({ client_name: 'Device', redirect_uris: ['http://127.0.0.1:45744/cb'], token_endpoint_auth_method: 'none', grant_types: ['urn:ietf:params:oauth:grant-type:device_code', 'refresh_token'], response_types: [] }),
      });
      deviceClient = (JSON.parse(registered.body) as { client_id: string }).client_id;
    });
    after(async () => stack?.stop());

    const ask = (game: (typeof ORIGIN_GAMES)[number], path: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}) =>
      raw(listen, game.absolute ? `http://evil.example${path}` : path, { ...init, headers: { ...routerHeaders, ...init.headers, ...game.headers } });

    for (const game of ORIGIN_GAMES) {
      it(`${game.label}: discovery, registration, device and challenge URLs name BASE_URL`, async () => {
        const answers: [string, string][] = [];
        for (const path of ['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration', '/.well-known/oauth-protected-resource/mcp']) {
          const answer = await ask(game, path);
          assert.equal(answer.status, 200, `${path}: ${answer.body}`);
          answers.push([path, answer.body]);
        }
        const registration = await ask(game, '/reg', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ client_name: 'X', redirect_uris: ['http://127.0.0.1:45744/cb'], token_endpoint_auth_method: 'none' }),
        });
        assert.equal(registration.status, 201, registration.body);
        answers.push(['/reg', registration.body]);
        const device = await ask(game, '/device/auth', {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ client_id: deviceClient }).toString(),
        });
        assert.equal(device.status, 200, device.body);
        answers.push(['/device/auth', device.body]);
        const challenge = await ask(game, '/mcp', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
        assert.equal(challenge.status, 401);
        answers.push(['WWW-Authenticate', String(challenge.headers['www-authenticate'])]);

        let seen = 0;
        for (const [where, text] of answers) {
          for (const url of urlsIn(text)) {
            // Only the URLs of this proxy: a registered redirect URI is the client's own.
            if (url.startsWith('http://127.0.0.1:45744')) continue;
            seen++;
            assert.ok(url.startsWith(`${stack.baseUrl}/`) || url === stack.baseUrl, `${where} names ${url}`);
          }
        }
        assert.ok(seen > 20, `${seen} URLs checked`);
        assert.match(answers.find(([where]) => where === '/device/auth')![1], new RegExp(`"verification_uri":"${stack.baseUrl}/device"`));
      });
    }
  });
}
