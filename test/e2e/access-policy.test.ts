// Who may sign in: email domain and group allowlists with verified emails, at sign-in (a clear
// page for the user, access_denied for the client) and again at every upstream refresh.
import assert from 'node:assert/strict';
import { connectWithOAuth, TestOAuthProvider } from '../helpers/mcp-client.js';
import { signInForCode } from '../helpers/sign-in.js';
import { startStack, type Stack } from '../helpers/stack.js';

const REDIRECT = 'http://127.0.0.1:45680/cb';
const atClient = (u: URL) => u.href.startsWith(REDIRECT);

describe('access policy', function () {
  this.timeout(60_000);
  let stack: Stack;
  let clientId: string;

  /** Signs in through the browser; returns the page shown after the upstream login. */
  async function signIn() {
    const { browser, page } = await signInForCode(stack.baseUrl, clientId, REDIRECT, { extra: { state: 'st' } });
    return { browser, after: page! };
  }

  async function expectRefused(reason: RegExp) {
    const { browser, after } = await signIn();
    assert.equal(after.status, 403);
    assert.match(after.html, /cannot use/);
    assert.match(after.html, reason);
    const back = await browser.submit(after, { actionIncludes: '/refused', stopAt: atClient });
    const callback = new URL(back.redirectedTo!);
    assert.equal(callback.searchParams.get('error'), 'access_denied');
    assert.equal(callback.searchParams.get('state'), 'st');
    assert.equal(callback.searchParams.get('code'), null);
  }

  before(async () => {
    stack = await startStack({ env: { IDENTITY_ALLOWED_DOMAINS: 'Example.com', IDENTITY_ALLOWED_GROUPS: 'staff,admins' } });
    const response = await fetch(`${stack.baseUrl}/reg`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ client_name: 'Policy Test', redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none' }),
    });
    clientId = ((await response.json()) as { client_id: string }).client_id;
  });
  afterEach(() => stack.idp.setUserClaims({}));
  after(async () => stack?.stop());

  it('lets an allowed user (verified email in the domain, in a group) sign in', async () => {
    const { after } = await signIn();
    assert.ok(new URL(after.redirectedTo!).searchParams.get('code'));
  });

  it('refuses an email outside the allowed domains', async () => {
    stack.idp.setUserClaims({ email: 'alice@elsewhere.org' });
    await expectRefused(/email address not allowed/);
  });

  it('refuses an unverified email', async () => {
    stack.idp.setUserClaims({ email_verified: false });
    await expectRefused(/not verified/);
  });

  it('refuses a user in none of the allowed groups', async () => {
    stack.idp.setUserClaims({ groups: ['guests'] });
    await expectRefused(/not in an allowed group/);
  });

  it('checks again at the upstream refresh: a user removed from the group loses the session', async () => {
    const auth = new TestOAuthProvider();
    const client = await connectWithOAuth(stack.mcpUrl, auth);
    await client.close();
    stack.idp.setUserClaims({ groups: ['guests'] });
    await stack.idp.revokeAllAccessTokens(); // the MCP server now answers 401, so the proxy refreshes
    const response = await fetch(stack.mcpUrl, {
      method: 'POST',
      headers: { authorization: `Bearer ${auth.savedTokens!.access_token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} }),
    });
    assert.equal(response.status, 401);
    assert.match(response.headers.get('www-authenticate')!, /invalid_token/);
    assert.ok(stack.logs.some((l) => l.includes('access policy: not in an allowed group')));
  });
});
