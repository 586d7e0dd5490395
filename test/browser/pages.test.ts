// Every page a person sees, looked at in headless Chromium as a designer would: light and dark,
// desktop and phone. Each is screenshotted (test/artifacts/pages/) and checked: its heading and
// named elements are there, text meets WCAG AA contrast, inputs have labels, nothing overflows a
// phone's width, nothing breaks the Content-Security-Policy, no request fails (the favicon).
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startStack, type Stack } from '../helpers/stack.js';
import { OTHER_USER, TEST_USER } from '../helpers/upstream-idp.js';
import { hashPassword } from '../../src/identity/local-sign-in.js';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const HTTPS_CALLBACK = 'https://claude.ai/api/mcp/auth_callback';
const LOOPBACK_CALLBACK = 'http://127.0.0.1:45731/callback';
const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

/** What the page must show: its heading, and buttons or links by name. */
interface Expect {
  heading: RegExp;
  buttons?: string[];
  links?: string[];
  text?: RegExp[];
}

/**
 * WCAG AA for every visible text element: 4.5:1, or 3:1 for large text (24px, or 18.66px bold).
 * A script as text: tsx would wrap functions passed to page.evaluate in helpers the page lacks.
 */
const CONTRAST_SCRIPT = `(() => {
  const rgb = (value) => {
    const m = /rgba?\\(([\\d.]+), ([\\d.]+), ([\\d.]+)(?:, ([\\d.]+))?\\)/.exec(value);
    return m ? [Number(m[1]), Number(m[2]), Number(m[3]), m[4] === undefined ? 1 : Number(m[4])] : undefined;
  };
  const channel = (c) => (c / 255 <= 0.03928 ? c / 255 / 12.92 : ((c / 255 + 0.055) / 1.055) ** 2.4);
  const luminance = ([r, g, b]) => 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
  const background = (el) => {
    for (let node = el; node; node = node.parentElement) {
      const color = rgb(getComputedStyle(node).backgroundColor);
      if (color && color[3] > 0.5) return color;
    }
    return [255, 255, 255, 1];
  };
  const failures = [];
  for (const el of document.querySelectorAll('h1, p, dt, dd, li, label, button, a, span, strong, code')) {
    const style = getComputedStyle(el);
    const box = el.getBoundingClientRect();
    const ownText = [...el.childNodes].some((n) => n.nodeType === Node.TEXT_NODE && n.textContent.trim() !== '');
    if (!ownText || box.width === 0 || style.visibility === 'hidden') continue;
    const a = luminance(rgb(style.color));
    const b = luminance(background(el));
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    const size = parseFloat(style.fontSize);
    const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
    if (ratio < (large ? 3 : 4.5)) failures.push(el.tagName.toLowerCase() + ' "' + el.textContent.trim().slice(0, 40) + '": ' + ratio.toFixed(2) + ':1');
  }
  return failures;
})()`;

const contrastFailures = (page: Page): Promise<string[]> => page.evaluate(CONTRAST_SCRIPT) as Promise<string[]>;

const UNLABELLED_SCRIPT = `[...document.querySelectorAll('input:not([type=hidden])')]
  .filter((i) => i.labels.length === 0 && !i.getAttribute('aria-label')).map((i) => i.outerHTML)`;

/** Text and password inputs left at the browser's default size (unstyled) instead of their form's width. */
const UNSTYLED_SCRIPT = `[...document.querySelectorAll('input[type=text], input[type=password]')]
  .filter((i) => i.form && i.getBoundingClientRect().width < i.form.getBoundingClientRect().width * 0.9).map((i) => i.name)`;

