// `mcp-auth-proxy config`: every setting with its value and source, secrets never printed (not
// even in part), and every problem the loader finds.
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { formatReport } from '../../src/commands/config.js';
import type { Environment } from '../../src/config/types.js';
import { reportConfiguration, type ConfigReport, type SettingReport } from '../../src/config/report.js';
import { SETTINGS } from '../../src/config/settings.js';
import { herokuViewsDir } from '../helpers/heroku-reference.js';

const BASE = {
  BASE_URL: 'https://proxy.example.com',
  MCP_SERVER_URL: 'http://localhost:3000/mcp',
  IDENTITY_SERVER_URL: 'https://idp.example.com',
  IDENTITY_CLIENT_ID: 'abc',
};

const setting = (report: ConfigReport, name: string): SettingReport => {
  const found = report.settings.find((s) => s.name === name);
  assert.ok(found, name);
  return found;
};

/** Every 6-character piece of the secret: none may appear in what is printed. */
function assertNothingOf(secret: string, printed: string, label: string): void {
  for (let i = 0; i + 6 <= secret.length; i++) {
    const piece = secret.slice(i, i + 6);
    // Pieces made only of JSON or URL punctuation and common words say nothing about the secret.
    if (/^[\w-]{6}$/.test(piece) && /[A-Za-z0-9]{6}/.test(piece) && !/^(P-256|Ed25519)$/.test(piece)) {
      assert.ok(!printed.includes(piece), `${label}: "${piece}" of the secret was printed`);
    }
  }
}

