// The startup check of OIDC_PROVIDER_VIEWS_PATH: every template rendered once with sample data,
// failures named by file, line and missing name; through loadConfig, so `config`, `verify` and
// `start` all refuse the same directory.
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../../src/config/index.js';
import { checkViewOverrides } from '../../src/pages/view-check.js';
import { herokuViewsDir } from '../helpers/heroku-reference.js';

const BRANDING = { title: 'Login for Model Context Protocol', favicon: undefined, heroku: false };
const BASE = {
  BASE_URL: 'https://proxy.example.com',
  MCP_SERVER_URL: 'http://localhost:3000/mcp',
  IDENTITY_SERVER_URL: 'https://idp.example.com',
  IDENTITY_CLIENT_ID: 'abc',
};
const LAYOUT = '<html><title><%= branding.title %></title><h1><%= title %></h1><%- body %></html>';
const CONFIRM = '<form method="post" action="/interaction/<%= uid %>/confirm-login"><input type="checkbox" name="confirmed" value="true"></form>';

describe('checkViewOverrides', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'view-check-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const views = (files: Record<string, string>): string => {
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
    return dir;
  };

  it("passes Heroku's own views, and says its interaction.ejs is not used", () => {
    assert.deepEqual(checkViewOverrides(herokuViewsDir(), BRANDING), {
      problems: [],
      warnings: ['OIDC_PROVIDER_VIEWS_PATH: interaction.ejs is not used; this proxy takes only confirm-login.ejs and _layout.ejs from there'],
    });
  });

  it('names the file, the line and the missing variable', () => {
    const { problems } = checkViewOverrides(views({ '_layout.ejs': LAYOUT, 'confirm-login.ejs': `${CONFIRM}\n<p><%= clientNickname %></p>` }), BRANDING);
    assert.deepEqual(problems, ['OIDC_PROVIDER_VIEWS_PATH: confirm-login.ejs line 2: clientNickname is not defined (docs/views.md lists what templates get)']);
  });

  it('names a template that does not compile', () => {
    const { problems } = checkViewOverrides(views({ '_layout.ejs': `${LAYOUT}<% if (true) { %>`, 'confirm-login.ejs': CONFIRM }), BRANDING);
    assert.equal(problems.length, 1);
    assert.match(problems[0]!, /^OIDC_PROVIDER_VIEWS_PATH: _layout\.ejs: .+ \(it does not compile\) \(docs\/views\.md lists what templates get\)$/);
  });

  it('follows includes, naming the included file', () => {
    mkdirSync(join(dir, 'partials'));
    writeFileSync(join(dir, 'partials', 'client.ejs'), '<b><%= client.clientName %></b>\n<i><%= client.secretSauce.name %></i>');
    const { problems } = checkViewOverrides(views({ '_layout.ejs': LAYOUT, 'confirm-login.ejs': `${CONFIRM}<%- include('partials/client') %>` }), BRANDING);
    assert.deepEqual(problems, [
      "OIDC_PROVIDER_VIEWS_PATH: partials/client.ejs line 2: Cannot read properties of undefined (reading 'name') (docs/views.md lists what templates get)",
    ]);
  });

  it('refuses a layout without the page, and a confirm page without a form to confirm with', () => {
    const { problems } = checkViewOverrides(views({ '_layout.ejs': '<html><%= title %></html>', 'confirm-login.ejs': '<p>Hello</p><form action="/elsewhere" method="post"></form>' }), BRANDING);
    assert.deepEqual(problems, [
      'OIDC_PROVIDER_VIEWS_PATH: _layout.ejs never outputs the page: it needs <%- body %>',
      'OIDC_PROVIDER_VIEWS_PATH: confirm-login.ejs has no form that posts to /interaction/<%= uid %>/confirm-login (or /confirm): nobody could continue the sign-in',
    ]);
  });

  it('accepts our own form (POST …/confirm) and an absolute action; skips partials named _*.ejs', () => {
    const ours = '<form action="https://proxy.example.com/interaction/<%= uid %>/confirm" method="POST"></form>';
    assert.deepEqual(checkViewOverrides(views({ '_layout.ejs': LAYOUT, 'confirm-login.ejs': ours, '_partial.ejs': '<%= only.in.include %>' }), BRANDING), {
      problems: [],
      warnings: [],
    });
  });

  it('stops loadConfig (so config, verify and start) with every problem', () => {
    cpSync(herokuViewsDir(), dir, { recursive: true });
    writeFileSync(join(dir, 'confirm-login.ejs'), `${CONFIRM}\n\n<%= identityServerURL %>`);
    try {
      loadConfig({ ...BASE, OIDC_PROVIDER_VIEWS_PATH: dir });
      assert.fail('accepted a broken template');
    } catch (err) {
      assert.ok(err instanceof ConfigError);
      assert.deepEqual(err.problems, ['OIDC_PROVIDER_VIEWS_PATH: confirm-login.ejs line 3: identityServerURL is not defined (docs/views.md lists what templates get)']);
    }
  });

  it('hands its warnings to the configuration', () => {
    const config = loadConfig({ ...BASE, OIDC_PROVIDER_VIEWS_PATH: herokuViewsDir() });
    assert.deepEqual(config.warnings, ['OIDC_PROVIDER_VIEWS_PATH: interaction.ejs is not used; this proxy takes only confirm-login.ejs and _layout.ejs from there']);
  });
});