describe('every page, light and dark, desktop and phone, in headless Chromium', function () {
  this.timeout(120_000);
  let stack: Stack;
  let browser: Browser;
  let clientId: string;
  let loopbackClientId: string;
  let deviceClientId: string;

  before(async function () {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium (.ci/run does)`);
    // Alice may sign in, Bob may not: the access-denied page.
    stack = await startStack({ env: { IDENTITY_ALLOWED_EMAILS: TEST_USER.email } });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
    const register = (body: Record<string, unknown>) => registerAt(stack, body);
    clientId = await register({ client_name: 'Claude', redirect_uris: [HTTPS_CALLBACK], token_endpoint_auth_method: 'none' });
    loopbackClientId = await register({ client_name: 'Claude Code', redirect_uris: [LOOPBACK_CALLBACK], token_endpoint_auth_method: 'none' });
    deviceClientId = await register({ client_name: 'Living Room TV', grant_types: [DEVICE_GRANT, 'refresh_token'], response_types: [], token_endpoint_auth_method: 'none' });
  });
  after(async () => {
    await browser?.close();
    await stack?.stop();
  });

  async function registerAt(at: Stack, body: Record<string, unknown>): Promise<string> {
    const response = await fetch(`${at.baseUrl}/reg`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return ((await response.json()) as { client_id: string }).client_id;
  }

  function authorizeUrl(client: string, redirectUri: string, extra: Record<string, string> = {}, at: Stack = stack): string {
    const url = new URL(`${at.baseUrl}/auth`);
    url.search = new URLSearchParams({
      client_id: client,
      response_type: 'code',
      redirect_uri: redirectUri,
      scope: 'openid offline_access',
      resource: at.mcpUrl,
      state: 'pages',
      code_challenge: createHash('sha256').update(randomBytes(32)).digest('base64url'),
      code_challenge_method: 'S256',
      ...extra,
    }).toString();
    return url.href;
  }

  /** A fresh page that records CSP violations and failed requests, and never leaves for a client. */
  async function newPage(): Promise<{ page: Page; problems: string[] }> {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('console', (m) => {
      if (/Content Security Policy|Refused to/i.test(m.text())) problems.push(`CSP: ${m.text()}`);
    });
    page.on('response', (r) => {
      if (r.status() === 404 && r.request().resourceType() !== 'document') problems.push(`404: ${r.url()}`);
    });
    for (const client of [HTTPS_CALLBACK, LOOPBACK_CALLBACK]) {
      await page.route(`${client}**`, (route) => route.fulfill({ status: 200, contentType: 'text/html', body: '<h1>client</h1>' }));
    }
    return { page, problems };
  }

  /** Looks at the page three ways, screenshots each, and checks what every page must do. */
  async function review(page: Page, problems: string[], name: string, expect: Expect): Promise<void> {
    await mkdir('test/artifacts/pages', { recursive: true });
    for (const [variant, size, scheme] of [
      ['light', { width: 1280, height: 800 }, 'light'],
      ['dark', { width: 1280, height: 800 }, 'dark'],
      ['phone', { width: 375, height: 740 }, 'light'],
    ] as const) {
      await page.setViewportSize(size);
      await page.emulateMedia({ colorScheme: scheme });
      const where = `${name} (${variant})`;
      assert.match(await page.getByRole('heading', { level: 1 }).innerText(), expect.heading, where);
      for (const button of expect.buttons ?? []) assert.equal(await page.getByRole('button', { name: button, exact: true }).isVisible(), true, `${where}: button ${button}`);
      for (const link of expect.links ?? []) assert.equal(await page.getByRole('link', { name: link }).isVisible(), true, `${where}: link ${link}`);
      const text = await page.locator('body').innerText();
      for (const pattern of expect.text ?? []) assert.match(text, pattern, where);
      assert.deepEqual(await contrastFailures(page), [], `${where}: contrast`);
      const unlabelled = (await page.evaluate(UNLABELLED_SCRIPT)) as string[];
      assert.deepEqual(unlabelled, [], `${where}: inputs without a label`);
      assert.deepEqual(await page.evaluate(UNSTYLED_SCRIPT), [], `${where}: inputs narrower than their form`);
      assert.equal(await page.evaluate('document.documentElement.scrollWidth <= window.innerWidth'), true, `${where}: wider than the screen`);
      await writeFile(`test/artifacts/pages/${name}-${variant}.png`, await page.screenshot({ fullPage: true }));
    }
    assert.deepEqual(problems, [], name);
  }

  async function signIn(page: Page, who: { username: string; password: string }): Promise<void> {
    await page.locator('input[name="username"]').fill(who.username);
    await page.locator('input[name="password"]').fill(who.password);
    await page.locator('input[name="password"]').press('Enter');
  }

  it('home and not found', async () => {
    const { page, problems } = await newPage();
    await page.goto(stack.baseUrl);
    await review(page, problems, 'home', { heading: /MCP server/, text: [new RegExp(`${stack.mcpUrl}`)] });
    const missing = await page.goto(`${stack.baseUrl}/no-such-page`);
    assert.equal(missing?.status(), 404);
    await review(page, problems, 'not-found', { heading: /Page not found/, text: [/no page at \/no-such-page/] });
    await page.context().close();
  });

  it('consent: a self-named web client, and a local tool', async () => {
    const { page, problems } = await newPage();
    await page.goto(authorizeUrl(clientId, HTTPS_CALLBACK));
    await review(page, problems, 'consent', {
      heading: /^Connect Claude\?$/,
      buttons: ['Cancel', 'Continue'],
      text: [/Name not verified/, new RegExp(`Server\\s+${new URL(stack.baseUrl).host}`), /You sign in at\s+127\.0\.0\.1:\d+/, /Stays connected\s+Up to 30 days/, /return to\s+https:\/\/claude\.ai/],
    });
    await page.goto(authorizeUrl(loopbackClientId, LOOPBACK_CALLBACK));
    await review(page, problems, 'consent-local-tool', { heading: /Connect Claude Code\?/, buttons: ['Cancel', 'Continue'], text: [/receives the sign-in on your own computer/] });
    await page.context().close();
  });

  it('local accounts: our own sign-in page, a wrong password, then back at the client', async () => {
    const alice = { username: 'alice@example.com', password: 'correct horse battery staple' };
    const local = await startStack({ env: { IDENTITY_PROVIDER: 'local', IDENTITY_LOCAL_USERS: `${alice.username}:${await hashPassword(alice.password)}` } });
    try {
      const client = await registerAt(local, { client_name: 'Claude', redirect_uris: [HTTPS_CALLBACK], token_endpoint_auth_method: 'none' });
      const { page, problems } = await newPage();
      await page.goto(authorizeUrl(client, HTTPS_CALLBACK, {}, local));
      await page.getByRole('button', { name: 'Continue' }).click();
      await page.getByRole('heading', { name: 'Sign in' }).waitFor();
      await review(page, problems, 'local-sign-in', { heading: /^Sign in$/, buttons: ['Sign in'], text: [/Sign in with your account on .+ to connect Claude\./] });
      await signIn(page, { ...alice, password: 'not the password' });
      await page.getByText('The user name or password is not correct.').waitFor();
      await review(page, problems, 'local-sign-in-wrong', { heading: /^Sign in$/, buttons: ['Sign in'] });
      assert.equal(await page.locator('input[name="username"]').inputValue(), alice.username, 'the name typed stays');
      await signIn(page, alice);
      await page.waitForURL(`${HTTPS_CALLBACK}**`);
      assert.ok(new URL(page.url()).searchParams.get('code'), 'the client got a code');
      await page.context().close();
    } finally {
      await local.stop();
    }
  });

  it('several providers: the chooser, one button each', async () => {
    const env = {
      IDENTITY_PROVIDERS: 'corp,partner',
      IDENTITY_CORP_SERVER_URL: stack.idp.issuer,
      IDENTITY_CORP_CLIENT_ID: stack.idp.clientId,
      IDENTITY_CORP_CLIENT_SECRET: stack.idp.clientSecret,
      IDENTITY_CORP_TITLE: 'Acme SSO',
      IDENTITY_PARTNER_PROVIDER: 'github',
      IDENTITY_PARTNER_CLIENT_ID: 'Iv1.partner',
    };
    const several = await startStack({ env });
    try {
      const client = await registerAt(several, { client_name: 'Claude', redirect_uris: [HTTPS_CALLBACK], token_endpoint_auth_method: 'none' });
      const { page, problems } = await newPage();
      await page.goto(authorizeUrl(client, HTTPS_CALLBACK, {}, several));
      await page.getByRole('button', { name: 'Continue' }).click();
      await page.getByRole('heading', { name: 'Sign in with' }).waitFor();
      await review(page, problems, 'choose-provider', { heading: /^Sign in with$/, buttons: ['Continue with Acme SSO', 'Continue with GitHub'], text: [/to connect Claude\./] });
      await page.context().close();
    } finally {
      await several.stop();
    }
  });

  it('access denied names the account that was refused', async () => {
    const { page, problems } = await newPage();
    await page.goto(authorizeUrl(clientId, HTTPS_CALLBACK));
    await page.getByRole('button', { name: 'Continue' }).click();
    await signIn(page, OTHER_USER);
    await page.getByRole('heading', { name: /This account cannot use/ }).waitFor();
    await review(page, problems, 'access-denied', { heading: /This account cannot use/, buttons: ['Return to Claude'], text: [new RegExp(`signed in as ${OTHER_USER.email}`)] });
    await page.context().close();
  });

  it('errors: an expired sign-in, a refused request, the IdP refusing this server', async () => {
    const { page, problems } = await newPage();
    await page.goto(`${stack.baseUrl}/interaction/no-such-sign-in`);
    await review(page, problems, 'error', { heading: /This sign-in has expired/, text: [/Error code: session_not_found/] });
    await page.goto(authorizeUrl(clientId, HTTPS_CALLBACK, { prompt: 'none' }));
    await review(page, problems, 'authorization-error', { heading: /The application's request was refused/, links: ['Return to claude.ai'] });
    stack.idp.failNextTokenRequest('authorization_code', { status: 401, error: 'invalid_client', shape: 'challenge' });
    await page.goto(authorizeUrl(clientId, HTTPS_CALLBACK));
    await page.getByRole('button', { name: 'Continue' }).click();
    await signIn(page, TEST_USER);
    await page.getByRole('heading', { name: 'This server cannot sign you in right now' }).waitFor();
    await review(page, problems, 'idp-misconfigured', { heading: /cannot sign you in/, buttons: ['Return to Claude'] });
    await page.context().close();
  });

  it('device flow: the code, one confirmation with the facts, sign-in, done', async () => {
    const start = await fetch(`${stack.baseUrl}/device/auth`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ client_id: deviceClientId }),
    });
    const device = (await start.json()) as { user_code: string; verification_uri: string };
    const { page, problems } = await newPage();
    await page.goto(device.verification_uri);
    await review(page, problems, 'device-input', { heading: /Connect a device/, buttons: ['Continue'] });
    await page.getByLabel('Code shown on your device').fill('BBBB-BBBB');
    await page.getByRole('button', { name: 'Continue' }).click();
    await review(page, problems, 'device-input-error', { heading: /Connect a device/, text: [/not valid/] });
    await page.getByLabel('Code shown on your device').fill(device.user_code);
    await page.getByRole('button', { name: 'Continue' }).click();
    await review(page, problems, 'device-confirm', {
      heading: /Connect Living Room TV\?/,
      buttons: ['Cancel', 'Continue'],
      text: [new RegExp(device.user_code), /Stays connected\s+Up to 30 days/, /return to\s+your device/],
    });
    await page.getByRole('button', { name: 'Continue' }).click();
    // Straight to the identity provider: no second page asking the same.
    await signIn(page, TEST_USER);
    await page.getByRole('heading', { name: 'Device connected' }).waitFor();
    await review(page, problems, 'device-success', { heading: /Device connected/, text: [/Living Room TV/] });
    await page.context().close();
  });

  it('the IdP down at sign-in', async () => {
    const { page, problems } = await newPage();
    await page.goto(authorizeUrl(clientId, HTTPS_CALLBACK));
    await stack.idp.stop();
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByRole('heading', { name: 'The sign-in service is not answering' }).waitFor();
    await review(page, problems, 'idp-unavailable', { heading: /not answering/, buttons: ['Return to Claude'] });
    await page.context().close();
  });
});
