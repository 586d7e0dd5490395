// The upstream IdP stops in the middle of a sign-in (a real stop of the test IdP): the user sees a
// page saying so, whose button returns to the application with temporarily_unavailable, instead
// of a browser error at a dead IdP or an unexplained redirect. And the IdP is down when the proxy
// starts (a restart or deploy during an outage): the proxy starts anyway, and loads the IdP's
// metadata by itself once it answers; only a configuration error stops it.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { UpstreamTokenVault } from '../../src/identity/vault.js';
import { Browser, type Page } from '../helpers/browser.js';
import { connectWithOAuth, TestOAuthProvider } from '../helpers/mcp-client.js';
import { startStack, type Stack, type StackOptions } from '../helpers/stack.js';
import { TEST_USER } from '../helpers/upstream-idp.js';
import { until } from '../helpers/wait.js';
import { privateJwks } from '../helpers/keys.js';
import { authorizeUrl, codeChallenge } from '../helpers/authorize.js';

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
  async function atConsent(env: Record<string, string> = {}, options: StackOptions = {}): Promise<{ stack: Stack; browser: Browser; consent: Page }> {
    stack = await startStack({ ...options, env });
    const response = await fetch(`${stack.baseUrl}/reg`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ client_name: 'Outage Test', redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none' }),
    });
    const { client_id } = (await response.json()) as { client_id: string };
    const url = authorizeUrl(stack.baseUrl, {
      client_id,
      redirect_uri: REDIRECT,
      state: 'st',
      code_challenge: codeChallenge(randomBytes(32).toString('base64url')),
      code_challenge_method: 'S256',
    });
    const browser = new Browser();
    const consent = await browser.open(url, atClient);
    assert.equal(consent.status, 200);
    return { stack, browser, consent };
  }

  /** The outage page, and what the client receives when the user presses its button. */
  async function expectUnavailablePage(browser: Browser, page: Page, heading = /not answering/): Promise<void> {
    assert.equal(page.redirectedTo, undefined, 'the browser is not sent anywhere by itself');
    assert.equal(page.status, 503);
    assert.match(page.html, heading);
    assert.match(page.html, new RegExp(`127\\.0\\.0\\.1:${stack!.config.identity.serverUrl.port}`), 'names the IdP');
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

  // IdPs refuse a client in three shapes (RFC 6749 §5.2); each is the operator's configuration.
  for (const shape of ['json', 'challenge', 'bare'] as const) {
    it(`says the server is misconfigured when the IdP refuses the client with 401 (${shape === 'json' ? 'a JSON body' : shape === 'challenge' ? 'WWW-Authenticate: Basic error="invalid_client" only' : 'no body at all'})`, async () => {
      const { stack, browser, consent } = await atConsent();
      stack.idp.failNextTokenRequest('authorization_code', { status: 401, error: 'invalid_client', shape });
      const idpLogin = await browser.submit(consent, { actionIncludes: '/confirm', button: { name: 'action', value: 'confirm' }, stopAt: atClient });
      const page = await browser.submit(idpLogin, { fields: { username: TEST_USER.username, password: TEST_USER.password }, stopAt: atClient });
      await expectUnavailablePage(browser, page, /cannot sign you in right now[\s\S]*refused this server's own credentials/);
      const line = logLines(stack).find((l) => String(l.message ?? '').includes('check IDENTITY_CLIENT_ID and IDENTITY_CLIENT_SECRET'));
      assert.ok(line, stack.logs.join('\n'));
      assert.equal(line.level, 50, 'logged as an error');
      assert.deepEqual(await keysOf(stack, 'Grant:'), []);
    });
  }

  describe('when the proxy starts while the IdP is down', () => {
    let client: Client | undefined;
    afterEach(async () => {
      await client?.close();
      client = undefined;
    });

    it('starts, is not ready, shows the outage page at sign-in, then loads the metadata by itself and signs in', async () => {
      const { stack, browser, consent } = await atConsent({}, { idpStartsLater: true });
      const identityServerUrl = stack.config.identity.serverUrl.href;
      const warning = logLines(stack).find((l) => String(l.msg).startsWith('identity provider discovery failed (IDENTITY_SERVER_URL)'));
      assert.ok(warning, stack.logs.join('\n'));
      assert.equal(warning.identityServerUrl, identityServerUrl);
      assert.match(String(warning.reason), /ECONNREFUSED/);

      const notReady = await fetch(`${stack.baseUrl}/readyz`);
      assert.equal(notReady.status, 503);
      const report = (await notReady.json()) as { checks: Record<string, string>; failing: string[] };
      assert.equal(report.checks.identity_provider, 'not_loaded');
      assert.deepEqual(report.failing, ['identity_provider']);

      const page = await browser.submit(consent, { actionIncludes: '/confirm', button: { name: 'action', value: 'confirm' }, stopAt: atClient });
      await expectUnavailablePage(browser, page);

      const idp = await stack.startIdp();
      assert.equal(idp.issuer, identityServerUrl.replace(/\/$/, ''));
      // Nobody signs in meanwhile: the background retry is what loads the metadata.
      await until(async () => (await fetch(`${stack.baseUrl}/readyz`)).status === 200, '/readyz to turn 200', 40_000);
      const loaded = logLines(stack).filter((l) => String(l.msg).startsWith('identity provider metadata loaded'));
      assert.equal(loaded.length, 1);
      assert.equal(loaded[0]!.identityServerUrl, identityServerUrl);

      const auth = new TestOAuthProvider();
      client = await connectWithOAuth(stack.mcpUrl, auth);
      const echoed = await client.callTool({ name: 'echo', arguments: { text: 'after the outage' } });
      assert.deepEqual(echoed.content, [{ type: 'text', text: 'after the outage' }]);
    });

    it('serves the users signed in before it: valid upstream tokens work, a refresh is a 503 that keeps the grant, revocation is best effort', async () => {
      // One deployment (same keys); instance `before` signs the user in, then the IdP goes down and
      // instance `after` starts (a restart during the outage), on the same Redis and BASE_URL.
      const jwks = privateJwks();
      const before = await startStack({ env: { OIDC_PROVIDER_JWKS: jwks } });
      stack = before;
      const auth = new TestOAuthProvider();
      client = await connectWithOAuth(before.mcpUrl, auth);
      await client.close();
      client = undefined;
      const token = auth.savedTokens!.access_token;
      await before.proxy.stop();
      await before.idp.stop();

      const after = await startStack({
        env: { OIDC_PROVIDER_JWKS: jwks, BASE_URL: before.baseUrl, MCP_AUTH_PROXY_TOKEN_CACHE_TTL_MS: '0' },
        // The fixture would ask the (stopped) IdP whether the token is valid.
        mcpEnv: { MCP_FIXTURE_TOKEN_CHECK_URL: '' },
        redis: before.redis,
        idp: before.idp,
      });
      try {
        assert.equal((await fetch(`${after.baseUrl}/readyz`)).status, 503);
        const callMcp = () =>
          fetch(`${after.mcpUrl}/headers`, { headers: { authorization: `Bearer ${token}` } });
        const { grantId } = JSON.parse((await after.proxy.store.get(`AccessToken:${token}`))!) as { grantId: string };
        const vault = new UpstreamTokenVault(after.proxy.store, after.config.vaultKeys);
        const upstream = (await vault.load(grantId))!;

        const valid = await callMcp();
        assert.equal(valid.status, 200);
        assert.equal(((await valid.json()) as { authorization: string }).authorization, `Bearer ${upstream.accessToken}`);

        // The upstream access token's time has come: the refresh needs the IdP.
        await vault.update(grantId, { ...upstream, expiresAt: Math.floor(Date.now() / 1000) - 1 });
        for (let i = 0; i < 2; i++) {
          const refresh = await callMcp();
          assert.equal(refresh.status, 503);
          assert.equal(((await refresh.json()) as { error: string }).error, 'temporarily_unavailable');
        }
        assert.ok(await vault.load(grantId), 'the grant and its upstream tokens are kept');
        assert.ok(await after.proxy.store.get(`Grant:${grantId}`));
        assert.ok(after.logs.some((l) => l.includes('upstream refresh failed') && l.includes('metadata is not loaded')));

        // The client ends its grant: the answer is the client's as usual; the IdP part is logged.
        const revoked = await fetch(`${after.baseUrl}/token/revocation`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ token: auth.savedTokens!.refresh_token!, client_id: auth.client!.client_id }),
        });
        assert.equal(revoked.status, 200);
        assert.equal((await callMcp()).status, 401);
        await until(async () => after.logs.some((l) => l.includes('upstream token revocation failed') && l.includes('metadata is not loaded')), 'the revocation log line', 5000);
      } finally {
        await after.stop();
      }
    });

    it('still stops at a configuration error: a discovery URL that answers 404 names IDENTITY_SERVER_URL', async () => {
      const notAnIdp = createServer((_req, res) => res.writeHead(404, { 'content-type': 'text/plain' }).end('not found'));
      notAnIdp.listen(0, '127.0.0.1');
      await once(notAnIdp, 'listening');
      const url = `http://127.0.0.1:${(notAnIdp.address() as { port: number }).port}`;
      try {
        await assert.rejects(startStack({ env: { IDENTITY_SERVER_URL: url } }), (err: Error) => {
          assert.match(err.message, /^IDENTITY_SERVER_URL: OpenID Connect discovery of http:\/\/127\.0\.0\.1:\d+\/ failed \(.*HTTP 404\)/);
          return true;
        });
      } finally {
        notAnIdp.close();
      }
    });
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

function logLines(stack: Stack): Record<string, unknown>[] {
  return stack.logs.map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** Polls `condition` until it holds (each check is a request or a look at the log). */

async function keysOf(stack: Stack, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const key of stack.proxy.store.keysWithPrefix(prefix)) keys.push(key);
  return keys;
}
