// Heroku's own templates (../shared/reference/…/lib/views, unchanged) as an operator brings them
// with OIDC_PROVIDER_VIEWS_PATH, driven in headless Chromium as a person would: tick "I trust this
// client", press Login, sign in at the IdP, and the client gets its code. Their form knows
// nothing of our CSRF token, yet carries one; the page keeps our headers; nothing breaks the CSP.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { chromium, type Browser, type Page } from 'playwright-core';
import { herokuViewsDir } from '../helpers/heroku-reference.js';
import { startStack, type Stack } from '../helpers/stack.js';
import { TEST_USER } from '../helpers/upstream-idp.js';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const CALLBACK = 'https://claude.ai/api/mcp/auth_callback';

describe("Heroku's own views in headless Chromium", function () {
  this.timeout(60_000);
  let stack: Stack;
  let browser: Browser;
  let clientId: string;

  before(async function () {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium (.ci/run does)`);
    stack = await startStack({ env: { OIDC_PROVIDER_VIEWS_PATH: herokuViewsDir() } });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
    const response = await fetch(`${stack.baseUrl}/reg`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ client_name: 'Claude', client_uri: 'https://claude.ai', redirect_uris: [CALLBACK], token_endpoint_auth_method: 'none' }),
    });
    clientId = ((await response.json()) as { client_id: string }).client_id;
  });
  after(async () => {
    await browser?.close();
    await stack?.stop();
  });

  function authorizeUrl(state: string): string {
    const url = new URL(`${stack.baseUrl}/auth`);
    url.search = new URLSearchParams({
      client_id: clientId,
      response_type: 'code',
      redirect_uri: CALLBACK,
      resource: stack.mcpUrl,
      state,
      code_challenge: createHash('sha256').update(randomBytes(32)).digest('base64url'),
      code_challenge_method: 'S256',
    }).toString();
    return url.href;
  }

  /** A page whose CSP violations are collected, and whose navigation to the client is caught. */
  async function openPage(): Promise<{ page: Page; violations: string[]; atClient: Promise<URL> }> {
    const page = await browser.newPage({ viewport: { width: 900, height: 700 } });
    const violations: string[] = [];
    page.on('console', (message) => {
      if (/Content Security Policy/i.test(message.text())) violations.push(message.text());
    });
    const atClient = new Promise<URL>((resolve) => {
      void page.route(`${CALLBACK}**`, async (route) => {
        resolve(new URL(route.request().url()));
        await route.fulfill({ status: 200, contentType: 'text/html', body: '<h1>client</h1>' });
      });
    });
    return { page, violations, atClient };
  }

  it('shows their confirm page with what it names, and our protections (screenshot in test/artifacts)', async () => {
    const { page, violations } = await openPage();
    const response = await page.goto(authorizeUrl('look'));
    await page.getByText('I trust this client with access to my account.').waitFor();
    assert.equal(await page.title(), 'Login for Model Context Protocol');
    assert.match(await page.locator('h1').innerText(), /Connect Claude\?/);
    assert.equal(await page.locator('code').first().innerText(), stack.config.identity.serverUrl.origin);
    assert.match(await page.locator('li').first().innerText(), /Claude \(website\)/);
    assert.equal(await page.getByRole('link', { name: 'website' }).getAttribute('href'), 'https://claude.ai');
    assert.match(await page.locator('li').nth(1).innerText(), new RegExp(`Redirects ${CALLBACK}`));
    // The form posts to Heroku's route and carries our token, which the template never mentions.
    assert.match((await page.locator('form').getAttribute('action')) ?? '', /^\/interaction\/[\w-]+\/confirm-login$/);
    assert.match((await page.locator('form input[name="csrf"]').getAttribute('value')) ?? '', /^[\w-]{32}$/);
    const headers = (await response!.allHeaders()) as Record<string, string>;
    assert.equal(headers['cache-control'], 'no-store');
    assert.match(headers['content-security-policy'] ?? '', /script-src 'self'/);
    const shot = await page.screenshot({ fullPage: true });
    await mkdir('test/artifacts', { recursive: true });
    await writeFile('test/artifacts/heroku-confirm-login.png', shot);
    assert.deepEqual(violations, []);
    await page.close();
  });

  it('ticking the box and pressing Login signs in at the IdP and returns a code to the client', async () => {
    const { page, violations, atClient } = await openPage();
    await page.goto(authorizeUrl('heroku-1'));
    await page.getByLabel('I trust this client with access to my account.').check();
    await page.getByRole('button', { name: 'Login' }).click();
    await page.locator('input[name="username"]').fill(TEST_USER.username);
    await page.locator('input[name="password"]').fill(TEST_USER.password);
    await page.locator('input[name="password"]').press('Enter');
    const callback = await atClient;
    assert.ok(callback.searchParams.get('code'));
    assert.equal(callback.searchParams.get('state'), 'heroku-1');
    assert.equal(callback.searchParams.get('iss'), stack.baseUrl);
    assert.deepEqual(violations, []);
    await page.close();
  });

  it('pressing Login without ticking the box shows the page again; Cancel returns access_denied to the client', async () => {
    const { page, atClient } = await openPage();
    await page.goto(authorizeUrl('heroku-2'));
    const first = page.url();
    await page.getByRole('button', { name: 'Login' }).click();
    await page.waitForURL(first);
    await page.getByText('I trust this client with access to my account.').waitFor();
    await page.getByRole('link', { name: 'Cancel' }).click();
    const callback = await atClient;
    assert.equal(callback.searchParams.get('error'), 'access_denied');
    assert.equal(callback.searchParams.get('state'), 'heroku-2');
    assert.equal(callback.searchParams.get('code'), null);
    await page.close();
  });
});
