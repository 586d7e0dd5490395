// What the proxy refuses, on the real stack: bad bearer tokens, PKCE-less and mismatched
// authorization requests, code replay, CSRF and replayed upstream callbacks, cancel.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { until } from '../helpers/wait.js';
import { Browser, type Page } from '../helpers/browser.js';
import { listTools } from '../helpers/mcp-client.js';
import { startStack, type Stack } from '../helpers/stack.js';
import { TEST_USER } from '../helpers/upstream-idp.js';
import { authorizeUrl, codeChallenge } from '../helpers/authorize.js';

const REDIRECT = 'http://127.0.0.1:45678/cb';
const atClient = (u: URL) => u.href.startsWith(REDIRECT);
const verifier = () => randomBytes(32).toString('base64url');

describe('refusals on the real stack', function () {
  this.timeout(60_000);
  let stack: Stack;
  let clientId: string;

  async function register(body: Record<string, unknown>): Promise<Response> {
    return fetch(`${stack.baseUrl}/reg`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  }

  const authorize = (params: Record<string, string>): string =>
    authorizeUrl(stack.baseUrl, { client_id: clientId, redirect_uri: REDIRECT, scope: 'openid offline_access', resource: stack.mcpUrl, ...params });

  /** Runs confirm + upstream login; returns the browser, the pages, and the client callback URL. */
  async function signIn(params: Record<string, string>) {
    const browser = new Browser();
    const consent = await browser.open(authorize(params), atClient);
    const login = await browser.submit(consent, { actionIncludes: '/confirm', button: { name: 'action', value: 'confirm' }, stopAt: atClient });
    const idpCallbacks: string[] = [];
    const done = await browser.submit(login, {
      fields: { username: TEST_USER.username, password: TEST_USER.password },
      stopAt: (u) => {
        if (u.pathname === '/interaction/identity/callback') idpCallbacks.push(u.href);
        return atClient(u);
      },
    });
    return { browser, consent, done, callback: new URL(done.redirectedTo ?? done.url), idpCallbacks };
  }

  async function exchange(code: string, codeVerifier: string, redirectUri = REDIRECT): Promise<Response> {
    return fetch(`${stack.baseUrl}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code, code_verifier: codeVerifier, redirect_uri: redirectUri, client_id: clientId }),
    });
  }

  const callMcp = (token?: string): Promise<Response> => listTools(stack.mcpUrl, token);

  /**
   * An authorization request refused before the user did anything: shown on our page, never sent
   * to the client's redirect URI by itself (RFC 9700 4.11.2); returns the page's link back.
   */
  async function refusedAtAuthorize(params: Record<string, string>): Promise<URL> {
    const page = await new Browser().open(authorize(params), (u) => u.origin !== stack.baseUrl);
    assert.equal(page.redirectedTo, undefined, `redirected by itself to ${page.redirectedTo}`);
    assert.equal(page.status, 400);
    assert.match(page.html, /request was refused/);
    const href = /<a class="button primary" href="([^"]+)"/.exec(page.html)?.[1];
    assert.ok(href, 'a link back to the client');
    const target = new URL(href.replace(/&amp;/g, '&'));
    assert.ok(target.href.startsWith(REDIRECT), target.href);
    assert.equal(target.searchParams.get('code'), null);
    assert.equal(target.searchParams.get('iss'), stack.baseUrl);
    return target;
  }

  async function countKeys(prefix: string): Promise<number> {
    let n = 0;
    for await (const _ of stack.proxy.store.keysWithPrefix(prefix)) n++;
    return n;
  }

  async function validToken(): Promise<string> {
    const v = verifier();
    const { callback } = await signIn({ code_challenge: codeChallenge(v), code_challenge_method: 'S256' });
    const response = await exchange(callback.searchParams.get('code')!, v);
    assert.equal(response.status, 200);
    return ((await response.json()) as { access_token: string }).access_token;
  }

  before(async () => {
    stack = await startStack();
    const response = await register({ client_name: 'Refusal Test', redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none' });
    assert.equal(response.status, 201);
    clientId = ((await response.json()) as { client_id: string }).client_id;
  });
  after(async () => stack?.stop());

  describe('metadata', () => {
    it('serves protected resource metadata at the path-suffixed URL and the root', async () => {
      for (const path of ['/.well-known/oauth-protected-resource/mcp', '/.well-known/oauth-protected-resource']) {
        const response = await fetch(`${stack.baseUrl}${path}`);
        assert.equal(response.status, 200);
        const prm = (await response.json()) as { resource: string; authorization_servers: string[] };
        assert.equal(prm.resource, stack.mcpUrl);
        assert.deepEqual(prm.authorization_servers, [stack.baseUrl]);
      }
    });

    it('serves authorization server metadata generated by the provider, with S256 and iss', async () => {
      for (const path of ['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration']) {
        const meta = (await (await fetch(`${stack.baseUrl}${path}`)).json()) as Record<string, unknown>;
        assert.equal(meta.issuer, stack.baseUrl);
        assert.deepEqual(meta.code_challenge_methods_supported, ['S256']);
        assert.equal(meta.registration_endpoint, `${stack.baseUrl}/reg`);
        assert.equal(meta.revocation_endpoint, `${stack.baseUrl}/token/revocation`);
        assert.equal(meta.authorization_response_iss_parameter_supported, true);
      }
    });
  });

  describe('bearer tokens at /mcp', () => {
    it('answers a missing token with a 401 challenge pointing at the metadata', async () => {
      const response = await callMcp();
      assert.equal(response.status, 401);
      assert.equal(
        response.headers.get('www-authenticate'),
        `Bearer resource_metadata="${stack.baseUrl}/.well-known/oauth-protected-resource/mcp"`,
      );
    });

    it('keeps the router\'s X-Request-Id on the response and in the log line', async () => {
      const response = await fetch(stack.mcpUrl, { method: 'POST', headers: { 'x-request-id': 'router-req-42' } });
      assert.equal(response.headers.get('x-request-id'), 'router-req-42');
      const line = stack.logs.map((l) => JSON.parse(l) as { req?: { id?: string; path?: string } }).find((l) => l.req?.id === 'router-req-42');
      assert.equal(line?.req?.path, '/mcp');
      // An unusable id (here: too long) is replaced by our own.
      const replaced = await fetch(stack.mcpUrl, { method: 'POST', headers: { 'x-request-id': 'x'.repeat(300) } });
      assert.match(replaced.headers.get('x-request-id')!, /^[0-9a-f-]{36}$/);
    });

    it('answers a garbage or unknown token with invalid_token', async () => {
      for (const token of ['garbage', 'x'.repeat(43), 'a!b@c#']) {
        const response = await callMcp(token);
        assert.equal(response.status, 401);
        assert.match(response.headers.get('www-authenticate')!, /^Bearer error="invalid_token"/);
        assert.match(response.headers.get('www-authenticate')!, /resource_metadata="http:\/\/127\.0\.0\.1:\d+\/\.well-known\/oauth-protected-resource\/mcp"/);
      }
    });

    it('refuses an expired token and a token bound to another resource', async () => {
      // Edit the stored tokens before their first use (a used token is remembered briefly in process).
      const rewrite = async (token: string, change: Record<string, unknown>) => {
        const key = `AccessToken:${token}`;
        const payload = JSON.parse((await stack.proxy.store.get(key))!) as Record<string, unknown>;
        await stack.proxy.store.replace(key, JSON.stringify({ ...payload, ...change }));
      };
      const expired = await validToken();
      await rewrite(expired, { exp: Math.floor(Date.now() / 1000) - 10 });
      assert.equal((await callMcp(expired)).status, 401);

      const foreign = await validToken();
      await rewrite(foreign, { aud: 'https://other.example.com/mcp' });
      const response = await callMcp(foreign);
      assert.equal(response.status, 401);
      assert.match(response.headers.get('www-authenticate')!, /invalid_token/);

      assert.equal((await callMcp(await validToken())).status, 200);
    });

    it('sees a revoked token at once, although validated tokens are cached', async () => {
      const token = await validToken();
      assert.equal((await callMcp(token)).status, 200);
      const revoke = await fetch(`${stack.baseUrl}/token/revocation`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token, client_id: clientId }),
      });
      assert.equal(revoke.status, 200);
      assert.equal((await callMcp(token)).status, 401);
    });

    it('refuses a non-Bearer Authorization scheme with invalid_request', async () => {
      const response = await fetch(stack.mcpUrl, { method: 'POST', headers: { authorization: 'Basic Zm9vOmJhcg==' } });
      assert.equal(response.status, 400);
      assert.match(response.headers.get('www-authenticate')!, /error="invalid_request"/);
    });
  });

  describe('authorization requests', () => {
    it('issues no code without PKCE', async () => {
      const target = await refusedAtAuthorize({});
      assert.equal(target.searchParams.get('error'), 'invalid_request');
      assert.match(target.searchParams.get('error_description')!, /PKCE/);
    });

    it('refuses the plain PKCE method', async () => {
      const target = await refusedAtAuthorize({ code_challenge: 'a'.repeat(43), code_challenge_method: 'plain' });
      assert.equal(target.searchParams.get('error'), 'invalid_request');
    });

    it('never redirects to an unregistered redirect_uri', async () => {
      const page = await new Browser().open(
        authorize({ redirect_uri: 'https://evil.example.com/cb', code_challenge: codeChallenge(verifier()), code_challenge_method: 'S256' }),
        (u) => u.hostname === 'evil.example.com',
      );
      assert.equal(page.redirectedTo, undefined);
      assert.equal(page.status, 400);
      assert.match(page.html, /redirect_uri/);
    });

    for (const variant of ['/mcp/', '', '/']) {
      it(`accepts the resource as <BASE_URL>${variant} and binds the token to /mcp`, async () => {
        const v = verifier();
        const { callback } = await signIn({ resource: `${stack.baseUrl}${variant}`, code_challenge: codeChallenge(v), code_challenge_method: 'S256' });
        const response = await exchange(callback.searchParams.get('code')!, v);
        assert.equal(response.status, 200);
        const { access_token } = (await response.json()) as { access_token: string };
        assert.equal((await callMcp(access_token)).status, 200);
      });
    }

    it('refuses a token for another resource', async () => {
      const target = await refusedAtAuthorize({ resource: 'https://other.example.com/mcp', code_challenge: codeChallenge(verifier()), code_challenge_method: 'S256' });
      assert.equal(target.searchParams.get('error'), 'invalid_target');
    });

    it('rejects a reused code with invalid_grant and a wrong verifier', async () => {
      const v = verifier();
      const { callback } = await signIn({ code_challenge: codeChallenge(v), code_challenge_method: 'S256', state: 'abc' });
      assert.equal(callback.searchParams.get('state'), 'abc');
      const code = callback.searchParams.get('code')!;
      const first = await exchange(code, verifier());
      assert.equal(first.status, 400);
      assert.equal(((await first.json()) as { error: string }).error, 'invalid_grant');
      const wrongRedirect = await exchange(code, v, 'http://127.0.0.1:45678/other');
      assert.equal(wrongRedirect.status, 400);
    });

    it('rejects the second exchange of a code and revokes the tokens the first one issued', async () => {
      const v = verifier();
      const { callback } = await signIn({ code_challenge: codeChallenge(v), code_challenge_method: 'S256' });
      const code = callback.searchParams.get('code')!;
      const first = await exchange(code, v);
      assert.equal(first.status, 200);
      const tokens = (await first.json()) as { access_token: string; refresh_token: string };
      assert.equal((await callMcp(tokens.access_token)).status, 200); // now also in the bearer cache
      const replay = await exchange(code, v);
      assert.equal(replay.status, 400);
      assert.equal(((await replay.json()) as { error: string }).error, 'invalid_grant');
      // The replay may be an attacker racing the client: whatever the code gave is dead.
      const after = await callMcp(tokens.access_token);
      assert.equal(after.status, 401);
      assert.match(after.headers.get('www-authenticate')!, /invalid_token/);
      const refresh = await fetch(`${stack.baseUrl}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token, client_id: clientId }),
      });
      assert.equal(refresh.status, 400);
    });

    it('refuses a PKCE downgrade at the token endpoint: no verifier, or the challenge sent as a plain verifier', async () => {
      const v = verifier();
      const { callback } = await signIn({ code_challenge: codeChallenge(v), code_challenge_method: 'S256' });
      const code = callback.searchParams.get('code')!;
      const withoutVerifier = await fetch(`${stack.baseUrl}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT, client_id: clientId }),
      });
      assert.equal(withoutVerifier.status, 400);
      assert.match(((await withoutVerifier.json()) as { error: string }).error, /invalid_grant|invalid_request/);
      const plain = await exchange(code, codeChallenge(v));
      assert.equal(plain.status, 400);
      assert.equal(((await plain.json()) as { error: string }).error, 'invalid_grant');
    });

    it('issues no code for a challenge without a method (it would mean plain)', async () => {
      const target = await refusedAtAuthorize({ code_challenge: codeChallenge(verifier()) });
      assert.equal(target.searchParams.get('error'), 'invalid_request');
    });

    it('refuses a redirect_uri with a fragment, and a registered one with a fragment added', async () => {
      const registered = await register({ redirect_uris: ['https://app.example.com/cb#frag'], token_endpoint_auth_method: 'none' });
      assert.equal(registered.status, 400);
      assert.match(((await registered.json()) as { error: string }).error, /invalid_redirect_uri|invalid_client_metadata/);
      const page = await new Browser().open(
        authorize({ redirect_uri: `${REDIRECT}#frag`, code_challenge: codeChallenge(verifier()), code_challenge_method: 'S256' }),
        (u) => u.port === '45678',
      );
      assert.equal(page.redirectedTo, undefined);
      assert.equal(page.status, 400);
      assert.match(page.html, /redirect_uri/);
    });

    it('refuses a token request for another resource', async () => {
      const v = verifier();
      const { callback } = await signIn({ code_challenge: codeChallenge(v), code_challenge_method: 'S256' });
      const response = await fetch(`${stack.baseUrl}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'authorization_code',
          code: callback.searchParams.get('code')!,
          code_verifier: v,
          redirect_uri: REDIRECT,
          client_id: clientId,
          resource: 'https://other.example.com/mcp',
        }),
      });
      assert.equal(response.status, 400);
      assert.equal(((await response.json()) as { error: string }).error, 'invalid_target');
    });

    it('returns access_denied to the client when the user cancels', async () => {
      const browser = new Browser();
      const consent = await browser.open(authorize({ code_challenge: codeChallenge(verifier()), code_challenge_method: 'S256', state: 's1' }), atClient);
      const cancelled = await browser.submit(consent, { actionIncludes: '/confirm', button: { name: 'action', value: 'cancel' }, stopAt: atClient });
      const target = new URL(cancelled.redirectedTo!);
      assert.equal(target.searchParams.get('error'), 'access_denied');
      assert.equal(target.searchParams.get('state'), 's1');
      assert.equal(target.searchParams.get('code'), null);
    });

    it('refuses the confirm form with a wrong or missing CSRF token, without spending the genuine one', async () => {
      const browser = new Browser();
      const consent: Page = await browser.open(authorize({ code_challenge: codeChallenge(verifier()), code_challenge_method: 'S256' }), atClient);
      const forged = await browser.submit(consent, { actionIncludes: '/confirm', fields: { csrf: 'forged' }, button: { name: 'action', value: 'confirm' } });
      assert.equal(forged.status, 403);
      assert.match(forged.html, /This page has expired/);
      const withoutToken = await browser.submit({ ...consent, html: consent.html.replace(/<input type="hidden" name="csrf"[^>]*>/, '') }, {
        actionIncludes: '/confirm',
        button: { name: 'action', value: 'confirm' },
      });
      assert.equal(withoutToken.status, 403);
      // A failed check spends nothing: the page's own form still works.
      const genuine = await browser.submit(consent, { actionIncludes: '/confirm', button: { name: 'action', value: 'confirm' }, stopAt: atClient });
      assert.match(genuine.html, /name="username"/);
    });

    it('creates the upstream state only on confirmation, for 10 minutes; confirming again joins that sign-in (double click, second tab)', async () => {
      const browser = new Browser();
      const statesAtStart = await countKeys('upstream-state:');
      const consent = await browser.open(authorize({ code_challenge: codeChallenge(verifier()), code_challenge_method: 'S256' }), atClient);
      assert.equal(await countKeys('upstream-state:'), statesAtStart, 'no upstream state for an unconfirmed page');
      const login = await browser.submit(consent, { actionIncludes: '/confirm', button: { name: 'action', value: 'confirm' }, stopAt: atClient });
      assert.match(login.html, /name="username"/);
      const state = new URL(browser.history.find((u) => u.startsWith(stack.idp.issuer))!).searchParams.get('state')!;
      const redis = new Redis(stack.redis.url);
      try {
        const ttl = await redis.ttl(`${stack.config.redis.prefix}upstream-state:${state}`);
        assert.ok(ttl > 590 && ttl <= 600, `upstream state lives 10 minutes (TTL ${ttl})`);
      } finally {
        redis.disconnect();
      }
      const statesBefore = await countKeys('upstream-state:');
      // The same form again, and the form of a second tab on the same sign-in: the same IdP page.
      const again = await browser.submit(consent, { actionIncludes: '/confirm', button: { name: 'action', value: 'confirm' }, stopAt: atClient });
      const secondTab = await browser.open(new URL(`/interaction/${consent.url.split('/interaction/')[1]!.split(/[/?]/)[0]}`, stack.baseUrl).href, atClient);
      const fromSecondTab = await browser.submit(secondTab, { actionIncludes: '/confirm', button: { name: 'action', value: 'confirm' }, stopAt: atClient });
      for (const page of [again, fromSecondTab]) {
        assert.match(page.html, /name="username"/);
        const lastIdpRequest = [...browser.history].reverse().find((u) => u.startsWith(stack.idp.issuer) && new URL(u).searchParams.has('state'));
        assert.equal(new URL(lastIdpRequest!).searchParams.get('state'), state);
      }
      assert.equal(await countKeys('upstream-state:'), statesBefore, 'no second upstream sign-in began');
    });

    it("refuses Heroku's GET Cancel link when another site started the navigation; from the page it cancels", async () => {
      const browser = new Browser();
      const consent = await browser.open(authorize({ code_challenge: codeChallenge(verifier()), code_challenge_method: 'S256', state: 'abort' }), atClient);
      const abort = new URL(`${new URL(consent.url).pathname}/abort`, stack.baseUrl).href;
      const headers = (site: string) => ({ cookie: browser.cookieHeaderFor(abort), 'sec-fetch-site': site, 'sec-fetch-mode': 'navigate' });
      const forged = await fetch(abort, { headers: headers('cross-site'), redirect: 'manual' });
      assert.equal(forged.status, 403);
      assert.match(await forged.text(), /This page has expired/);
      const fromPage = await fetch(abort, { headers: headers('same-origin'), redirect: 'manual' });
      assert.equal(fromPage.status, 303);
      const back = await browser.open(new URL(fromPage.headers.get('location')!, stack.baseUrl).href, atClient);
      const callback = new URL(back.redirectedTo!);
      assert.equal(callback.searchParams.get('error'), 'access_denied');
      assert.equal(callback.searchParams.get('state'), 'abort');
    });

    it('refuses the confirm form from a browser without the interaction cookie', async () => {
      const consent = await new Browser().open(authorize({ code_challenge: codeChallenge(verifier()), code_challenge_method: 'S256' }), atClient);
      const other = await new Browser().submit(consent, { actionIncludes: '/confirm', button: { name: 'action', value: 'confirm' } });
      assert.equal(other.status, 400);
      assert.match(other.html, /expired|not found/i);
    });

    it('refuses a replayed upstream callback', async () => {
      const v = verifier();
      const { browser, idpCallbacks, callback } = await signIn({ code_challenge: codeChallenge(v), code_challenge_method: 'S256' });
      assert.ok(callback.searchParams.get('code'));
      assert.equal(idpCallbacks.length, 1);
      const replay = await browser.open(idpCallbacks[0]!, atClient);
      assert.equal(replay.redirectedTo, undefined);
      assert.equal(replay.status, 400);
      assert.match(replay.html, /expired/);
    });
  });

  describe('no open redirect', () => {
    const EVIL = 'https://evil.example.com/phish';
    const leavesSite = (u: URL) => u.origin !== stack.baseUrl;
    let evilClient: string;
    before(async () => {
      const response = await register({ client_name: 'Evil', redirect_uris: [EVIL], token_endpoint_auth_method: 'none' });
      evilClient = ((await response.json()) as { client_id: string }).client_id;
    });

    const evilAuthorize = (params: Record<string, string>) =>
      `${stack.baseUrl}/auth?${new URLSearchParams({ client_id: evilClient, response_type: 'code', redirect_uri: EVIL, ...params })}`;

    it('an error at /auth for anyone\'s registered client is shown, not redirected (RFC 9700 4.11.2)', async () => {
      for (const params of [{} as Record<string, string>, { prompt: 'none', code_challenge: codeChallenge(verifier()), code_challenge_method: 'S256' }, { scope: 'openid', resource: 'https://x.example/' }]) {
        const page = await new Browser().open(evilAuthorize(params), leavesSite);
        assert.equal(page.redirectedTo, undefined, JSON.stringify(params));
        assert.equal(page.status, 400);
        assert.equal(page.headers.get('location'), null);
        assert.match(page.html, /Returning takes you to <strong>evil\.example\.com<\/strong>/);
      }
    });

    it('answers only in the query response mode: no auto-submitting form_post, no fragment', async () => {
      for (const mode of ['form_post', 'fragment', 'web_message']) {
        const page = await new Browser().open(evilAuthorize({ response_mode: mode }), leavesSite);
        assert.equal(page.redirectedTo, undefined, mode);
        assert.equal(page.status, 400, mode);
        assert.doesNotMatch(page.html, /evil\.example\.com|<script/, mode);
      }
      const meta = (await (await fetch(`${stack.baseUrl}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>;
      assert.deepEqual(meta.response_modes_supported, ['query']);
    });

    it('has no RP-initiated logout, so no post_logout_redirect_uri to abuse', async () => {
      const meta = (await (await fetch(`${stack.baseUrl}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
      assert.equal(meta.end_session_endpoint, undefined);
      const logout = await new Browser().open(`${stack.baseUrl}/session/end?${new URLSearchParams({ client_id: evilClient, post_logout_redirect_uri: EVIL })}`, leavesSite);
      assert.equal(logout.redirectedTo, undefined);
      assert.ok(logout.status >= 400);
      // The session reset oidc-provider keeps (another person signing in) needs its own secret.
      const confirm = await fetch(`${stack.baseUrl}/session/end/confirm`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ xsrf: 'forged', logout: 'yes' }),
        redirect: 'manual',
      });
      assert.equal(confirm.headers.get('location'), null);
      assert.ok(confirm.status >= 400);
    });

    it('sends the IdP callback only to its own interaction on this site', async () => {
      const browser = new Browser();
      const consent = await browser.open(authorize({ code_challenge: codeChallenge(verifier()), code_challenge_method: 'S256' }), atClient);
      const login = await browser.submit(consent, { actionIncludes: '/confirm', button: { name: 'action', value: 'confirm' }, stopAt: atClient });
      const atCallback = (u: URL) => u.pathname === '/interaction/identity/callback';
      const back = await browser.submit(login, { fields: { username: TEST_USER.username, password: TEST_USER.password }, stopAt: atCallback });
      const callback = new URL(back.redirectedTo!);
      for (const extra of ['//evil.example.com', 'https://evil.example.com', '/\\evil.example.com']) {
        const url = new URL(callback);
        url.searchParams.set('next', extra);
        url.searchParams.set('redirect_uri', extra);
        const response = await fetch(url, { redirect: 'manual', headers: { cookie: browser.cookieHeaderFor(url.href) } });
        assert.equal(response.status, 303);
        const location = response.headers.get('location')!;
        assert.match(location, /^\/interaction\/[\w-]+\/identity\?/, location);
        assert.equal(new URL(location, stack.baseUrl).origin, stack.baseUrl);
      }
    });
  });

  describe('upstream callback', () => {
    /** Confirms and signs in at the IdP; stops at the IdP's redirect to our fixed callback. */
    async function atCallback(browser: Browser): Promise<URL> {
      const consent = await browser.open(authorize({ code_challenge: codeChallenge(verifier()), code_challenge_method: 'S256', state: 'cs' }), atClient);
      const login = await browser.submit(consent, { actionIncludes: '/confirm', button: { name: 'action', value: 'confirm' }, stopAt: atClient });
      const back = await browser.submit(login, {
        fields: { username: TEST_USER.username, password: TEST_USER.password },
        stopAt: (u) => u.pathname === '/interaction/identity/callback',
      });
      return new URL(back.redirectedTo!);
    }

    it('passes an IdP refusal on to the client as access_denied', async () => {
      const browser = new Browser();
      const callback = await atCallback(browser);
      const refused = new URL(callback);
      refused.search = new URLSearchParams({ error: 'access_denied', error_description: 'user said no', state: callback.searchParams.get('state')!, iss: stack.idp.issuer }).toString();
      const page = await browser.open(refused.href, atClient);
      const target = new URL(page.redirectedTo!);
      assert.equal(target.searchParams.get('error'), 'access_denied');
      assert.equal(target.searchParams.get('state'), 'cs');
      assert.equal(target.searchParams.get('code'), null);
    });

    it('refuses an upstream state used on another interaction of the same browser', async () => {
      const browser = new Browser();
      const first = await atCallback(browser);
      // A second sign-in in the same browser, up to its confirm page: its own interaction.
      const second = await browser.open(authorize({ code_challenge: codeChallenge(verifier()), code_challenge_method: 'S256' }), atClient);
      const uid = /action="\/interaction\/([^/]+)\/confirm"/.exec(second.html)![1]!;
      const crossed = await browser.open(`${stack.baseUrl}/interaction/${uid}/identity${first.search}`, atClient);
      assert.equal(crossed.redirectedTo, undefined);
      assert.equal(crossed.status, 400);
      assert.match(crossed.html, /expired/);
    });
  });

  describe('token endpoint', () => {
    it('answers an unknown client with 401 invalid_client, so clients register again', async () => {
      const response = await fetch(`${stack.baseUrl}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: 'x'.repeat(43), client_id: 'no-such-client' }),
      });
      assert.equal(response.status, 401);
      assert.equal(((await response.json()) as { error: string }).error, 'invalid_client');
    });

    it('names the OAuth error of every refused request on its log line (a 400 at /token says why)', async () => {
      const refused = async (path: string, body: URLSearchParams | string, type = 'application/x-www-form-urlencoded') => {
        const id = `log-${Math.random().toString(36).slice(2)}`;
        const response = await fetch(`${stack.baseUrl}${path}`, { method: 'POST', headers: { 'content-type': type, 'x-request-id': id }, body });
        await response.body?.cancel();
        await until(() => stack.logs.some((l) => l.includes(id)), `the request line of ${path}`);
        return JSON.parse(stack.logs.find((l) => l.includes(id))!) as { res: { statusCode: number; error?: string } };
      };
      const token = await refused('/token', new URLSearchParams({ grant_type: 'authorization_code', code: 'x'.repeat(43), code_verifier: 'v'.repeat(43), client_id: clientId, redirect_uri: REDIRECT }));
      assert.deepEqual(token.res, { statusCode: 400, error: 'invalid_grant' });
      const undefinedResource = await refused('/token', new URLSearchParams({ grant_type: 'refresh_token', refresh_token: 'x'.repeat(43), client_id: clientId, resource: 'undefined' }));
      assert.equal(undefinedResource.res.statusCode, 400);
      assert.match(undefinedResource.res.error ?? '', /^invalid_(target|grant)$/);
      const registration = await refused('/reg', JSON.stringify({ redirect_uris: ['http://evil.example/cb'] }), 'application/json');
      assert.deepEqual(registration.res, { statusCode: 400, error: 'invalid_redirect_uri' });
      const bearer = await refused('/mcp', '{}', 'application/json');
      assert.deepEqual(bearer.res, { statusCode: 401, error: 'invalid_token' });
    });

    it('serves discovery, registration and revocation to browser clients (CORS, no credentials)', async () => {
      const origin = 'http://localhost:6274';
      const discovery = await fetch(`${stack.baseUrl}/.well-known/oauth-authorization-server`, { headers: { origin } });
      assert.ok(['*', origin].includes(discovery.headers.get('access-control-allow-origin')!));
      assert.equal(discovery.headers.get('access-control-allow-credentials'), null);
      const prm = await fetch(`${stack.baseUrl}/.well-known/oauth-protected-resource/mcp`, { headers: { origin } });
      assert.equal(prm.headers.get('access-control-allow-origin'), '*');
      for (const path of ['/reg', '/token/revocation']) {
        const preflight = await fetch(`${stack.baseUrl}${path}`, {
          method: 'OPTIONS',
          headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
        });
        assert.equal(preflight.status, 204, path);
        assert.ok(['*', origin].includes(preflight.headers.get('access-control-allow-origin')!), path);
        assert.equal(preflight.headers.get('access-control-allow-credentials'), null, path);
      }
      const registered = await fetch(`${stack.baseUrl}/reg`, {
        method: 'POST',
        headers: { origin, 'content-type': 'application/json' },
        body: JSON.stringify({ redirect_uris: ['http://localhost:6274/oauth/callback'], token_endpoint_auth_method: 'none' }),
      });
      assert.equal(registered.status, 201);
      assert.equal(registered.headers.get('access-control-allow-origin'), origin);
    });

    it('answers CORS preflights for browser clients without credentials', async () => {
      const response = await fetch(`${stack.baseUrl}/token`, {
        method: 'OPTIONS',
        headers: { origin: 'http://localhost:6274', 'access-control-request-method': 'POST' },
      });
      assert.equal(response.status, 204);
      assert.equal(response.headers.get('access-control-allow-origin'), 'http://localhost:6274');
      assert.equal(response.headers.get('access-control-allow-credentials'), null);
    });
  });

  describe('registration', () => {
    it('refuses plain http redirect URIs to non-loopback hosts', async () => {
      const response = await register({ redirect_uris: ['http://evil.example.com/cb'] });
      assert.equal(response.status, 400);
      assert.equal(((await response.json()) as { error: string }).error, 'invalid_redirect_uri');
    });

    it('refuses javascript: and data: redirect URIs', async () => {
      for (const uri of ['javascript:alert(1)', 'data:text/html,hi']) {
        const response = await register({ redirect_uris: [uri], token_endpoint_auth_method: 'none' });
        assert.equal(response.status, 400, uri);
        assert.match(((await response.json()) as { error: string }).error, /invalid_redirect_uri|invalid_client_metadata/, uri);
      }
    });

    it('accepts custom-scheme, https and loopback redirect URIs in one registration', async () => {
      const response = await register({
        client_name: 'Cursor',
        redirect_uris: ['cursor://anysphere.cursor-mcp/oauth/callback', 'https://example.com/cb', 'http://localhost:1234/cb'],
        token_endpoint_auth_method: 'none',
        scope: 'openid offline_access unknown:scope',
      });
      assert.equal(response.status, 201);
      const client = (await response.json()) as { application_type: string; scope?: string };
      assert.equal(client.application_type, 'native');
      assert.equal(client.scope, 'openid offline_access');
    });

    it('answers malformed JSON with an OAuth error, not a 500', async () => {
      const response = await fetch(`${stack.baseUrl}/reg`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"redirect_uris": [' });
      assert.equal(response.status, 400);
      assert.equal(((await response.json()) as { error: string }).error, 'invalid_request');
    });
  });
});
