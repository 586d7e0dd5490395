import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/index.js';
import { createViews } from '../../src/views.js';

const BASE = {
  BASE_URL: 'https://proxy.example.com',
  MCP_SERVER_URL: 'http://localhost:3000/mcp',
  IDENTITY_SERVER_URL: 'https://idp.example.com',
  IDENTITY_CLIENT_ID: 'abc',
};
const CONFIRM = { uid: 'u1', csrf: 't', clientId: 'c', clientName: 'Claude <script>', redirectTarget: 'https://claude.ai', loopbackOnly: false, scopes: [] };

describe('views', () => {
  it('renders the confirm page in the layout, escaping client-supplied text', async () => {
    const render = createViews(loadConfig({ ...BASE, BRANDING_TITLE: 'Acme MCP', BRANDING_FAVICON: 'https://acme.example.com/f.ico' }));
    const { html, nonce } = await render('confirm-login', CONFIRM);
    assert.match(html, /<title>Acme MCP<\/title>/);
    assert.match(html, /href="https:\/\/acme\.example\.com\/f\.ico"/);
    assert.match(html, /Claude &lt;script&gt;/);
    assert.doesNotMatch(html, /Claude <script>/);
    assert.match(html, new RegExp(`nonce="${nonce.replace(/[+/]/g, '\\$&')}"`));
    assert.match(html, /action="\/interaction\/u1\/confirm"/);
  });

  it('uses Heroku branding when the IdP is Heroku Identity', async () => {
    const render = createViews(loadConfig({ ...BASE, IDENTITY_SERVER_URL: 'https://id.heroku.com' }));
    const { html } = await render('error', { heading: 'h', message: 'm' });
    assert.match(html, /<title>Heroku MCP<\/title>/);
    assert.match(html, /#79589f/);
  });

  it('shows the demo banner on every page of the demo, and only there', async () => {
    const demo = createViews(loadConfig({}));
    for (const [view, data] of [['confirm-login', CONFIRM], ['error', { heading: 'h', message: 'm' }]] as const) {
      assert.match((await demo(view, data)).html, /<p class="demo-banner" role="alert">Demo: this proxy runs on embedded defaults and is not for real use/, view);
    }
    assert.doesNotMatch((await createViews(loadConfig(BASE))('confirm-login', CONFIRM)).html, /demo-banner"/);
  });

  it('warns when the client only redirects to loopback', async () => {
    const render = createViews(loadConfig(BASE));
    const { html } = await render('confirm-login', { ...CONFIRM, loopbackOnly: true });
    assert.match(html, /class="warning"/);
  });

  it('renders the pages that end a sign-in with a button back to the client, escaping its name', async () => {
    const render = createViews(loadConfig(BASE));
    const unavailable = (await render('idp-unavailable', { uid: 'u1', csrf: 't', idpHost: 'idp.example.com', clientName: 'Evil <b>' })).html;
    assert.match(unavailable, /idp\.example\.com/);
    assert.match(unavailable, /action="\/interaction\/u1\/unavailable"/);
    assert.match(unavailable, /Return to Evil &lt;b&gt;/);
    const denied = (await render('access-denied', { uid: 'u1', csrf: 't', reason: 'r', clientName: 'Evil <b>' })).html;
    assert.match(denied, /action="\/interaction\/u1\/refused"/);
    assert.doesNotMatch(denied, /Evil <b>/);
  });

  it('takes confirm-login.ejs and _layout.ejs from OIDC_PROVIDER_VIEWS_PATH', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'views-'));
    try {
      await writeFile(join(dir, 'confirm-login.ejs'), 'CUSTOM CONFIRM <%= clientName %>');
      await writeFile(join(dir, '_layout.ejs'), '<html>CUSTOM LAYOUT <%- body %></html>');
      const render = createViews(loadConfig({ ...BASE, OIDC_PROVIDER_VIEWS_PATH: dir }));
      assert.equal((await render('confirm-login', CONFIRM)).html, '<html>CUSTOM LAYOUT CUSTOM CONFIRM Claude &lt;script&gt;</html>');
      // Error pages still come from our own views, inside the custom layout.
      assert.match((await render('error', { heading: 'Oops', message: 'm' })).html, /CUSTOM LAYOUT <h1>Oops<\/h1>/);
    } finally {
      await rm(dir, { recursive: true });
    }
  });
});
