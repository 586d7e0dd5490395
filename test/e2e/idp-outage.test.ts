// The upstream IdP stops in the middle of a sign-in (a real stop of the test IdP): the user sees a
// page saying so, whose button returns to the application with temporarily_unavailable, instead
// of a browser error at a dead IdP or an unexplained redirect.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Browser, type Page } from '../helpers/browser.js';
import { startStack, type Stack } from '../helpers/stack.js';
import { TEST_USER } from '../helpers/upstream-idp.js';

const REDIRECT = 'http://127.0.0.1:45692/cb';
const atClient = (u: URL) => u.href.startsWith(REDIRECT);

describe('identity provider outage during sign-in', function () {
  this.timeout(60_000);
  let stack: Stack | undefined;
  afterEach(async () => {
    await stack?.stop();
    stack = undefined;
  });

  /** A stack with a registered client; the consent page of a new authorization request. */
  async function atConsent(env: Record<string, string> = {}): Promise<{ stack: Stack; browser: Browser; consent: Page }> {
    stack = await startStack({ env });
    const response = await fetch(`${stack.baseUrl}/reg`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ client_name: 'Outage Test', redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none' }),
    });
    const { client_id } = (await response.json()) as { client_id: string };
    const url = new URL(`${stack.baseUrl}/auth`);
    url.search = new URLSearchParams({
      client_id,
      response_type: 'code',
      redirect_uri: REDIRECT,
      state: 'st',
      code_challenge: createHash('sha256').update(randomBytes(32)).digest('base64url'),
      code_challenge_method: 'S256',
    }).toString();
    const browser = new Browser();
    const consent = await browser.open(url.href, atClient);
    assert.equal(consent.status, 200);
    return { stack, browser, consent };
  }

  /** The outage page, and what the client receives when the user presses its button. */
  async function expectUnavailablePage(browser: Browser, page: Page, heading = /not answering/): Promise<void> {
    assert.equal(page.redirectedTo, undefined, 'the browser is not sent anywhere by itself');
    assert.equal(page.status, 503);
    assert.match(page.html, heading);
    assert.match(page.html, new RegExp(`127\\.0\\.0\\.1:${new URL(stack!.idp.issuer).port}`), 'names the IdP');
    assert.match(page.html, /Return to Outage Test/);
    const back = await browser.submit(page, { actionIncludes: '/unavailable', stopAt: atClient });
    assert.ok(back.redirectedTo, `${back.status} ${back.html.slice(0, 300)}`);
    const callback = new URL(back.redirectedTo);
    assert.equal(callback.searchParams.get('error'), 'temporarily_unavailable');
    assert.equal(callback.searchParams.get('state'), 'st');
    assert.equal(callback.searchParams.get('iss'), stack!.baseUrl);
    assert.equal(callback.searchParams.get('code'), null);
  }

  it('before the browser is sent to the IdP: a page instead of a dead IdP', async () => {
    const { stack, browser, consent } = await atConsent();
    await stack.idp.stop();
    const page = await browser.submit(consent, { actionIncludes: '/confirm', button: { name: 'action', value: 'confirm' }, stopAt: atClient });
    assert.equal(new URL(page.url).origin, stack.baseUrl, 'still at the proxy');
    await expectUnavailablePage(browser, page);
    assert.ok(stack.logs.some((l) => l.includes('identity provider unreachable at sign-in')));
  });

  it('after the user signed in at the IdP, when the code cannot be exchanged', async () => {
    const { stack, browser, consent } = await atConsent();
    const idpLogin = await browser.submit(consent, { actionIncludes: '/confirm', button: { name: 'action', value: 'confirm' }, stopAt: atClient });
    // The IdP sends the browser back to the callback; it stops before the proxy exchanges the code.
    const atCallback = (u: URL) => u.pathname === '/interaction/identity/callback';
    const signedIn = await browser.submit(idpLogin, { fields: { username: TEST_USER.username, password: TEST_USER.password }, stopAt: atCallback });
    const callbackUrl = signedIn.redirectedTo!;
    assert.ok(new URL(callbackUrl).searchParams.get('code'));
    await stack.idp.stop();
    const page = await browser.open(callbackUrl, atClient);
    await expectUnavailablePage(browser, page);
    const upstreamCode = new URL(callbackUrl).searchParams.get('code')!;
    assert.equal(stack.logs.find((l) => l.includes(upstreamCode)), undefined, 'the upstream code is not logged');
    // Nothing was half-made: no grant exists.
    assert.deepEqual(await keysOf(stack, 'Grant:'), []);
  });

  it('says the server is misconfigured, not that the IdP is down, when the IdP refuses its client secret', async () => {
    const { stack, browser, consent } = await atConsent({ IDENTITY_CLIENT_SECRET: 'not-the-secret-registered-at-the-idp' });
    const idpLogin = await browser.submit(consent, { actionIncludes: '/confirm', button: { name: 'action', value: 'confirm' }, stopAt: atClient });
    const page = await browser.submit(idpLogin, { fields: { username: TEST_USER.username, password: TEST_USER.password }, stopAt: atClient });
    await expectUnavailablePage(browser, page, /cannot sign you in right now[\s\S]*refused this server's own credentials/);
    assert.doesNotMatch(page.html, /not answering/);
    assert.ok(stack.logs.some((l) => l.includes('check IDENTITY_CLIENT_ID and IDENTITY_CLIENT_SECRET')), 'the log tells the operator what to check');
    assert.deepEqual(await keysOf(stack, 'Grant:'), []);
  });

  it('the outage page is bound to its interaction: another browser, or a forged form, cannot use its button', async () => {
    const { stack, browser, consent } = await atConsent();
    await stack.idp.stop();
    const page = await browser.submit(consent, { actionIncludes: '/confirm', button: { name: 'action', value: 'confirm' }, stopAt: atClient });
    const other = await new Browser().submit(page, { actionIncludes: '/unavailable', stopAt: atClient });
    assert.equal(other.redirectedTo, undefined);
    assert.equal(other.status, 400);
    const forged = await browser.submit(page, { actionIncludes: '/unavailable', fields: { csrf: 'forged' }, stopAt: atClient });
    assert.equal(forged.redirectedTo, undefined);
    assert.equal(forged.status, 403);
  });
});

async function keysOf(stack: Stack, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const key of stack.proxy.store.keysWithPrefix(prefix)) keys.push(key);
  return keys;
}
