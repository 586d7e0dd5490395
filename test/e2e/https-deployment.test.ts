// An https deployment, behind a TLS-terminating router as on Heroku. Every cookie the proxy sets
// is Secure, HttpOnly and SameSite=Lax, with `__Host-` on the session cookie and `__Secure-` on
// the per-sign-in interaction cookies; the browser helper applies the rules real browsers apply
// to those prefixes, so a full sign-in only works if the cookies are right. Two sign-ins
// interleaved in one browser both finish. The sign-in pages carry the security headers.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Browser, type Page } from '../helpers/browser.js';
import { startStack, type Stack } from '../helpers/stack.js';
import { TEST_USER } from '../helpers/upstream-idp.js';
import { authorizeUrl, codeChallenge } from '../helpers/authorize.js';

const REDIRECT = 'http://127.0.0.1:45690/cb';
const atClient = (u: URL) => u.href.startsWith(REDIRECT);

interface Attributes {
  name: string;
  flags: Set<string>;
  values: Map<string, string>;
}

function parseSetCookie(line: string): Attributes {
  const [pair = '', ...attrs] = line.split(';');
  const flags = new Set<string>();
  const values = new Map<string, string>();
  for (const attr of attrs) {
    const [k = '', v] = attr.split('=').map((s) => s.trim());
    if (v === undefined) flags.add(k.toLowerCase());
    else values.set(k.toLowerCase(), v);
  }
  return { name: pair.slice(0, pair.indexOf('=')).trim(), flags, values };
}