const jwk = (kid: string) => ({ kid, ...generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' }) });

// Real hashes of a throwaway password (argon2id as `hash-password` makes it; bcrypt as sigbit's).
const LOCAL_HASH = '$argon2id$v=19$m=65536,p=4,t=3$A7Y9mZx1GCTrnXTctCR7tA$2ApJFXBvq84D2JdCskI1pchU+cwwTBpqObVxDSspMPo';
const BCRYPT_HASH = '$2b$04$Ez9dLO6ePH6b/I2SkC8J1elMVC.QhGu2RIxnB6TKACjhyjXelAB4a';

describe('config report', () => {
  it('has every setting of the SETTINGS table once, in its order, with its description', () => {
    const report = reportConfiguration(BASE, {});
    assert.deepEqual(
      report.settings.map((s) => s.name),
      Object.keys(SETTINGS),
    );
    for (const s of report.settings) assert.equal(s.description, SETTINGS[s.name as keyof typeof SETTINGS].description);
  });

  it('says where each value came from: environment, .env, default, derived, unset', () => {
    const report = reportConfiguration(
      { ...BASE, PORT: '8080', LOG_LEVEL: '' },
      { PORT: '9090', LOG_LEVEL: 'debug', MAX_REQUESTS: '5', REDIS_URL: 'redis://cache.internal:6379' },
    );
    assert.deepEqual(setting(report, 'PORT'), { ...setting(report, 'PORT'), value: '8080', source: 'environment' }, 'the environment wins over .env');
    // As at startup: an empty variable counts as unset, and it hides the .env value.
    assert.deepEqual([setting(report, 'LOG_LEVEL').value, setting(report, 'LOG_LEVEL').source], ['info', 'default']);
    assert.deepEqual([setting(report, 'MAX_REQUESTS').value, setting(report, 'MAX_REQUESTS').source], ['5', '.env']);
    assert.deepEqual([setting(report, 'MAX_REQUESTS_WINDOW').value, setting(report, 'MAX_REQUESTS_WINDOW').source], ['60000', 'default']);
    const redis = setting(report, 'MCP_AUTH_PROXY_REDIS_URL');
    assert.deepEqual([redis.value, redis.source, redis.from], ['redis://cache.internal:6379 (password hidden)', '.env', 'REDIS_URL']);
    const vault = setting(report, 'MCP_AUTH_PROXY_VAULT_KEYS');
    assert.deepEqual([vault.value, vault.source], ['derived from OIDC_PROVIDER_JWKS', 'derived']);
    assert.deepEqual([setting(report, 'OIDC_PROVIDER_JWKS').source, setting(report, 'OIDC_PROVIDER_JWKS').value], ['derived', 'generated per process (refused in production)']);
    assert.deepEqual([setting(report, 'BRANDING_TITLE').value, setting(report, 'BRANDING_TITLE').source], ['Login for Model Context Protocol', 'default']);
    const heroku = reportConfiguration({ ...BASE, IDENTITY_SERVER_URL: 'https://auth.heroku.com' }, {});
    assert.equal(setting(heroku, 'BRANDING_TITLE').value, 'Login for Model Context Protocol | Heroku (Heroku Identity)');
    assert.deepEqual([setting(report, 'BRANDING_FAVICON').value, setting(report, 'BRANDING_FAVICON').source], [undefined, 'unset']);
    assert.deepEqual(report.problems, []);

    const text = formatReport(report);
    assert.match(text, /^PORT +8080 {2}\[environment\]$/m);
    assert.match(text, /^MCP_AUTH_PROXY_REDIS_URL +redis:\/\/cache\.internal:6379 \(password hidden\) {2}\[\.env, as REDIS_URL\]$/m);
    assert.match(text, /^BRANDING_FAVICON +\(unset\) {2}\[unset\]$/m);
    assert.match(text, /\nNo problems found\.\n/);
  });

  it("shows what IDENTITY_PROVIDER=github put in place of IDENTITY_SCOPE's default and an unset IDENTITY_SERVER_URL", () => {
    const { IDENTITY_SERVER_URL: _unset, ...rest } = BASE;
    const report = reportConfiguration({ ...rest, IDENTITY_PROVIDER: 'github', IDENTITY_ALLOWED_GITHUB_ORGS: 'acme' }, {});
    assert.deepEqual(report.problems, []);
    assert.deepEqual(
      [setting(report, 'IDENTITY_SCOPE').value, setting(report, 'IDENTITY_SCOPE').source],
      ['read:user user:email read:org (IDENTITY_PROVIDER=github)', 'derived'],
    );
    assert.deepEqual([setting(report, 'IDENTITY_SERVER_URL').value, setting(report, 'IDENTITY_SERVER_URL').source], ['https://github.com/ (IDENTITY_PROVIDER=github)', 'derived']);
    const explicit = reportConfiguration({ ...BASE, IDENTITY_PROVIDER: 'github', IDENTITY_SCOPE: 'repo' }, {});
    assert.deepEqual([setting(explicit, 'IDENTITY_SCOPE').value, setting(explicit, 'IDENTITY_SCOPE').source], ['repo', 'environment']);
  });

  it('never prints a secret, not even a piece of it, in text or JSON', () => {
    const keys = [jwk('signing-2025'), jwk('signing-2024')];
    const secrets: Environment = {
      OIDC_PROVIDER_JWKS: JSON.stringify(keys),
      MCP_AUTH_PROXY_REDIS_URL: 'rediss://default:Sup3rS3cretRedisPassw0rd@ec2-1-2-3-4.compute.amazonaws.com:6380',
      MCP_AUTH_PROXY_COOKIE_KEYS: `${randomBytes(24).toString('base64url')},${randomBytes(24).toString('base64url')}`,
      MCP_AUTH_PROXY_VAULT_KEYS: randomBytes(32).toString('base64'),
      IDENTITY_CLIENT_SECRET: randomBytes(20).toString('base64url'),
      MCP_AUTH_PROXY_METRICS_TOKEN: randomBytes(20).toString('base64url'),
      OTEL_EXPORTER_OTLP_HEADERS: `x-api-key=${randomBytes(16).toString('hex')}`,
      OTEL_EXPORTER_OTLP_TRACES_HEADERS: `authorization=Basic ${randomBytes(16).toString('base64url')}`,
      OTEL_EXPORTER_OTLP_METRICS_HEADERS: `x-honeycomb-team=${randomBytes(16).toString('hex')}`,
      MCP_SERVER_BEARER_TOKEN: randomBytes(20).toString('base64url'),
      IDENTITY_LOCAL_USERS: `alice@example.com:${LOCAL_HASH},bob:${BCRYPT_HASH}`,
      MCP_SERVER_HEADERS: `X-Api-Key:${randomBytes(16).toString('hex')},X-Tenant:${randomBytes(8).toString('hex')}`,
    };
    const secretNames = Object.keys(SETTINGS).filter((name) => 'secret' in SETTINGS[name as keyof typeof SETTINGS]);
    assert.deepEqual(Object.keys(secrets).sort(), secretNames.sort(), 'every secret setting is covered by this test');

    const report = reportConfiguration({ ...BASE, ...secrets, MCP_AUTH_PROXY_METRICS_PATH: '/metrics', MCP_SERVER_CREDENTIALS: 'static', IDENTITY_PROVIDER: 'local' }, {});
    assert.deepEqual(report.problems, []);
    const printed = [formatReport(report), JSON.stringify(report)];
    for (const [name, value] of Object.entries(secrets)) {
      const pieces =
        name === 'OIDC_PROVIDER_JWKS'
          ? keys.map((k) => k.d!)
          : name === 'MCP_AUTH_PROXY_REDIS_URL'
            ? ['Sup3rS3cretRedisPassw0rd']
            : name === 'IDENTITY_LOCAL_USERS'
              ? [LOCAL_HASH.split('$').at(-1)!, BCRYPT_HASH.slice(-31)]
            : name.endsWith('_HEADERS')
              ? value!.split(',').map((header) => header.slice(header.search(/[=:]/) + 1)) // header names are not secret
              : value!.split(',');
      for (const out of printed) for (const piece of pieces) assertNothingOf(piece, out, name);
      assert.equal(setting(report, name).secret, true);
    }
    // What is public anyway is shown: key ids and types, the Redis host, how many keys.
    assert.equal(
      setting(report, 'OIDC_PROVIDER_JWKS').value,
      '(set, hidden): 2 key(s): P-256 ES256 kid=signing-2025; P-256 ES256 kid=signing-2024',
    );
    assert.equal(setting(report, 'MCP_AUTH_PROXY_REDIS_URL').value, 'rediss://***@ec2-1-2-3-4.compute.amazonaws.com:6380 (password hidden)');
    assert.equal(setting(report, 'MCP_AUTH_PROXY_COOKIE_KEYS').value, '(set, hidden): 2 key(s)');
    assert.equal(setting(report, 'MCP_AUTH_PROXY_VAULT_KEYS').value, '(set, hidden): 1 key(s)');
    assert.equal(setting(report, 'IDENTITY_CLIENT_SECRET').value, '(set, hidden)');
  });

  it('hides invalid secrets too, in the value and in the problem', () => {
    const report = reportConfiguration(
      {
        ...BASE,
        OIDC_PROVIDER_JWKS: '[{"kty":"EC","d":"TopSecretKeyMaterial"',
        MCP_AUTH_PROXY_REDIS_URL: 'htps://user:TopSecretRedisPass@host',
        MCP_AUTH_PROXY_COOKIE_KEYS: 'TopSecretButShort',
      },
      {},
    );
    assert.equal(setting(report, 'OIDC_PROVIDER_JWKS').value, '(set, hidden)');
    assert.equal(setting(report, 'MCP_AUTH_PROXY_REDIS_URL').value, '(set, hidden)');
    assert.equal(report.problems.length, 3);
    assert.equal(report.problems[0], 'MCP_AUTH_PROXY_REDIS_URL: must be a redis:// or rediss:// URL');
    // Node versions differ in whether they say where truncated JSON ends.
    assert.match(report.problems[1]!, /^OIDC_PROVIDER_JWKS: must be valid JSON \((syntax error at offset \d+|it is cut short or malformed)\)$/);
    assert.equal(report.problems[2], 'MCP_AUTH_PROXY_COOKIE_KEYS: every key must be at least 32 characters long');
    assert.doesNotMatch(formatReport(report) + JSON.stringify(report), /TopSecret/);
  });

  it("shows the names of the MCP server's extra environment, not its values", () => {
    const report = reportConfiguration({ ...BASE, MCP_SERVER_RUN_ENV_JSON: '{"API_URL":"https://api.example.com","API_KEY":"sk-live-abcdef123456"}' }, {});
    assert.equal(setting(report, 'MCP_SERVER_RUN_ENV_JSON').value, '{API_URL, API_KEY} (values hidden)');
    assert.doesNotMatch(formatReport(report), /sk-live/);
    assert.equal(setting(reportConfiguration({ ...BASE, MCP_SERVER_RUN_ENV_JSON: '{"A": ' }, {}), 'MCP_SERVER_RUN_ENV_JSON').value, '(set, not valid JSON, hidden)');
  });

  it('lists every problem, not just the first', () => {
    const report = reportConfiguration({ NODE_ENV: 'production', PORT: '99999', LOG_LEVEL: 'loud', BASE_URL: 'http://proxy.example.com' }, {});
    assert.deepEqual(report.problems, [
      'PORT: must be a port number (1-65535), got "99999"',
      'LOG_LEVEL: must be one of fatal, error, warn, info, debug, trace, silent, got "loud"',
      'BASE_URL: must use https (set LOCAL_INSECURE=true for plain-http local use)',
      'MCP_SERVER_URL: is required: where the MCP server listens, e.g. http://localhost:3000/mcp',
      'IDENTITY_SERVER_URL: is required',
      'IDENTITY_CLIENT_ID: is required',
      'MCP_AUTH_PROXY_REDIS_URL: is required when NODE_ENV=production (the in-memory store is for local use only)',
      'OIDC_PROVIDER_JWKS: is required when NODE_ENV=production (a JSON array of private JWKs)',
    ]);
    const text = formatReport(report);
    assert.match(text, /\n8 problem\(s\) found; the proxy will not start:\n {2}- PORT: must be a port number/);
    assert.match(text, /\n {2}- OIDC_PROVIDER_JWKS: is required when NODE_ENV=production/);
  });

  it("knows the blocks' variables of IDENTITY_PROVIDERS, and says the single-provider ones are ignored then", () => {
    const { IDENTITY_SERVER_URL: _single, ...shared } = BASE;
    const env = {
      ...shared,
      NODE_ENV: 'production',
      REDIS_URL: 'redis://h:1',
      OIDC_PROVIDER_JWKS: JSON.stringify([jwk('k')]),
      IDENTITY_PROVIDERS: 'github,corp-sso',
      IDENTITY_GITHUB_CLIENT_ID: 'Iv1.x',
      IDENTITY_CORP_SSO_SERVER_URL: 'https://sso.example.com',
      IDENTITY_CORP_SSO_CLIENT_ID: 'c',
      IDENTITY_CORP_SSO_TITLE: 'Acme SSO',
      IDENTITY_GITHB_CLIENT_SECRET: 'a typo',
    };
    const report = reportConfiguration({ ...env, IDENTITY_CORP_SSO_CLIENT_SECRET: 'corp-client-secret-value' }, {});
    assert.deepEqual(report.problems, []);
    // Each block's variables follow IDENTITY_PROVIDERS in the list, secrets masked.
    const names = report.settings.map((s) => s.name);
    const after = names.indexOf('IDENTITY_PROVIDERS');
    assert.deepEqual(names.slice(after + 1, after + 6), [
      'IDENTITY_GITHUB_CLIENT_ID',
      'IDENTITY_CORP_SSO_SERVER_URL',
      'IDENTITY_CORP_SSO_CLIENT_ID',
      'IDENTITY_CORP_SSO_CLIENT_SECRET',
      'IDENTITY_CORP_SSO_TITLE',
    ]);
    assert.deepEqual(setting(report, 'IDENTITY_CORP_SSO_CLIENT_SECRET').value, '(set, hidden)');
    assert.equal(setting(report, 'IDENTITY_CORP_SSO_CLIENT_SECRET').secret, true);
    assert.equal(setting(report, 'IDENTITY_CORP_SSO_SERVER_URL').value, 'https://sso.example.com');
    for (const out of [formatReport(report), JSON.stringify(report)]) assert.ok(!out.includes('corp-client-secret-value'));
    assert.deepEqual(report.warnings, [
      'IDENTITY_CLIENT_ID: ignored with IDENTITY_PROVIDERS; each block has its own (IDENTITY_<NAME>_CLIENT_ID)',
      'IDENTITY_GITHB_CLIENT_SECRET: not a setting of this proxy (misspelt?); it is ignored',
    ]);
  });

  it('warns about unknown variables of ours (typos), the in-memory store and generated keys', () => {
    const report = reportConfiguration({ ...BASE, MCP_AUTH_PROXY_REDIS_UR: 'redis://x', IDENTITY_CLIENTID: 'y', MCP_SERVER_API_KEY: 'the child may use it', HOME: '/root' }, {});
    assert.deepEqual(report.problems, []);
    assert.deepEqual(report.warnings, [
      'IDENTITY_CLIENTID: not a setting of this proxy (misspelt?); it is ignored',
      'MCP_AUTH_PROXY_REDIS_UR: not a setting of this proxy (misspelt?); it is ignored',
      'MCP_AUTH_PROXY_REDIS_URL: not set; the in-memory store loses everything on restart and is not shared between instances',
      'OIDC_PROVIDER_JWKS: not set; a key generated per process signs, so sign-ins do not survive a restart (`mcp-auth-proxy jwks` makes one)',
    ]);
    assert.match(formatReport(report), /\nNo problems found\.\n\n4 warning\(s\):\n {2}- IDENTITY_CLIENTID/);
    const production = reportConfiguration(
      { ...BASE, NODE_ENV: 'production', LOCAL_INSECURE: 'true', REDIS_URL: 'redis://h:1', OIDC_PROVIDER_JWKS: JSON.stringify([jwk('k')]) },
      {},
    );
    assert.deepEqual(production.warnings, ['LOCAL_INSECURE: true with NODE_ENV=production; plain http is meant for local use only']);
  });

  it("says what to do instead of the Heroku proxy's settings this proxy does not read", () => {
    const quiet = { REDIS_URL: 'redis://h:1', OIDC_PROVIDER_JWKS: JSON.stringify([jwk('k')]) };
    const report = reportConfiguration(
      {
        ...BASE,
        ...quiet,
        IDENTITY_UNIQUE_CALLBACK_PATH: '/interaction/:uid/identity/callback',
        IDENTITY_REDIRECT_URI: 'https://proxy.example.com/oauth/callback',
        HONEYCOMB_DEVELOPMENT_API_KEY: 'hc-key',
        OTEL_SDK_DISABLED: 'false',
        // The buildpack's own settings are not ours to judge.
        MCP_PROXY_VERSION: 'v1.2.3',
        MCP_PROXY_DOWNLOAD_METHOD: 'release',
      },
      {},
    );
    assert.deepEqual(report.warnings, [
      'HONEYCOMB_DEVELOPMENT_API_KEY: from Heroku\'s .env.template, ignored here: for Honeycomb set OTEL_EXPORTER_OTLP_ENDPOINT=https://api.honeycomb.io and OTEL_EXPORTER_OTLP_HEADERS=x-honeycomb-team=<key>',
      'IDENTITY_REDIRECT_URI: ignored: the redirect URI is always BASE_URL + IDENTITY_CALLBACK_PATH, here https://proxy.example.com/interaction/identity/callback; register that one at the identity provider',
      "IDENTITY_UNIQUE_CALLBACK_PATH: a setting of Heroku's proxy, ignored here: the proxy itself sends each sign-in back from IDENTITY_CALLBACK_PATH to its own page",
      'OTEL_SDK_DISABLED: false, but no exporter is configured (OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_TRACES_EXPORTER, …): nothing is exported',
    ]);
    const same = reportConfiguration({ ...BASE, ...quiet, IDENTITY_REDIRECT_URI: 'https://proxy.example.com/interaction/identity/callback' }, {});
    assert.deepEqual(same.warnings, ['IDENTITY_REDIRECT_URI: ignored: the redirect URI is always BASE_URL + IDENTITY_CALLBACK_PATH (https://proxy.example.com/interaction/identity/callback, the same)']);
    const exported = reportConfiguration({ ...BASE, ...quiet, OTEL_SDK_DISABLED: 'false', OTEL_EXPORTER_OTLP_ENDPOINT: 'https://api.honeycomb.io' }, {});
    assert.deepEqual(exported.warnings, []);
  });

  it('warns about nothing the local demo does by design, and passes on what the views check found', () => {
    assert.deepEqual(reportConfiguration({}, {}).warnings, [
      'nothing is configured: `mcp-auth-proxy start` (npm start) runs the local demo; configure it for real from .env-template',
    ]);
    const views = reportConfiguration({ ...BASE, REDIS_URL: 'redis://h:1', OIDC_PROVIDER_JWKS: JSON.stringify([jwk('k')]), OIDC_PROVIDER_VIEWS_PATH: herokuViewsDir() }, {});
    assert.deepEqual(views.warnings, ['OIDC_PROVIDER_VIEWS_PATH: interaction.ejs is not used; this proxy takes only confirm-login.ejs and _layout.ejs from there']);
  });
});
