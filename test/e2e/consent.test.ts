// Consent remembered per (user, client): the same person is not asked twice; prompt=consent,
// another browser, and another person signing in upstream in the same browser all see the page.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Browser } from '../helpers/browser.js';
import { startStack, type Stack } from '../helpers/stack.js';
import { OTHER_USER, TEST_USER } from '../helpers/upstream-idp.js';

const REDIRECT = 'http://127.0.0.1:45681/cb';
const atClient = (u: URL) => u.href.startsWith(REDIRECT);
const CONFIRM_PAGE = /Connect Consent Test\?/;

describe('consent memory', function () {
  this.timeout(60_000);
  let stack: Stack;
  let clientId: string;
  let alice: Browser;

  const authorizeUrl = (extra: Record<string, string> = {}) => {
    const url = new URL(`${stack.baseUrl}/auth`);
    url.search = new URLSearchParams({
      client_id: clientId,
      response_type: 'code',
      redirect_uri: REDIRECT,
      code_challenge: createHash('sha256').update(randomBytes(32)).digest('base64url'),
      code_challenge_method: 'S256',
      ...extra,
    }).toString();
    return url.href;
  };

  before(async () => {
    stack = await startStack();
    const response = await fetch(`${stack.baseUrl}/reg`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ client_name: 'Consent Test', redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none' }),
    });
    clientId = ((await response.json()) as { client_id: string }).client_id;
    // Alice confirms once.
    alice = new Browser();
    const consent = await alice.open(authorizeUrl(), atClient);
    assert.match(consent.html, CONFIRM_PAGE);
    const login = await alice.submit(consent, { actionIncludes: '/confirm', button: { name: 'action', value: 'confirm' }, stopAt: atClient });
    const done = await alice.submit(login, { fields: { username: TEST_USER.username, password: TEST_USER.password }, stopAt: atClient });
    assert.ok(new URL(done.redirectedTo!).searchParams.get('code'));
  });
  after(async () => stack?.stop());

  it('does not ask the same person again for the same client', async () => {
    const page = await alice.open(authorizeUrl(), atClient);
    assert.ok(page.redirectedTo, `expected a redirect to the client, got a page: ${page.html.slice(0, 200)}`);
    assert.ok(new URL(page.redirectedTo).searchParams.get('code'));
  });

  it('asks again with prompt=consent', async () => {
    const page = await alice.open(authorizeUrl({ prompt: 'consent' }), atClient);
    assert.match(page.html, CONFIRM_PAGE);
  });

  it('asks in another browser', async () => {
    const page = await new Browser().open(authorizeUrl(), atClient);
    assert.match(page.html, CONFIRM_PAGE);
  });

  it('asks another person who signs in upstream in the same browser, and their grant is theirs', async () => {
    // Alice signs out at the IdP (its cookies go); Bob signs in there in the same browser.
    (alice as unknown as { jar: Map<string, unknown> }).jar.delete(new URL(stack.idp.issuer).host);
    const idpLogin = await alice.open(authorizeUrl(), atClient);
    assert.match(idpLogin.html, /name="username"/, 'straight to the IdP: the page was skipped for Alice');
    const consent = await alice.submit(idpLogin, { fields: { username: OTHER_USER.username, password: OTHER_USER.password }, stopAt: atClient });
    assert.equal(consent.redirectedTo, undefined, 'no code for Bob without his confirmation');
    assert.match(consent.html, CONFIRM_PAGE);
    let done = await alice.submit(consent, { actionIncludes: '/confirm', button: { name: 'action', value: 'confirm' }, stopAt: atClient });
    // oidc-provider ends Alice's session first with a self-submitting form (its script is allowed by
    // a CSP hash it adds); submit it as the browser's JavaScript would.
    assert.match(done.html, /Submitting Callback/);
    assert.match(done.headers.get('content-security-policy') ?? '', /script-src[^;]*'sha256-/);
    done = await alice.submit(done, { stopAt: atClient });
    assert.ok(done.redirectedTo, `${done.status} ${done.url} ${done.html.slice(0, 400)}`);
    const code = new URL(done.redirectedTo).searchParams.get('code')!;
    const stored = JSON.parse((await stack.proxy.store.get(`AuthorizationCode:${code}`))!) as { accountId: string };
    assert.equal(stored.accountId, OTHER_USER.sub);
  });
});
