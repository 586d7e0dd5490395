// The consent flow in a real browser (headless Chromium): CSP form-action also governs the
// redirects after a form POST, so the confirm form must be able to reach the IdP and then the
// client's https or custom-scheme redirect. Also keeps a screenshot of the consent page.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startStack, type Stack } from '../helpers/stack.js';
import { TEST_USER } from '../helpers/upstream-idp.js';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const HTTPS_CALLBACK = 'https://claude.ai/api/mcp/auth_callback';
const CUSTOM_CALLBACK = 'cursor://anysphere.cursor-mcp/oauth/callback';

describe('consent in headless Chromium', function () {
  this.timeout(60_000);
  let stack: Stack;
  let browser: Browser;
  let clientId: string;

  before(async function () {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium (.ci/run does)`);
    stack = await startStack();
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
    const response = await fetch(`${stack.baseUrl}/reg`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ client_name: 'Cursor', redirect_uris: [CUSTOM_CALLBACK, HTTPS_CALLBACK], token_endpoint_auth_method: 'none' }),
    });
    clientId = ((await response.json()) as { client_id: string }).client_id;
  });
  after(async () => {
    await browser?.close();
    await stack?.stop();
  });

  function authorizeUrl(redirectUri: string): string {
    const url = new URL(`${stack.baseUrl}/auth`);
    url.search = new URLSearchParams({
      client_id: clientId,
      response_type: 'code',
      redirect_uri: redirectUri,
      resource: stack.mcpUrl,
      code_challenge: createHash('sha256').update(randomBytes(32)).digest('base64url'),
      code_challenge_method: 'S256',
    }).toString();
    return url.href;
  }

  /** Collects CSP violations the page reports (Chromium logs them to the console). */
  function cspViolations(page: Page): string[] {
    const violations: string[] = [];
    page.on('console', (message) => {
      if (/Content Security Policy/i.test(message.text())) violations.push(message.text());
    });
    return violations;
  }

  async function signIn(page: Page): Promise<void> {
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.locator('input[name="username"]').fill(TEST_USER.username);
    await page.locator('input[name="password"]').fill(TEST_USER.password);
    await page.locator('input[name="password"]').press('Enter');
  }

  it('shows the consent page (screenshot kept in test/artifacts)', async () => {
    const page = await browser.newPage({ viewport: { width: 800, height: 700 } });
    const violations = cspViolations(page);
    await page.goto(authorizeUrl(HTTPS_CALLBACK));
    await page.getByRole('heading', { name: 'Connect Cursor?' }).waitFor();
    assert.equal(await page.getByRole('button', { name: 'Cancel' }).isVisible(), true);
    assert.match(await page.locator('dt:has-text("After sign-in you return to") + dd').innerText(), /https:\/\/claude\.ai/);
    const shot = await page.screenshot({ fullPage: true });
    assert.deepEqual([...shot.subarray(1, 4)], [...Buffer.from('PNG')]);
    await mkdir('test/artifacts', { recursive: true });
    await writeFile('test/artifacts/consent.png', shot);
    assert.deepEqual(violations, []);
    await page.close();
  });

  it('reaches an https client redirect with a code after the form POST', async () => {
    const page = await browser.newPage();
    const violations = cspViolations(page);
    const reached = new Promise<URL>((resolve) => {
      void page.route(`${HTTPS_CALLBACK}**`, async (route) => {
        resolve(new URL(route.request().url()));
        await route.fulfill({ status: 200, contentType: 'text/html', body: '<h1>client</h1>' });
      });
    });
    await page.goto(authorizeUrl(HTTPS_CALLBACK));
    await signIn(page);
    const callback = await reached;
    assert.ok(callback.searchParams.get('code'));
    assert.equal(callback.searchParams.get('iss'), stack.baseUrl);
    assert.deepEqual(violations, []);
    await page.close();
  });

  it('reaches a custom-scheme client redirect after the form POST', async () => {
    const page = await browser.newPage();
    const violations = cspViolations(page);
    const client = await page.context().newCDPSession(page);
    await client.send('Network.enable');
    const reached = new Promise<string>((resolve) => {
      client.on('Network.requestWillBeSent', (event: { request: { url: string } }) => {
        if (event.request.url.startsWith(CUSTOM_CALLBACK)) resolve(event.request.url);
      });
      page.on('framenavigated', (frame) => {
        if (frame.url().startsWith(CUSTOM_CALLBACK)) resolve(frame.url());
      });
      page.on('requestfailed', (request) => {
        if (request.url().startsWith(CUSTOM_CALLBACK)) resolve(request.url());
      });
    });
    await page.goto(authorizeUrl(CUSTOM_CALLBACK));
    await signIn(page);
    const url = new URL(await reached);
    assert.ok(url.searchParams.get('code'), url.href);
    assert.deepEqual(violations, []);
    await page.close();
  });
});