describe('an https deployment behind the router', function () {
  this.timeout(60_000);
  let stack: Stack;
  let clientId: string;

  const fetchPublic = (url: string, init?: RequestInit) => stack.hop!.fetch(url, init);

  const authorize = (state: string, verifier: string): string =>
    authorizeUrl(stack.baseUrl, {
      client_id: clientId,
      redirect_uri: REDIRECT,
      scope: 'openid offline_access',
      resource: stack.mcpUrl,
      state,
      code_challenge: codeChallenge(verifier),
      code_challenge_method: 'S256',
    });

  /** The code the client received, checked by exchanging it and calling /mcp with the token. */
  async function redeem(done: Page, state: string, verifier: string): Promise<void> {
    assert.ok(done.redirectedTo, `no redirect to the client: ${done.status} ${done.url} ${done.html.slice(0, 300)}`);
    const callback = new URL(done.redirectedTo);
    assert.equal(callback.searchParams.get('state'), state);
    assert.equal(callback.searchParams.get('iss'), stack.baseUrl);
    const token = await fetchPublic(`${stack.baseUrl}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code: callback.searchParams.get('code')!, code_verifier: verifier, redirect_uri: REDIRECT, client_id: clientId }),
    });
    assert.equal(token.status, 200);
    const { access_token } = (await token.json()) as { access_token: string };
    const mcp = await fetchPublic(stack.mcpUrl, {
      method: 'POST',
      headers: { authorization: `Bearer ${access_token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} }),
    });
    assert.equal(mcp.status, 200);
  }

  const confirm = (browser: Browser, consent: Page) =>
    browser.submit(consent, { actionIncludes: '/confirm', button: { name: 'action', value: 'confirm' }, stopAt: atClient });
  const login = (browser: Browser, page: Page) =>
    browser.submit(page, { fields: { username: TEST_USER.username, password: TEST_USER.password }, stopAt: atClient });

  before(async () => {
    stack = await startStack({ https: true });
    const response = await fetchPublic(`${stack.baseUrl}/reg`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ client_name: 'Cookie Test', redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none' }),
    });
    assert.equal(response.status, 201);
    clientId = ((await response.json()) as { client_id: string }).client_id;
  });
  after(async () => stack?.stop());

  it('signs in with every cookie Secure, HttpOnly, SameSite=Lax and prefixed', async () => {
    const browser = new Browser({ hop: stack.hop! });
    const verifier = randomBytes(32).toString('base64url');
    const consent = await browser.open(authorize('one', verifier), atClient);
    assert.equal(consent.status, 200);
    const idpLogin = await confirm(browser, consent);
    await redeem(await login(browser, idpLogin), 'one', verifier);
    // A second authorization in the same browser: the session cookie is sent back and refreshed.
    const again = await browser.open(authorize('two', verifier), atClient);
    await redeem(again.redirectedTo ? again : await login(browser, await confirm(browser, again)), 'two', verifier);

    const ours = browser.setCookies.filter(({ url }) => new URL(url).origin === stack.baseUrl).map(({ line }) => parseSetCookie(line));
    const names = new Set(ours.map((c) => c.name));
    for (const name of ['__Host-session', '__Secure-interaction', '__Secure-interaction_resume']) {
      assert.ok(names.has(name), `${name} was set (saw ${[...names].join(', ')})`);
    }
    for (const cookie of ours) {
      const what = `${cookie.name}: ${[...cookie.flags, ...cookie.values.keys()].join(', ')}`;
      assert.ok(cookie.flags.has('secure'), `Secure on ${what}`);
      assert.ok(cookie.flags.has('httponly'), `HttpOnly on ${what}`);
      assert.equal(cookie.values.get('samesite')?.toLowerCase(), 'lax', `SameSite=Lax on ${what}`);
      assert.equal(cookie.values.has('domain'), false, `no Domain on ${what}`);
      assert.match(cookie.name, /^__(Host|Secure)-/, `prefixed: ${what}`);
      if (cookie.name.startsWith('__Host-')) assert.equal(cookie.values.get('path'), '/', `Path=/ on ${what}`);
    }
    assert.deepEqual(browser.refusedCookies, []);
  });

  it('finishes two sign-ins interleaved in one browser', async () => {
    const browser = new Browser({ hop: stack.hop! });
    const [va, vb] = [randomBytes(32).toString('base64url'), randomBytes(32).toString('base64url')];
    // Both confirm pages are open before either is confirmed, and both reach the IdP's login
    // form before either signs in there.
    const consentA = await browser.open(authorize('a', va), atClient);
    const consentB = await browser.open(authorize('b', vb), atClient);
    const loginA = await confirm(browser, consentA);
    const loginB = await confirm(browser, consentB);
    assert.match(loginA.html, /name="username"/);
    assert.match(loginB.html, /name="username"/);
    await redeem(await login(browser, loginB), 'b', vb);
    await redeem(await login(browser, loginA), 'a', va);
    assert.deepEqual(browser.refusedCookies, []);
  });

  it('fails closed when the router does not say https: a browser drops the prefixed cookies', async () => {
    // Without the router's X-Forwarded-Proto the proxy sees plain http and cannot mark cookies
    // Secure; a browser drops the prefixed cookies and the sign-in cannot go on.
    const direct = new Browser();
    const consent = await direct.open(authorize('x', 'v'.repeat(43)).replace(stack.baseUrl, stack.hop!.listenOrigin), atClient);
    assert.equal(consent.status, 400);
    assert.ok(direct.refusedCookies.some(({ reason }) => /without Secure/.test(reason)), JSON.stringify(direct.refusedCookies));
  });

  it('serves the sign-in pages with security headers: CSP, no framing, HSTS, nosniff, no referrer, no caching', async () => {
    const browser = new Browser({ hop: stack.hop! });
    const consent = await browser.open(authorize('h', 'v'.repeat(43)), atClient);
    assert.equal(consent.status, 200);
    const csp = consent.headers.get('content-security-policy') ?? '';
    assert.match(csp, /default-src 'self'/);
    assert.match(csp, /script-src 'self'(;|$)/, 'no inline scripts on our pages');
    assert.match(csp, /object-src 'none'/);
    assert.match(csp, /frame-ancestors 'self'/);
    assert.doesNotMatch(csp, /form-action/, 'form-action would block the redirects after the confirm form (see test/browser)');
    assert.equal(consent.headers.get('x-frame-options'), 'SAMEORIGIN');
    assert.equal(consent.headers.get('x-content-type-options'), 'nosniff');
    assert.match(consent.headers.get('strict-transport-security') ?? '', /max-age=\d+/);
    assert.equal(consent.headers.get('referrer-policy'), 'no-referrer');
    assert.match(consent.headers.get('cache-control') ?? '', /no-store/);
    assert.equal(consent.headers.get('x-powered-by'), null);
  });
});
