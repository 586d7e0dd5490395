// A browser client of another origin, running the MCP SDK's own auth flow in headless Chromium
// (test/fixtures/browser-mcp-client.ts, bundled for the page): discovery with MCP-Protocol-Version
// (a CORS preflight for each metadata document), registration, the sign-in, the token exchange,
// and /mcp with a session, all from the page. Every cross-origin request must succeed as sent,
// never through the SDK's retry without headers, and each answer carries the CORS it needs.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { chromium, type Browser } from 'playwright-core';
import { startStack, type Stack } from '../helpers/stack.js';
import { TEST_USER } from '../helpers/upstream-idp.js';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const CLIENT_SOURCE = fileURLToPath(new URL('../fixtures/browser-mcp-client.ts', import.meta.url));

interface Seen {
  method: string;
  url: string;
  status: number;
  requestHeaders: Record<string, string>;
  responseHeaders: Record<string, string>;
}

describe('a browser MCP client of another origin (the SDK auth flow in Chromium): CORS', function () {
  this.timeout(90_000);
  let stack: Stack;
  let app: Server;
  let appOrigin: string;
  let browser: Browser;

  before(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium (.ci/run does)`);
    stack = await startStack({ mcpEnv: { MCP_FIXTURE_STATEFUL: 'true', MCP_FIXTURE_CORS: 'true' } });
    const bundle = await build({ entryPoints: [CLIENT_SOURCE], bundle: true, format: 'esm', platform: 'browser', target: 'chrome120', write: false, logLevel: 'silent' });
    const script = bundle.outputFiles[0]!.text;
    const html = '<!doctype html><html><body><p id="status">starting</p><pre id="result"></pre><script type="module" src="/client.js"></script></body></html>';
    // The client's own site, on another origin (another port) than the proxy.
    app = createServer((req, res) => {
      if (req.url === '/client.js') res.writeHead(200, { 'content-type': 'text/javascript' }).end(script);
      else res.writeHead(200, { 'content-type': 'text/html' }).end(html);
    });
    app.listen(0, '127.0.0.1');
    await once(app, 'listening');
    appOrigin = `http://127.0.0.1:${(app.address() as AddressInfo).port}`;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
  });
  after(async () => {
    await browser?.close();
    app?.close();
    await stack?.stop();
  });

  it('discovers, registers, signs in, exchanges the code and talks to /mcp, each request as sent', async () => {
    const page = await browser.newPage();
    const proxied: Seen[] = [];
    const failed: string[] = [];
    const problems: string[] = [];
    // A request still open when the SDK sends the page to the sign-in is aborted by the navigation
    // (net::ERR_ABORTED): that is not a refusal. A CORS refusal fails as net::ERR_FAILED.
    page.on('requestfailed', (r) => {
      if (r.failure()?.errorText !== 'net::ERR_ABORTED') failed.push(`${r.method()} ${r.url()}: ${r.failure()?.errorText}`);
    });
    page.on('console', (m) => {
      if (/CORS|Access-Control|blocked/i.test(m.text())) problems.push(m.text());
    });
    page.on('response', async (response) => {
      const request = response.request();
      if (!request.url().startsWith(stack.baseUrl) || request.resourceType() === 'document') return;
      proxied.push({ method: request.method(), url: request.url(), status: response.status(), requestHeaders: await request.allHeaders(), responseHeaders: await response.allHeaders() });
    });

    await page.goto(`${appOrigin}/?mcp=${encodeURIComponent(stack.mcpUrl)}`);
    // The SDK sent the browser to our confirm page; the person confirms and signs in.
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.locator('input[name="username"]').fill(TEST_USER.username);
    await page.locator('input[name="password"]').fill(TEST_USER.password);
    await page.locator('input[name="password"]').press('Enter');
    await page.waitForURL(`${appOrigin}/callback?**`);
    await page.locator('#status', { hasText: /^(connected|failed)/ }).waitFor({ timeout: 30_000 });
    assert.equal(await page.locator('#status').innerText(), 'connected');
    const result = JSON.parse(await page.locator('#result').innerText()) as { tools: string[]; echoed: { text: string }[]; sessionId: string | null };
    assert.deepEqual(result.tools.sort(), ['echo', 'whoami']);
    assert.equal(result.echoed[0]?.text, 'from another origin');
    assert.ok(result.sessionId, 'the page could read Mcp-Session-Id');

    assert.deepEqual(failed, []);
    assert.deepEqual(problems, []);
    const path = (s: Seen) => new URL(s.url).pathname;
    const calls = (method: string, prefix: string) => proxied.filter((s) => s.method === method && path(s).startsWith(prefix));
    // Each metadata document was fetched once, with the MCP-Protocol-Version header (no retry without it).
    for (const prefix of ['/.well-known/oauth-protected-resource', '/.well-known/oauth-authorization-server']) {
      const gets = calls('GET', prefix);
      assert.ok(gets.length >= 1, `no GET ${prefix}`);
      for (const get of gets) {
        assert.equal(get.status, 200, get.url);
        assert.ok(get.requestHeaders['mcp-protocol-version'], `${get.url} was fetched without MCP-Protocol-Version (the SDK's CORS fallback)`);
        assert.ok(['*', appOrigin].includes(get.responseHeaders['access-control-allow-origin']!), get.url);
      }
    }
    for (const [method, prefix] of [['POST', '/reg'], ['POST', '/token'], ['POST', '/mcp']] as const) {
      const made = calls(method, prefix);
      assert.ok(made.length >= 1, `no ${method} ${prefix}`);
      for (const call of made) assert.ok(['*', appOrigin].includes(call.responseHeaders['access-control-allow-origin']!), `${method} ${call.url}`);
    }
    const mcp = calls('POST', '/mcp');
    assert.ok(mcp.some((s) => s.status === 401 && /resource_metadata=/.test(s.responseHeaders['www-authenticate'] ?? '')));
    const initialized = mcp.find((s) => s.status === 200 && s.responseHeaders['mcp-session-id']);
    assert.ok(initialized, 'no /mcp answer with a session');
    assert.equal(initialized.responseHeaders['access-control-allow-origin'], appOrigin);
    assert.match(initialized.responseHeaders['access-control-expose-headers'] ?? '', /Mcp-Session-Id/);
    assert.ok(mcp.some((s) => s.requestHeaders['mcp-session-id'] === initialized.responseHeaders['mcp-session-id']), 'the session id was sent back');
    await page.close();
  });
});
