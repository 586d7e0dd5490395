import assert from 'node:assert/strict';
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/index.js';
import { pageBranding } from '../../src/pages/branding.js';
import { sampleCommon, sampleConfirmLogin } from '../../src/pages/contract.js';
import { createPages } from '../../src/pages/render.js';
import { herokuViewsDir } from '../helpers/heroku-reference.js';

const BASE = {
  BASE_URL: 'https://proxy.example.com',
  MCP_SERVER_URL: 'http://localhost:3000/mcp',
  IDENTITY_SERVER_URL: 'https://idp.example.com',
  IDENTITY_CLIENT_ID: 'abc',
};
// The page's own data: the sample's minus what every page gets from the renderer.
const { branding, demo, nonce, serverHost, identityServerUrl, identityHost, ...SAMPLE } = sampleConfirmLogin(
  sampleCommon(pageBranding({ title: 't', favicon: undefined, heroku: false })),
);
const CONFIRM = {
  ...SAMPLE,
  title: 'Connect Claude <script>?',
  clientName: 'Claude <script>',
  uid: 'u1',
};

describe('pages', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'views-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('renders the confirm page in the layout: heading, brand, favicon, escaped client-supplied text', async () => {
    const render = createPages(loadConfig({ ...BASE, BRANDING_TITLE: 'Acme MCP', BRANDING_FAVICON: 'https://acme.example.com/f.ico' }));
    const html = await render('confirm-login', CONFIRM);
    assert.match(html, /<title>Connect Claude &lt;script&gt;\? · Acme MCP<\/title>/);
    assert.match(html, /<div class="brand"><svg[^>]*>.*?<\/svg><span>Acme MCP<\/span><\/div>/);
    assert.match(html, /<h1>Connect Claude &lt;script&gt;\?<\/h1>/);
    assert.match(html, /href="https:\/\/acme\.example\.com\/f\.ico"/);
    assert.doesNotMatch(html, /Claude <script>/);
    assert.match(html, /action="\/interaction\/u1\/confirm"/);
    // The server and the identity provider the person is sent to are named.
    assert.match(html, /wants to use <strong>proxy\.example\.com<\/strong>/);
    assert.match(html, /You sign in at idp\.example\.com next/);
    // A self-registered client is marked as such; the connection's lifetime is said.
    assert.match(html, /<span class="badge unverified">Name not verified<\/span>/);
    assert.match(html, /Up to 30 days/);
  });

  it("brands as Heroku's proxy does: its default title, ` | Heroku` and its favicon for Heroku Identity (staging too)", async () => {
    const generic = await createPages(loadConfig(BASE))('error', { title: 'h', message: 'm' });
    assert.match(generic, /<div class="brand"><svg[^>]*>.*?<\/svg><span>Login for Model Context Protocol<\/span><\/div>/);
    // Without BRANDING_FAVICON (and not Heroku): our own, served at /favicon.ico.
    assert.match(generic, /<link rel="icon" href="\/favicon\.ico" type="image\/svg\+xml">/);
    for (const idp of ['https://id.heroku.com', 'https://identity.staging.herokudev.com']) {
      const html = await createPages(loadConfig({ ...BASE, IDENTITY_SERVER_URL: idp }))('error', { title: 'h', message: 'm' });
      assert.match(html, /<div class="brand"><svg[^>]*>.*?<\/svg><span>Login for Model Context Protocol \| Heroku<\/span><\/div>/, idp);
      assert.match(html, /href="https:\/\/www\.herokucdn\.com\/favicon\.ico"/, idp);
      assert.match(html, /#79589f/, idp);
    }
    const custom = await createPages(loadConfig({ ...BASE, IDENTITY_SERVER_URL: 'https://id.heroku.com', BRANDING_TITLE: 'Acme' }))('error', { title: 'h', message: 'm' });
    assert.match(custom, /<div class="brand"><svg[^>]*>.*?<\/svg><span>Acme \| Heroku<\/span><\/div>/);
  });

  it('shows the demo banner on every page of the demo, and only there', async () => {
    const demo = createPages(loadConfig({}));
    for (const [view, data] of [['confirm-login', CONFIRM], ['error', { title: 'h', message: 'm' }]] as const) {
      assert.match(await demo(view, data), /<p class="demo-banner" role="alert">Demo: this proxy runs on embedded defaults and is not for real use/, view);
    }
    assert.doesNotMatch(await createPages(loadConfig(BASE))('confirm-login', CONFIRM), /demo-banner"/);
  });

  it('warns when the client only redirects to loopback', async () => {
    const html = await createPages(loadConfig(BASE))('confirm-login', { ...CONFIRM, loopbackOnly: true });
    assert.match(html, /class="warning"/);
  });

  it('renders the pages that end a sign-in with a button back to the client, escaping its name', async () => {
    const render = createPages(loadConfig(BASE));
    const unavailable = await render('idp-unavailable', { title: 't', uid: 'u1', idpHost: 'idp.example.com', clientName: 'Evil <b>' });
    assert.match(unavailable, /idp\.example\.com/);
    assert.match(unavailable, /action="\/interaction\/u1\/unavailable"/);
    assert.match(unavailable, /Return to Evil &lt;b&gt;/);
    const denied = await render('access-denied', { title: 't', uid: 'u1', account: 'alice@example.com', reason: 'r', clientName: 'Evil <b>' });
    assert.match(denied, /signed in as <strong>alice@example\.com<\/strong>/);
    assert.match(denied, /action="\/interaction\/u1\/refused"/);
    assert.doesNotMatch(denied, /Evil <b>/);
  });

  it('takes confirm-login.ejs and _layout.ejs from OIDC_PROVIDER_VIEWS_PATH; our other pages go inside that layout', async () => {
    await writeFile(join(dir, 'confirm-login.ejs'), 'CUSTOM CONFIRM <%= clientName %><form method=post action="/interaction/<%= uid %>/confirm"></form>');
    await writeFile(join(dir, '_layout.ejs'), '<html>CUSTOM LAYOUT <%= title %>: <%- body %></html>');
    const render = createPages(loadConfig({ ...BASE, OIDC_PROVIDER_VIEWS_PATH: dir }));
    assert.equal(
      await render('confirm-login', CONFIRM),
      '<html>CUSTOM LAYOUT Connect Claude &lt;script&gt;?: CUSTOM CONFIRM Claude &lt;script&gt;<form method=post action="/interaction/u1/confirm"></form></html>',
    );
    assert.match(await render('error', { title: 'Oops', message: 'm' }), /^<html>CUSTOM LAYOUT Oops: <p>m<\/p>/);
  });

  it("renders Heroku's own confirm-login.ejs and _layout.ejs with everything they use", async () => {
    const render = createPages(loadConfig({ ...BASE, IDENTITY_SERVER_URL: 'https://id.heroku.com', OIDC_PROVIDER_VIEWS_PATH: herokuViewsDir() }));
    const client = { ...CONFIRM.client, clientName: 'Cursor', clientUri: 'https://cursor.com', redirectUris: ['cursor://anysphere.cursor-mcp/oauth/callback'] };
    const html = await render('confirm-login', { ...CONFIRM, client });
    assert.match(html, /<title>Login for Model Context Protocol \| Heroku<\/title>/);
    assert.match(html, /<link rel="shortcut icon" type="image\/x-icon" href="https:\/\/www\.herokucdn\.com\/favicon\.ico">/);
    assert.match(html, /--brand-primary: #8363a1;/);
    assert.match(html, /<code>https:\/\/id\.heroku\.com<\/code>/);
    assert.match(html, /<strong>Cursor<\/strong> \(<a href="https:\/\/cursor\.com">website<\/a>\)/);
    assert.match(html, /Redirects <code>cursor:\/\/anysphere\.cursor-mcp\/oauth\/callback<\/code>/);
    assert.match(html, /action="\/interaction\/u1\/confirm-login"/);
    assert.match(html, /href="\/interaction\/u1\/abort"/);
    assert.match(html, /<svg /);
  });

  it("falls back to our template when an operator's fails at run time, and says so", async () => {
    // Both pass the startup check (the sample client has a name, the sample title is short).
    await writeFile(join(dir, 'confirm-login.ejs'), '<form method="post" action="/interaction/<%= uid %>/confirm-login"><%= client.clientName.toUpperCase() %></form>');
    await writeFile(join(dir, '_layout.ejs'), '<html><%= title.length > 30 ? branding.nope.deeper : title %><%- body %></html>');
    const failures: string[] = [];
    const render = createPages(loadConfig({ ...BASE, OIDC_PROVIDER_VIEWS_PATH: dir }), (file, err) => failures.push(`${file}: ${err.message.split('\n').at(-1)}`));
    // A client without a name: the operator's template throws; ours renders.
    const html = await render('confirm-login', { ...CONFIRM, title: 'Connect a client with a long name?', client: { ...CONFIRM.client, clientName: undefined } });
    assert.match(html, /<h1>Connect a client with a long name\?<\/h1>/);
    assert.match(html, /<div class="brand"><svg[^>]*>.*?<\/svg><span>Login for Model Context Protocol<\/span><\/div>/);
    assert.deepEqual(failures, [
      `${join(dir, 'confirm-login.ejs')}: Cannot read properties of undefined (reading 'toUpperCase')`,
      `${join(dir, '_layout.ejs')}: Cannot read properties of undefined (reading 'deeper')`,
    ]);
  });

  it("copies of Heroku's views keep working from a directory of the operator's", async () => {
    await cp(herokuViewsDir(), dir, { recursive: true });
    const html = await createPages(loadConfig({ ...BASE, OIDC_PROVIDER_VIEWS_PATH: dir }))('error', { title: 'Sign-in could not continue', message: 'm', code: 'x' });
    assert.match(html, /<h1 class=message__title>\s*Sign-in could not continue\s*<\/h1>/);
    assert.match(html, /<p>m<\/p>/);
  });
});
