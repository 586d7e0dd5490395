// RFC 8628 device authorization, end to end: the device gets a code, the user enters it in a
// browser, confirms, signs in upstream, and the device's polling gets tokens that reach /mcp.
import assert from 'node:assert/strict';
import { Browser } from '../helpers/browser.js';
import { startStack, type Stack } from '../helpers/stack.js';
import { TEST_USER } from '../helpers/upstream-idp.js';

const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

describe('device authorization grant', function () {
  this.timeout(60_000);
  let stack: Stack;
  let clientId: string;

  const form = (url: string, body: Record<string, string>) =>
    fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(body) });

  before(async () => {
    stack = await startStack();
    const registration = await fetch(`${stack.baseUrl}/reg`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ client_name: 'Living Room TV', grant_types: [DEVICE_GRANT, 'refresh_token'], response_types: [], token_endpoint_auth_method: 'none' }),
    });
    assert.equal(registration.status, 201);
    clientId = ((await registration.json()) as { client_id: string }).client_id;
  });
  after(async () => stack?.stop());

  it('advertises the device authorization endpoint', async () => {
    const meta = (await (await fetch(`${stack.baseUrl}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>;
    assert.equal(meta.device_authorization_endpoint, `${stack.baseUrl}/device/auth`);
    assert.ok((meta.grant_types_supported as string[]).includes(DEVICE_GRANT));
  });

  it('signs the user in through our pages and gives the device tokens for /mcp', async () => {
    // No scope: the default (PROVIDER_SCOPE) applies, as for clients that omit it at /auth.
    const start = await form(`${stack.baseUrl}/device/auth`, { client_id: clientId });
    assert.equal(start.status, 200);
    const device = (await start.json()) as { device_code: string; user_code: string; verification_uri: string };
    assert.match(device.user_code, /^[B-DF-HJ-NP-TV-XZ]{4}-[B-DF-HJ-NP-TV-XZ]{4}$/);

    const poll = () => form(`${stack.baseUrl}/token`, { grant_type: DEVICE_GRANT, device_code: device.device_code, client_id: clientId });
    const pending = await poll();
    assert.equal(pending.status, 400);
    assert.equal(((await pending.json()) as { error: string }).error, 'authorization_pending');

    const browser = new Browser();
    const input = await browser.open(device.verification_uri);
    assert.match(input.html, /Connect a device/);
    const wrong = await browser.submit(input, { fields: { user_code: 'BBBB-BBBB' } });
    assert.match(wrong.html, /not valid/);
    const confirmDevice = await browser.submit(wrong, { fields: { user_code: device.user_code } });
    assert.match(confirmDevice.html, /Living Room TV/);
    assert.ok(confirmDevice.html.includes(device.user_code));
    assert.match(confirmDevice.html, /your device/);
    // Confirmed once, on the device page: straight to the identity provider, no second page.
    const login = await browser.submit(confirmDevice);
    assert.match(login.html, /name="username"/);
    const done = await browser.submit(login, { fields: { username: TEST_USER.username, password: TEST_USER.password } });
    assert.equal(done.status, 200);
    assert.match(done.html, /Device connected/);

    const granted = await poll();
    assert.equal(granted.status, 200);
    const tokens = (await granted.json()) as { access_token: string; refresh_token?: string };
    assert.ok(tokens.refresh_token);
    const call = await fetch(stack.mcpUrl, {
      method: 'POST',
      headers: { authorization: `Bearer ${tokens.access_token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} }),
    });
    assert.equal(call.status, 200);
  });

  it('tells the device access_denied when the user cancels on the device page', async () => {
    const device = (await (await form(`${stack.baseUrl}/device/auth`, { client_id: clientId, scope: 'openid' })).json()) as {
      device_code: string;
      user_code: string;
      verification_uri: string;
    };
    const browser = new Browser();
    const confirmDevice = await browser.submit(await browser.open(device.verification_uri), { fields: { user_code: device.user_code } });
    const aborted = await browser.submit(confirmDevice, { button: { name: 'abort', value: 'yes' } });
    assert.match(aborted.html, /cancelled/);
    const poll = await form(`${stack.baseUrl}/token`, { grant_type: DEVICE_GRANT, device_code: device.device_code, client_id: clientId });
    assert.equal(((await poll.json()) as { error: string }).error, 'access_denied');
  });

  it('sends a verification form posted without a live session back to a fresh page, not a 500', async () => {
    const device = (await (await form(`${stack.baseUrl}/device/auth`, { client_id: clientId })).json()) as { user_code: string };
    // A browser that never opened the page (or whose session expired) posts the form.
    const stale = await fetch(`${stack.baseUrl}/device`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' },
      body: new URLSearchParams({ user_code: device.user_code, xsrf: 'guessed' }),
      redirect: 'manual',
    });
    assert.equal(stale.status, 303);
    assert.equal(stale.headers.get('location'), '/device');
    // The fresh page works.
    const browser = new Browser();
    const page = await browser.open(`${stack.baseUrl}/device`);
    assert.equal(page.status, 200);
    const confirm = await browser.submit(page, { fields: { user_code: device.user_code } });
    assert.match(confirm.html, /Living Room TV/);
  });
});
