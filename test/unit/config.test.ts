import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes, type JsonWebKey } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, loadConfig, readEnvironment, type Config, type Environment } from '../../src/config/index.js';
import * as parse from '../../src/config/parsers.js';
import { selfSignedCertificate } from '../helpers/certificates.js';

const BASE: Record<string, string> = {
  BASE_URL: 'https://proxy.example.com',
  MCP_SERVER_URL: 'http://localhost:3000/mcp',
  IDENTITY_SERVER_URL: 'https://idp.example.com',
  IDENTITY_CLIENT_ID: 'abc',
};

const load = (extra: Environment = {}): Config => loadConfig({ ...BASE, ...extra });

/** The problems of a configuration that must be refused. */
function problemsOf(env: Environment): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    assert.equal(err.name, 'ConfigError');
    assert.ok(err.message.startsWith(`Invalid configuration:\n${err.problems.map((p) => `  - ${p}`).join('\n')}`), err.message);
    return err.problems;
  }
  assert.fail('loadConfig accepted a configuration that must be refused');
}
const refused = (extra: Environment): string[] => problemsOf({ ...BASE, ...extra });

/** The message JSON.parse gives for this text (it differs between Node versions). */
function jsonError(text: string): string {
  try {
    JSON.parse(text);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error(`${text} is valid JSON`);
}

const privateJwk = (type: 'ec' | 'ed25519' | 'rsa', curve = 'P-256'): JsonWebKey => {
  if (type === 'ec') return generateKeyPairSync('ec', { namedCurve: curve }).privateKey.export({ format: 'jwk' });
  if (type === 'ed25519') return generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' });
  return generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
};
const EC_KEY = privateJwk('ec');
const EC_KEY_2 = privateJwk('ec');

describe('config', () => {
  let tmp: string;
  before(() => {
    tmp = mkdtempSync(join(tmpdir(), 'mcp-auth-proxy-config-'));
  });
  after(() => {
    rmSync(tmp, { recursive: true, force: true });
  });

  describe('loadConfig defaults', () => {
    it('fills every default from a minimal environment', () => {
      const config = load();
      assert.equal(config.production, false);
      assert.equal(config.demo, false);
      assert.equal(config.port, 3001);
      assert.equal(config.listenHost, undefined);
      assert.equal(config.baseUrl, 'https://proxy.example.com');
      assert.equal(config.localInsecure, false);
      assert.equal(config.mcp.serverUrl!.href, 'http://localhost:3000/mcp');
      assert.equal(config.mcp.mountPath, '/mcp');
      assert.equal(config.mcp.resource, 'https://proxy.example.com/mcp');
      assert.equal(config.mcp.resourceMetadataUrl, 'https://proxy.example.com/.well-known/oauth-protected-resource/mcp');
      assert.equal(config.mcp.maxBodyBytes, 10 * 1024 * 1024);
      assert.equal(config.mcp.child, undefined);
      assert.deepEqual(config.redis, {
        url: undefined,
        urlVariable: 'MCP_AUTH_PROXY_REDIS_URL',
        prefix: 'mcp-auth-proxy:',
        tlsVerify: false,
        tlsCa: undefined,
        connectTimeoutMs: 10_000,
      });
      assert.deepEqual(config.mcp.scopeHeader, { source: 'upstream', identityScope: 'openid profile email offline_access' });
      assert.deepEqual(config.warnings, []);
      assert.equal(config.drainTimeoutMs, 25_000);
      assert.deepEqual(config.provider.scopes, ['openid', 'offline_access']);
      assert.equal(config.provider.accessTokenTtl, 3600);
      assert.equal(config.provider.refreshTokenTtl, 30 * 24 * 3600);
      assert.equal(config.provider.viewsPath, undefined);
      assert.equal(config.identity.serverUrl.href, 'https://idp.example.com/');
      assert.equal(config.identity.clientId, 'abc');
      assert.equal(config.identity.clientSecret, undefined);
      assert.deepEqual(config.identity.scopes, ['openid', 'profile', 'email', 'offline_access']);
      assert.equal(config.identity.metadata, undefined);
      assert.equal(config.identity.callbackPath, '/interaction/identity/callback');
      assert.equal(config.identity.callbackUrl, 'https://proxy.example.com/interaction/identity/callback');
      assert.deepEqual(config.branding, { title: 'Login for Model Context Protocol', favicon: undefined, heroku: false });
      assert.deepEqual(config.rateLimit, {
        max: 60,
        windowMs: 60000,
        registration: { max: 30, windowMs: 3600000 },
        mcp: { max: 0, windowMs: 60000 },
        mcpConcurrent: 0,
      });
      assert.equal(config.verifyRelease, false);
      assert.deepEqual(config.telemetry, {
        disabled: false,
        serviceName: 'unnamed_mcp_remote_auth_proxy',
        traces: false,
        otlpMetrics: false,
        auditLogs: false,
        metricsPath: undefined,
        metricsToken: undefined,
        sdkEnvironment: {},
      });
      assert.equal(config.logLevel, 'info');
    });

    it('generates one EC P-256 signing key and derives cookie and vault keys from it', () => {
      const config = load();
      assert.equal(config.provider.jwksGenerated, true);
      assert.equal(config.provider.jwks.length, 1);
      assert.equal(config.provider.jwks[0]?.kty, 'EC');
      assert.equal(config.provider.jwks[0]?.crv, 'P-256');
      assert.equal(typeof config.provider.jwks[0]?.d, 'string');
      assert.equal(config.provider.cookieKeys.length, 1);
      assert.match(config.provider.cookieKeys[0]!, /^[A-Za-z0-9_-]{43}$/);
      assert.equal(config.vaultKeys.length, 1);
      assert.equal(config.vaultKeys[0]?.length, 32);
      // Generated per process: two loads do not share keys.
      assert.notDeepEqual(load().provider.jwks, config.provider.jwks);
    });

    it('uses the values given instead of the defaults', () => {
      const config = load({
        PORT: '8080',
        MCP_AUTH_PROXY_LISTEN_HOST: '127.0.0.1',
        BASE_URL: 'https://proxy.example.com/',
        MCP_SERVER_URL: 'http://localhost:3000/api/mcp/',
        PROVIDER_SCOPE: 'openid  offline_access mcp:read openid',
        IDENTITY_SCOPE: 'openid email',
        IDENTITY_CALLBACK_PATH: '/cb',
        IDENTITY_CLIENT_SECRET: 's3cret',
        MCP_AUTH_PROXY_REDIS_PREFIX: 'p:',
        MCP_AUTH_PROXY_REDIS_TLS_VERIFY: 'yes',
        BRANDING_TITLE: 'Acme',
        BRANDING_FAVICON: 'https://cdn.example.com/f.ico',
        MAX_REQUESTS: '5',
        MAX_REQUESTS_WINDOW: '1000',
        LOG_LEVEL: ' DEBUG ',
      });
      assert.equal(config.port, 8080);
      assert.equal(config.listenHost, '127.0.0.1');
      assert.equal(config.baseUrl, 'https://proxy.example.com');
      assert.equal(config.mcp.mountPath, '/api/mcp');
      assert.equal(config.mcp.resource, 'https://proxy.example.com/api/mcp');
      assert.equal(config.mcp.resourceMetadataUrl, 'https://proxy.example.com/.well-known/oauth-protected-resource/api/mcp');
      assert.deepEqual(config.provider.scopes, ['openid', 'offline_access', 'mcp:read']);
      assert.deepEqual(config.identity.scopes, ['openid', 'email']);
      assert.equal(config.identity.callbackPath, '/cb');
      assert.equal(config.identity.callbackUrl, 'https://proxy.example.com/cb');
      assert.equal(config.identity.clientSecret, 's3cret');
      assert.deepEqual(config.redis, { url: undefined, urlVariable: 'MCP_AUTH_PROXY_REDIS_URL', prefix: 'p:', tlsVerify: true, tlsCa: undefined, connectTimeoutMs: 10_000 });
      assert.deepEqual(config.branding, { title: 'Acme', favicon: 'https://cdn.example.com/f.ico', heroku: false });
      assert.deepEqual({ max: config.rateLimit.max, windowMs: config.rateLimit.windowMs }, { max: 5, windowMs: 1000 });
      assert.equal(config.logLevel, 'debug');
    });
  });

  describe('required variables', () => {
    const REQUIRED: Record<string, string> = {
      BASE_URL: 'BASE_URL: is required: the public https origin of this proxy',
      MCP_SERVER_URL: 'MCP_SERVER_URL: is required: where the MCP server listens, e.g. http://localhost:3000/mcp',
      IDENTITY_SERVER_URL: 'IDENTITY_SERVER_URL: is required',
      IDENTITY_CLIENT_ID: 'IDENTITY_CLIENT_ID: is required',
    };
    for (const [name, message] of Object.entries(REQUIRED)) {
      it(`refuses a missing ${name}`, () => {
        const env = { ...BASE };
        delete env[name];
        const problems = problemsOf(env);
        assert.deepEqual(problems, [message]);
        assert.ok(problems[0]!.startsWith(`${name}:`));
      });

      it(`treats an empty ${name} as missing`, () => {
        assert.deepEqual(refused({ [name]: '' }), [message]);
      });
    }

    it('reports every problem at once', () => {
      // One deployment setting alone is partial configuration, not the demo.
      assert.deepEqual(problemsOf({ IDENTITY_CLIENT_SECRET: 's' }), Object.values(REQUIRED));
      assert.deepEqual(problemsOf({ PORT: 'abc', LOG_LEVEL: 'loud', IDENTITY_CLIENT_ID: 'abc', BASE_URL: 'http://x.example.com' }), [
        'PORT: must be a positive whole number, got "abc"',
        'LOG_LEVEL: must be one of fatal, error, warn, info, debug, trace, silent, got "loud"',
        'BASE_URL: must use https (set LOCAL_INSECURE=true for plain-http local use)',
        REQUIRED.MCP_SERVER_URL,
        REQUIRED.IDENTITY_SERVER_URL,
      ]);
    });
  });

  describe('BASE_URL and MCP_SERVER_URL', () => {
    it('refuses plain http without LOCAL_INSECURE, allows it with LOCAL_INSECURE=true', () => {
      const message = 'BASE_URL: must use https (set LOCAL_INSECURE=true for plain-http local use)';
      assert.deepEqual(refused({ BASE_URL: 'http://localhost:3001' }), [message]);
      assert.deepEqual(refused({ BASE_URL: 'http://localhost:3001', LOCAL_INSECURE: 'false' }), [message]);
      const config = load({ BASE_URL: 'http://localhost:3001', LOCAL_INSECURE: 'true' });
      assert.equal(config.localInsecure, true);
      assert.equal(config.baseUrl, 'http://localhost:3001');
      assert.equal(config.mcp.resource, 'http://localhost:3001/mcp');
      assert.equal(config.identity.callbackUrl, 'http://localhost:3001/interaction/identity/callback');
    });

    it('refuses an invalid LOCAL_INSECURE', () => {
      assert.deepEqual(refused({ LOCAL_INSECURE: 'maybe' }), ['LOCAL_INSECURE: must be true or false, got "maybe"']);
    });

    it('refuses a BASE_URL with a path, query, credentials or fragment', () => {
      for (const raw of ['https://proxy.example.com/app', 'https://proxy.example.com/?a=1', 'https://u:p@proxy.example.com']) {
        assert.deepEqual(refused({ BASE_URL: raw }), [
          `BASE_URL: must be an origin such as https://my-app.herokuapp.com (no path, query or credentials), got "${raw}"`,
        ]);
      }
      assert.deepEqual(refused({ BASE_URL: 'https://proxy.example.com#x' }), ['BASE_URL: must not contain a #fragment']);
      assert.deepEqual(refused({ BASE_URL: 'ftp://proxy.example.com' }), ['BASE_URL: must use http or https, got "ftp"']);
      assert.deepEqual(refused({ BASE_URL: 'proxy.example.com' }), ['BASE_URL: must be an absolute URL, got "proxy.example.com"']);
    });

    it('refuses an MCP_SERVER_URL without a path', () => {
      const message = 'MCP_SERVER_URL: must have a path (e.g. /mcp): it is also the public mount of the MCP endpoint';
      assert.deepEqual(refused({ MCP_SERVER_URL: 'http://localhost:3000' }), [message]);
      assert.deepEqual(refused({ MCP_SERVER_URL: 'http://localhost:3000/' }), [message]);
    });

    // A path of slashes only would be stripped back to '/' by mountPath, mounting the MCP proxy
    // (and its bearer check) at the root of the proxy.
    it('refuses an MCP_SERVER_URL whose path is only slashes', () => {
      const message = 'MCP_SERVER_URL: must have a path (e.g. /mcp): it is also the public mount of the MCP endpoint';
      assert.deepEqual(refused({ MCP_SERVER_URL: 'http://localhost:3000//' }), [message]);
    });

    it("refuses an MCP_SERVER_URL on this machine at the proxy's own PORT, naming both", () => {
      for (const url of ['http://localhost:3001/mcp', 'http://127.0.0.1:3001/mcp', 'http://[::1]:3001/mcp', 'http://0.0.0.0:3001/mcp']) {
        assert.deepEqual(refused({ MCP_SERVER_URL: url }), [
          `MCP_SERVER_URL: ${new URL(url).host} is this proxy's own PORT (3001); the MCP server must listen on another port, e.g. MCP_SERVER_URL=http://localhost:3000/mcp with {"PORT":3000} in MCP_SERVER_RUN_ENV_JSON`,
        ], url);
      }
      assert.deepEqual(refused({ PORT: '80', MCP_SERVER_URL: 'http://localhost/mcp' }).length, 1);
      assert.deepEqual(refused({ PORT: '8080', MCP_AUTH_PROXY_LISTEN_HOST: '10.0.0.5', MCP_SERVER_URL: 'http://10.0.0.5:8080/mcp' }).length, 1);
      // Another host, or another port, is fine.
      assert.equal(load({ MCP_SERVER_URL: 'http://mcp.internal:3001/mcp' }).mcp.serverUrl!.port, '3001');
      assert.equal(load({ PORT: '5000', MCP_SERVER_URL: 'http://localhost:3000/mcp' }).port, 5000);
    });
  });

  describe('the local demo (nothing configured, NODE_ENV not production)', () => {
    const SAMPLE_SERVER = fileURLToPath(new URL('../../src/demo/sample-mcp-server.ts', import.meta.url));

    it('stands in for every deployment setting: localhost, the dev IdP on PORT+1, the sample MCP server on PORT+2', () => {
      const config = loadConfig({ PATH: '/usr/bin' });
      assert.equal(config.demo, true);
      assert.equal(config.production, false);
      assert.equal(config.port, 3001);
      assert.equal(config.baseUrl, 'http://localhost:3001');
      assert.equal(config.localInsecure, true);
      assert.equal(config.listenHost, '127.0.0.1');
      assert.equal(config.mcp.serverUrl!.href, 'http://127.0.0.1:3003/mcp');
      assert.equal(config.mcp.resource, 'http://localhost:3001/mcp');
      assert.equal(config.identity.serverUrl.href, 'http://127.0.0.1:3002/');
      assert.equal(config.identity.clientId, 'mcp-auth-proxy-demo');
      assert.match(config.identity.clientSecret ?? '', /^[\w-]{32}$/);
      assert.equal(config.identity.callbackUrl, 'http://localhost:3001/interaction/identity/callback');
      assert.equal(config.redis.url, undefined);
      assert.equal(config.provider.jwksGenerated, true);
      // The sample server runs as the ordinary child, without the IdP client secret.
      assert.deepEqual(config.mcp.child && { command: config.mcp.child.command, args: config.mcp.child.args }, {
        command: process.execPath,
        args: ['--import', 'tsx', SAMPLE_SERVER],
      });
      assert.equal(config.mcp.child?.env.PORT, '3003');
      assert.equal(config.mcp.child?.env.DEMO_USERINFO_URL, 'http://127.0.0.1:3002/me');
      assert.equal(config.mcp.child?.env.PATH, '/usr/bin');
      assert.ok(!Object.values(config.mcp.child?.env ?? {}).includes(config.identity.clientSecret!));
    });

    it('generates a new IdP client secret for each process', () => {
      assert.notEqual(loadConfig({}).identity.clientSecret, loadConfig({}).identity.clientSecret);
    });

    it('moves all three ports with PORT, and keeps every other setting given', () => {
      const config = loadConfig({ PORT: '4100', LOG_LEVEL: 'debug', MCP_AUTH_PROXY_LISTEN_HOST: '0.0.0.0', REDIS_URL: 'redis://127.0.0.1:6390' });
      assert.equal(config.demo, true);
      assert.equal(config.baseUrl, 'http://localhost:4100');
      assert.equal(config.identity.serverUrl.href, 'http://127.0.0.1:4101/');
      assert.equal(config.mcp.serverUrl!.href, 'http://127.0.0.1:4102/mcp');
      assert.equal(config.logLevel, 'debug');
      assert.equal(config.listenHost, '0.0.0.0');
      assert.equal(config.redis.url, 'redis://127.0.0.1:6390');
    });

    it('refuses a PORT that leaves no room for PORT+1 and PORT+2, and reports a bad PORT once', () => {
      assert.deepEqual(problemsOf({ PORT: '65534' }), [
        'PORT: the demo also listens on PORT+1 (its identity provider) and PORT+2 (its MCP server); choose a PORT below 65534',
      ]);
      assert.deepEqual(problemsOf({ PORT: 'abc' }), ['PORT: must be a positive whole number, got "abc"']);
    });

    it('treats empty deployment settings as unset', () => {
      assert.equal(loadConfig({ BASE_URL: '', IDENTITY_CLIENT_ID: '' }).demo, true);
    });

    it('is off as soon as one deployment setting is given, and the errors say how to get it back', () => {
      for (const [name, value] of Object.entries({
        BASE_URL: 'https://proxy.example.com',
        MCP_SERVER_URL: 'http://localhost:3000/mcp',
        MCP_SERVER_RUN_COMMAND: 'node',
        MCP_SERVER_RUN_ARGS_JSON: '[]',
        MCP_SERVER_RUN_DIR: tmp,
        MCP_SERVER_RUN_ENV_JSON: '{}',
        IDENTITY_SERVER_URL: 'https://idp.example.com',
        IDENTITY_CLIENT_ID: 'abc',
        IDENTITY_CLIENT_SECRET: 'secret',
        IDENTITY_SERVER_METADATA_FILE: join(tmp, 'missing.json'),
      })) {
        let error: unknown;
        try {
          loadConfig({ [name]: value });
        } catch (err) {
          error = err;
        }
        assert.ok(error instanceof ConfigError, `${name} alone was accepted`);
        assert.ok(error.problems.some((p) => p.includes('is required')), `${name}: ${error.message}`);
        // Exactly the settings that turn the demo off (MCP_SERVER_RUN_ENV_PASSTHROUGH, say, does not).
        assert.match(
          error.message,
          /\nSet the variables above \(see \.env-template\), or none of BASE_URL, MCP_SERVER_URL, MCP_SERVER_TRANSPORT, MCP_SERVER_RUN_COMMAND, MCP_SERVER_RUN_ARGS_JSON, MCP_SERVER_RUN_DIR, MCP_SERVER_RUN_ENV_JSON, IDENTITY_PROVIDERS, IDENTITY_PROVIDER, IDENTITY_LOCAL_USERS, IDENTITY_SERVER_URL, IDENTITY_CLIENT_ID, IDENTITY_CLIENT_SECRET, IDENTITY_SERVER_METADATA_FILE to run the local demo\.$/,
        );
      }
    });

    it('counts a .env file as configuration', () => {
      const file = join(tmp, 'demo-off.env');
      writeFileSync(file, 'BASE_URL=https://proxy.example.com\n');
      assert.throws(() => loadConfig(readEnvironment({}, file)), (err: unknown) => err instanceof ConfigError && err.problems.length === 3);
      assert.equal(loadConfig(readEnvironment({}, join(tmp, 'missing.env'))).demo, true);
    });

    it('never runs in production: nothing configured is refused, naming every missing variable', () => {
      let error: unknown;
      try {
        loadConfig({ NODE_ENV: 'production' });
      } catch (err) {
        error = err;
      }
      assert.ok(error instanceof ConfigError);
      assert.deepEqual(error.problems, [
        'BASE_URL: is required: the public https origin of this proxy',
        'MCP_SERVER_URL: is required: where the MCP server listens, e.g. http://localhost:3000/mcp',
        'IDENTITY_SERVER_URL: is required',
        'IDENTITY_CLIENT_ID: is required',
        'MCP_AUTH_PROXY_REDIS_URL: is required when NODE_ENV=production (the in-memory store is for local use only)',
        'OIDC_PROVIDER_JWKS: is required when NODE_ENV=production (a JSON array of private JWKs)',
      ]);
      assert.match(error.message, /\nNODE_ENV=production never runs the local demo: set the variables above \(see \.env-template\)\.$/);
    });

    it('adds no hint when nothing is missing', () => {
      assert.doesNotMatch(refused({ LOG_LEVEL: 'loud' }).join('\n'), /demo/);
      try {
        load({ LOG_LEVEL: 'loud' });
      } catch (err) {
        assert.doesNotMatch((err as Error).message, /demo/);
      }
    });
  });

  describe('production', () => {
    const JWKS = JSON.stringify([EC_KEY]);

    it('requires a Redis URL and signing keys', () => {
      assert.deepEqual(refused({ NODE_ENV: 'production' }), [
        'MCP_AUTH_PROXY_REDIS_URL: is required when NODE_ENV=production (the in-memory store is for local use only)',
        'OIDC_PROVIDER_JWKS: is required when NODE_ENV=production (a JSON array of private JWKs)',
      ]);
      assert.deepEqual(refused({ NODE_ENV: 'production', OIDC_PROVIDER_JWKS: JWKS }), [
        'MCP_AUTH_PROXY_REDIS_URL: is required when NODE_ENV=production (the in-memory store is for local use only)',
      ]);
      assert.deepEqual(refused({ NODE_ENV: 'production', MCP_AUTH_PROXY_REDIS_URL: 'redis://h:6379' }), [
        'OIDC_PROVIDER_JWKS: is required when NODE_ENV=production (a JSON array of private JWKs)',
      ]);
    });

    it('reports invalid signing keys once, not also as missing', () => {
      assert.deepEqual(refused({ NODE_ENV: 'production', MCP_AUTH_PROXY_REDIS_URL: 'redis://h:6379', OIDC_PROVIDER_JWKS: '[]' }), [
        'OIDC_PROVIDER_JWKS: must be a non-empty JSON array of private JWKs',
      ]);
    });

    it('accepts Redis and keys', () => {
      const config = load({ NODE_ENV: 'production', MCP_AUTH_PROXY_REDIS_URL: 'rediss://:pw@h.example.com:6380', OIDC_PROVIDER_JWKS: JWKS });
      assert.equal(config.production, true);
      assert.equal(config.redis.url, 'rediss://:pw@h.example.com:6380');
      assert.equal(config.provider.jwksGenerated, false);
      assert.deepEqual(config.provider.jwks, [EC_KEY]);
    });

    it('accepts the REDIS_URL alias; MCP_AUTH_PROXY_REDIS_URL wins when both are set', () => {
      assert.equal(load({ NODE_ENV: 'production', REDIS_URL: 'redis://alias:6379', OIDC_PROVIDER_JWKS: JWKS }).redis.url, 'redis://alias:6379');
      assert.equal(
        load({ REDIS_URL: 'redis://alias:6379', MCP_AUTH_PROXY_REDIS_URL: 'redis://main:6379' }).redis.url,
        'redis://main:6379',
      );
      // Messages about the connection name the variable the URL came from.
      assert.equal(load({ REDIS_URL: 'redis://alias:6379' }).redis.urlVariable, 'REDIS_URL');
      assert.equal(load({ REDIS_URL: 'redis://alias:6379', MCP_AUTH_PROXY_REDIS_URL: 'redis://main:6379' }).redis.urlVariable, 'MCP_AUTH_PROXY_REDIS_URL');
    });

    // BUG (src/config/index.ts, the production Redis check in loadConfig): unlike the
    // OIDC_PROVIDER_JWKS check right below it, it did not look for an existing problem, so an
    // invalid Redis URL in production was reported twice, the second time as "is required" although
    // it was set.
    it('reports an invalid Redis URL once in production, not also as missing', () => {
      const jwks = JSON.stringify([EC_KEY]);
      assert.deepEqual(refused({ NODE_ENV: 'production', OIDC_PROVIDER_JWKS: jwks, REDIS_URL: 'http://h:6379' }), [
        'REDIS_URL: must be a redis:// or rediss:// URL',
      ]);
      assert.deepEqual(refused({ NODE_ENV: 'production', OIDC_PROVIDER_JWKS: jwks, MCP_AUTH_PROXY_REDIS_URL: 'http://h:6379' }), [
        'MCP_AUTH_PROXY_REDIS_URL: must be a redis:// or rediss:// URL',
      ]);
    });

    it('refuses a non-redis URL, naming the variable that was set', () => {
      assert.deepEqual(refused({ REDIS_URL: 'http://h:6379' }), ['REDIS_URL: must be a redis:// or rediss:// URL']);
      assert.deepEqual(refused({ MCP_AUTH_PROXY_REDIS_URL: 'h:6379' }), ['MCP_AUTH_PROXY_REDIS_URL: must be a redis:// or rediss:// URL']);
    });
  });

  describe('MCP server child process', () => {
    it('refuses bad JSON and wrong shapes in MCP_SERVER_RUN_ARGS_JSON', () => {
      assert.deepEqual(refused({ MCP_SERVER_RUN_ARGS_JSON: '["a",' }), [
        `MCP_SERVER_RUN_ARGS_JSON: must be valid JSON (${jsonError('["a",')})`,
      ]);
      const shape = 'MCP_SERVER_RUN_ARGS_JSON: must be a JSON array of strings, e.g. ["--port", "3000"]';
      assert.deepEqual(refused({ MCP_SERVER_RUN_ARGS_JSON: '["--port", 3000]' }), [shape]);
      assert.deepEqual(refused({ MCP_SERVER_RUN_ARGS_JSON: '{"a":"b"}' }), [shape]);
      assert.deepEqual(refused({ MCP_SERVER_RUN_ARGS_JSON: '"--port"' }), [shape]);
    });

    it('refuses bad JSON and wrong shapes in MCP_SERVER_RUN_ENV_JSON', () => {
      assert.deepEqual(refused({ MCP_SERVER_RUN_ENV_JSON: '{a: 1}' }), [
        `MCP_SERVER_RUN_ENV_JSON: must be valid JSON (${jsonError('{a: 1}')})`,
      ]);
      const shape = 'MCP_SERVER_RUN_ENV_JSON: must be a JSON object of variables, e.g. {"PORT": 3000, "API_URL": "https://api.example.com"}';
      assert.deepEqual(refused({ MCP_SERVER_RUN_ENV_JSON: '["A=1"]' }), [shape]);
      assert.deepEqual(refused({ MCP_SERVER_RUN_ENV_JSON: 'null' }), [shape]);
      assert.deepEqual(refused({ MCP_SERVER_RUN_ENV_JSON: '"A=1"' }), [shape]);
      assert.deepEqual(refused({ MCP_SERVER_RUN_ENV_JSON: '{"A": "1", "B": null}' }), [
        'MCP_SERVER_RUN_ENV_JSON: "B" must be a string, number or boolean, not null',
      ]);
      assert.deepEqual(refused({ MCP_SERVER_RUN_ENV_JSON: '{"A": {"nested": true}}' }), [
        'MCP_SERVER_RUN_ENV_JSON: "A" must be a string, number or boolean, not an object',
      ]);
      assert.deepEqual(refused({ MCP_SERVER_RUN_ENV_JSON: '{"A": ["x"]}' }), ['MCP_SERVER_RUN_ENV_JSON: "A" must be a string, number or boolean, not an array']);
      assert.deepEqual(refused({ MCP_SERVER_RUN_ENV_JSON: '{"A=B": "x"}' }), ['MCP_SERVER_RUN_ENV_JSON: "A=B" cannot be an environment variable name']);
    });

    it("takes JSON numbers and booleans as their text, as Heroku's documents give them", () => {
      const child = load({
        MCP_SERVER_RUN_COMMAND: 'npm',
        MCP_SERVER_RUN_ENV_JSON: '{"PORT":3000,"BACKEND_API_URL":"https://mcp.example.com","DEBUG":true,"RATIO":0.5}',
      }).mcp.child!;
      assert.equal(child.env.PORT, '3000');
      assert.equal(child.env.BACKEND_API_URL, 'https://mcp.example.com');
      assert.equal(child.env.DEBUG, 'true');
      assert.equal(child.env.RATIO, '0.5');
    });

    it('builds the child: command, args, directory, timeout', () => {
      const child = load({
        MCP_SERVER_RUN_COMMAND: 'node',
        MCP_SERVER_RUN_ARGS_JSON: '["server.js", "--port", "3000"]',
        MCP_SERVER_RUN_DIR: tmp,
        MCP_SERVER_READY_TIMEOUT_MS: '5000',
      }).mcp.child;
      assert.ok(child);
      assert.equal(child.command, 'node');
      assert.deepEqual(child.args, ['server.js', '--port', '3000']);
      assert.equal(child.cwd, tmp);
      assert.equal(child.readyTimeoutMs, 5000);

      const defaults = load({ MCP_SERVER_RUN_COMMAND: 'node' }).mcp.child;
      assert.ok(defaults);
      assert.deepEqual(defaults.args, []);
      assert.equal(defaults.cwd, undefined);
      assert.equal(defaults.readyTimeoutMs, 30000);
      assert.equal(defaults.stopTimeoutMs, 4000);
      assert.deepEqual(defaults.restart, { policy: 'restart', initialDelayMs: 1000, maxDelayMs: 30_000, maxAttempts: 10 });
    });

    it('reads the restart policy, its backoff and the stop timeout', () => {
      const child = load({
        MCP_SERVER_RUN_COMMAND: 'node',
        MCP_SERVER_RESTART: ' EXIT ',
        MCP_SERVER_RESTART_DELAY_MS: '45000',
        MCP_SERVER_RESTART_MAX_ATTEMPTS: '3',
        MCP_SERVER_STOP_TIMEOUT_MS: '1500',
      }).mcp.child;
      assert.deepEqual(child?.restart, { policy: 'exit', initialDelayMs: 45_000, maxDelayMs: 45_000, maxAttempts: 3 });
      assert.equal(child?.stopTimeoutMs, 1500);
      assert.deepEqual(refused({ MCP_SERVER_RESTART: 'sometimes' }), ['MCP_SERVER_RESTART: must be one of restart, exit, got "sometimes"']);
      assert.deepEqual(refused({ MCP_SERVER_RESTART_MAX_ATTEMPTS: '0' }), ['MCP_SERVER_RESTART_MAX_ATTEMPTS: must be a positive whole number, got "0"']);
      assert.deepEqual(refused({ MCP_AUTH_PROXY_DRAIN_TIMEOUT_MS: '-1' }), ['MCP_AUTH_PROXY_DRAIN_TIMEOUT_MS: must be a positive whole number, got "-1"']);
      assert.equal(load({ MCP_AUTH_PROXY_DRAIN_TIMEOUT_MS: '0' }).drainTimeoutMs, 0);
    });

    it('passes the secrets named in MCP_SERVER_RUN_ENV_PASSTHROUGH, never the key material', () => {
      const secrets = {
        MCP_SERVER_RUN_COMMAND: 'node',
        REDIS_URL: 'rediss://:pw@kvs.example.com:6380',
        IDENTITY_CLIENT_SECRET: 'client-secret',
      };
      const env = load({ ...secrets, MCP_SERVER_RUN_ENV_PASSTHROUGH: 'REDIS_URL, NOT_SET' }).mcp.child!.env;
      assert.equal(env.REDIS_URL, 'rediss://:pw@kvs.example.com:6380');
      assert.equal('IDENTITY_CLIENT_SECRET' in env, false);
      assert.equal('NOT_SET' in env, false);
      assert.deepEqual(refused({ ...secrets, MCP_SERVER_RUN_ENV_PASSTHROUGH: 'REDIS_URL,OIDC_PROVIDER_JWKS,MCP_AUTH_PROXY_VAULT_KEYS' }), [
        "MCP_SERVER_RUN_ENV_PASSTHROUGH: OIDC_PROVIDER_JWKS, MCP_AUTH_PROXY_VAULT_KEYS are the proxy's own key material, never given to the MCP server",
      ]);
      assert.deepEqual(refused({ MCP_SERVER_RUN_ENV_PASSTHROUGH: 'REDIS-URL' }), [
        'MCP_SERVER_RUN_ENV_PASSTHROUGH: "REDIS-URL" is not an environment variable name',
      ]);
    });

    it('refuses a missing or non-directory MCP_SERVER_RUN_DIR', () => {
      const missing = join(tmp, 'no-such-dir');
      assert.deepEqual(refused({ MCP_SERVER_RUN_DIR: missing }), [`MCP_SERVER_RUN_DIR: "${missing}" does not exist`]);
      const file = join(tmp, 'a-file');
      writeFileSync(file, 'x');
      assert.deepEqual(refused({ MCP_SERVER_RUN_DIR: file }), [`MCP_SERVER_RUN_DIR: "${file}" is not a directory`]);
    });

    it("gives the child our environment minus the proxy's secrets, its own PORT, and MCP_SERVER_RUN_ENV_JSON", () => {
      const env = {
        ...BASE,
        NODE_ENV: 'production',
        PORT: '8443',
        HOME: '/home/app',
        FOO: 'inherited',
        EMPTY: '',
        MCP_SERVER_RUN_COMMAND: 'node',
        MCP_SERVER_RUN_ENV_JSON: '{"FOO": "from-json", "API_URL": "https://api.example.com"}',
        IDENTITY_CLIENT_SECRET: 'client-secret',
        OIDC_PROVIDER_JWKS: JSON.stringify([EC_KEY]),
        MCP_AUTH_PROXY_REDIS_URL: 'redis://main:6379',
        REDIS_URL: 'redis://alias:6379',
        MCP_AUTH_PROXY_VAULT_KEYS: randomBytes(32).toString('hex'),
        MCP_AUTH_PROXY_COOKIE_KEYS: 'c'.repeat(32),
      };
      const config = loadConfig(env);
      assert.equal(config.port, 8443);
      assert.deepEqual(config.mcp.child?.env, {
        ...BASE,
        NODE_ENV: 'production',
        PORT: '3000',
        HOME: '/home/app',
        FOO: 'from-json',
        EMPTY: '',
        API_URL: 'https://api.example.com',
        MCP_SERVER_RUN_COMMAND: 'node',
        MCP_SERVER_RUN_ENV_JSON: '{"FOO": "from-json", "API_URL": "https://api.example.com"}',
      });
      for (const secret of [
        'IDENTITY_CLIENT_SECRET',
        'OIDC_PROVIDER_JWKS',
        'MCP_AUTH_PROXY_REDIS_URL',
        'REDIS_URL',
        'MCP_AUTH_PROXY_VAULT_KEYS',
        'MCP_AUTH_PROXY_COOKIE_KEYS',
      ]) {
        assert.equal(secret in config.mcp.child!.env, false, `${secret} leaked into the child environment`);
      }
    });

    it('sets the child PORT from MCP_SERVER_URL (default ports too); MCP_SERVER_RUN_ENV_JSON can override it', () => {
      const port = (extra: Environment) => load({ MCP_SERVER_RUN_COMMAND: 'x', PORT: '9999', ...extra }).mcp.child?.env.PORT;
      assert.equal(port({}), '3000');
      assert.equal(port({ MCP_SERVER_URL: 'http://localhost/mcp' }), '80');
      assert.equal(port({ MCP_SERVER_URL: 'https://mcp.internal/mcp' }), '443');
      assert.equal(port({ MCP_SERVER_URL: 'https://mcp.internal:8443/mcp' }), '8443');
      assert.equal(port({ MCP_SERVER_RUN_ENV_JSON: '{"PORT": "4000"}' }), '4000');
    });
  });

  describe('OIDC_PROVIDER_JWKS', () => {
    const jwksProblems = (raw: string) => refused({ OIDC_PROVIDER_JWKS: raw });

    it('accepts private EC (P-256, P-384, P-521), Ed25519 and RSA keys', () => {
      const keys = [EC_KEY, privateJwk('ec', 'P-384'), privateJwk('ec', 'P-521'), privateJwk('ed25519'), privateJwk('rsa')];
      for (const key of keys) {
        const config = load({ OIDC_PROVIDER_JWKS: JSON.stringify([key]) });
        assert.deepEqual(config.provider.jwks, [key]);
        assert.equal(config.provider.jwksGenerated, false);
      }
      assert.deepEqual(load({ OIDC_PROVIDER_JWKS: JSON.stringify(keys) }).provider.jwks, keys);
    });

    it('accepts the {"keys": [...]} JWKS shape', () => {
      const config = load({ OIDC_PROVIDER_JWKS: JSON.stringify({ keys: [EC_KEY, EC_KEY_2] }) });
      assert.deepEqual(config.provider.jwks, [EC_KEY, EC_KEY_2]);
    });

    it('refuses public keys', () => {
      const { d: _d, ...publicEc } = EC_KEY;
      assert.deepEqual(jwksProblems(JSON.stringify([publicEc])), [
        'OIDC_PROVIDER_JWKS: key 1 is a public key; private keys (with "d") are required',
      ]);
      const { d: _e, ...publicEd } = privateJwk('ed25519');
      assert.deepEqual(jwksProblems(JSON.stringify([EC_KEY, publicEd])), [
        'OIDC_PROVIDER_JWKS: key 2 is a public key; private keys (with "d") are required',
      ]);
      // A public RSA key lacks "p" as well as "d", and is refused by the parameter check first.
      const publicRsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ format: 'jwk' });
      assert.deepEqual(jwksProblems(JSON.stringify([publicRsa])), [
        'OIDC_PROVIDER_JWKS: key 1 (RSA) has an unsupported curve or missing parameters',
      ]);
    });

    it('refuses unsupported key types and curves', () => {
      assert.deepEqual(jwksProblems(JSON.stringify([{ kty: 'oct', k: 'c2VjcmV0' }])), [
        'OIDC_PROVIDER_JWKS: key 1 has unsupported kty "oct" (use RSA, EC or OKP Ed25519)',
      ]);
      assert.deepEqual(jwksProblems(JSON.stringify([{ d: 'x' }])), [
        'OIDC_PROVIDER_JWKS: key 1 has unsupported kty "undefined" (use RSA, EC or OKP Ed25519)',
      ]);
      const secp256k1 = privateJwk('ec', 'secp256k1');
      assert.deepEqual(jwksProblems(JSON.stringify([secp256k1])), [
        'OIDC_PROVIDER_JWKS: key 1 (EC) has an unsupported curve or missing parameters',
      ]);
      const x25519 = generateKeyPairSync('x25519').privateKey.export({ format: 'jwk' });
      assert.deepEqual(jwksProblems(JSON.stringify([x25519])), [
        'OIDC_PROVIDER_JWKS: key 1 (OKP) has an unsupported curve or missing parameters',
      ]);
    });

    it('refuses garbage', () => {
      // Never V8's message, which quotes the secret text around the error.
      assert.deepEqual(jwksProblems('garbage'), ['OIDC_PROVIDER_JWKS: must be valid JSON (it is cut short or malformed)']);
      assert.deepEqual(jwksProblems('[{"kty":"EC","d":"c2VjcmV0" x}]'), [
        'OIDC_PROVIDER_JWKS: must be valid JSON (syntax error at offset 28)',
      ]);
      const empty = 'OIDC_PROVIDER_JWKS: must be a non-empty JSON array of private JWKs';
      for (const raw of ['[]', '{}', '{"keys": []}', '{"keys": "x"}', 'null', '42', '"key"']) {
        assert.deepEqual(jwksProblems(raw), [empty], raw);
      }
      assert.deepEqual(jwksProblems('[null]'), ['OIDC_PROVIDER_JWKS: key 1 is not a JSON object']);
      assert.deepEqual(jwksProblems(JSON.stringify([EC_KEY, 'key'])), ['OIDC_PROVIDER_JWKS: key 2 is not a JSON object']);
      const broken = jwksProblems(JSON.stringify([{ kty: 'EC', crv: 'P-256', x: 'AAAA', y: 'BBBB', d: 'CCCC' }]));
      assert.equal(broken.length, 1);
      assert.match(broken[0]!, /^OIDC_PROVIDER_JWKS: key 1 is not a valid private JWK \(.+\)$/);
    });

    // The private key itself is loaded, so broken private parameters fail at startup, not at the
    // first signature.
    it('refuses keys whose private part is broken', () => {
      const ed = privateJwk('ed25519');
      const { dp: _dp, ...rsaWithoutDp } = privateJwk('rsa');
      for (const key of [{ ...ed, d: 'AAAA' }, rsaWithoutDp]) {
        const problems = jwksProblems(JSON.stringify([key]));
        assert.equal(problems.length, 1, `accepted ${JSON.stringify(key).slice(0, 60)}...`);
        assert.match(problems[0]!, /^OIDC_PROVIDER_JWKS: key 1 has a private part that is broken or does not match its public parameters \(.+\)$/);
      }
    });

    it('refuses a key whose private part belongs to another key', () => {
      const mixed = { ...privateJwk('ec'), d: privateJwk('ec').d };
      // Node 20 loads the key and the signature fails to verify; Node 24 refuses to load it.
      const problems = jwksProblems(JSON.stringify([mixed]));
      assert.equal(problems.length, 1);
      assert.match(problems[0]!, /^OIDC_PROVIDER_JWKS: key 1 has a private part that is broken or does not match its public parameters( \(.+\))?$/);
    });

    it('derives cookie and vault keys deterministically from the JWKS', () => {
      const a1 = load({ OIDC_PROVIDER_JWKS: JSON.stringify([EC_KEY]) });
      const a2 = load({ OIDC_PROVIDER_JWKS: JSON.stringify({ keys: [EC_KEY] }) });
      const b = load({ OIDC_PROVIDER_JWKS: JSON.stringify([EC_KEY_2]) });
      assert.deepEqual(a1.provider.cookieKeys, a2.provider.cookieKeys);
      assert.deepEqual(a1.vaultKeys, a2.vaultKeys);
      assert.equal(a1.provider.cookieKeys.length, 1);
      assert.equal(a1.vaultKeys.length, 1);
      assert.equal(a1.vaultKeys[0]?.length, 32);
      assert.notEqual(a1.provider.cookieKeys[0], b.provider.cookieKeys[0]);
      assert.notDeepEqual(a1.vaultKeys[0], b.vaultKeys[0]);
      // Different purposes give different keys from the same JWK.
      assert.notEqual(a1.provider.cookieKeys[0], a1.vaultKeys[0]!.toString('base64url'));
      // One derived key per JWK, in order.
      const ab = load({ OIDC_PROVIDER_JWKS: JSON.stringify([EC_KEY, EC_KEY_2]) });
      assert.deepEqual(ab.provider.cookieKeys, [a1.provider.cookieKeys[0], b.provider.cookieKeys[0]]);
      assert.deepEqual(ab.vaultKeys, [a1.vaultKeys[0], b.vaultKeys[0]]);
    });
  });

  describe('MCP_AUTH_PROXY_VAULT_KEYS and MCP_AUTH_PROXY_COOKIE_KEYS', () => {
    it('accepts hex and base64 vault keys, in order', () => {
      const k1 = randomBytes(32);
      const k2 = randomBytes(32);
      const config = load({ MCP_AUTH_PROXY_VAULT_KEYS: `${k1.toString('hex')}, ${k2.toString('base64')}` });
      assert.deepEqual(config.vaultKeys, [k1, k2]);
      assert.deepEqual(load({ MCP_AUTH_PROXY_VAULT_KEYS: k1.toString('hex').toUpperCase() }).vaultKeys, [k1]);
    });

    it('refuses vault keys of the wrong length', () => {
      assert.deepEqual(refused({ MCP_AUTH_PROXY_VAULT_KEYS: randomBytes(16).toString('base64') }), [
        'MCP_AUTH_PROXY_VAULT_KEYS: key 1 must be 32 bytes, base64 or hex encoded',
      ]);
      assert.deepEqual(refused({ MCP_AUTH_PROXY_VAULT_KEYS: `${randomBytes(32).toString('hex')},${randomBytes(31).toString('hex')}` }), [
        'MCP_AUTH_PROXY_VAULT_KEYS: key 2 must be 32 bytes, base64 or hex encoded',
      ]);
      assert.deepEqual(refused({ MCP_AUTH_PROXY_VAULT_KEYS: randomBytes(33).toString('base64') }), [
        'MCP_AUTH_PROXY_VAULT_KEYS: key 1 must be 32 bytes, base64 or hex encoded',
      ]);
      assert.deepEqual(refused({ MCP_AUTH_PROXY_VAULT_KEYS: ' , ' }), ['MCP_AUTH_PROXY_VAULT_KEYS: must list at least one key']);
    });

    it('accepts cookie keys of 32+ characters and refuses shorter ones', () => {
      const a = 'a'.repeat(32);
      const b = 'b'.repeat(50);
      assert.deepEqual(load({ MCP_AUTH_PROXY_COOKIE_KEYS: `${a}, ${b}` }).provider.cookieKeys, [a, b]);
      assert.deepEqual(refused({ MCP_AUTH_PROXY_COOKIE_KEYS: `${a},${'c'.repeat(31)}` }), [
        'MCP_AUTH_PROXY_COOKIE_KEYS: every key must be at least 32 characters long',
      ]);
      assert.deepEqual(refused({ MCP_AUTH_PROXY_COOKIE_KEYS: ',' }), ['MCP_AUTH_PROXY_COOKIE_KEYS: must list at least one key']);
    });

    it('uses given keys instead of derived ones', () => {
      const vault = randomBytes(32);
      const config = load({
        OIDC_PROVIDER_JWKS: JSON.stringify([EC_KEY]),
        MCP_AUTH_PROXY_VAULT_KEYS: vault.toString('base64'),
        MCP_AUTH_PROXY_COOKIE_KEYS: 'k'.repeat(40),
      });
      assert.deepEqual(config.vaultKeys, [vault]);
      assert.deepEqual(config.provider.cookieKeys, ['k'.repeat(40)]);
    });
  });

  describe('scalar settings', () => {
    it('refuses an invalid LOG_LEVEL', () => {
      assert.deepEqual(refused({ LOG_LEVEL: 'verbose' }), [
        'LOG_LEVEL: must be one of fatal, error, warn, info, debug, trace, silent, got "verbose"',
      ]);
    });

    it('refuses an invalid PORT', () => {
      for (const raw of ['abc', '0', '-1', '3.5', '1e3']) {
        assert.deepEqual(refused({ PORT: raw }), [`PORT: must be a positive whole number, got "${raw}"`], raw);
      }
      assert.deepEqual(refused({ PORT: '65536' }), ['PORT: must be a port number (1-65535), got "65536"']);
      assert.equal(load({ PORT: '65535' }).port, 65535);
    });

    it('reads scope lists separated by spaces or commas, as Heroku documents them', () => {
      for (const raw of ['openid,offline_access', 'openid, offline_access', ' openid  offline_access ', 'openid,offline_access,openid']) {
        assert.deepEqual(load({ PROVIDER_SCOPE: raw }).provider.scopes, ['openid', 'offline_access'], raw);
      }
      assert.deepEqual(load({ IDENTITY_SCOPE: 'openid,profile, email' }).identity.scopes, ['openid', 'profile', 'email']);
      assert.equal(load({ IDENTITY_SCOPE: 'global' }).mcp.scopeHeader.identityScope, 'global');
    });

    it('refuses an invalid scope list and callback path', () => {
      assert.deepEqual(refused({ PROVIDER_SCOPE: 'openid "bad"' }), ['PROVIDER_SCOPE: contains an invalid scope token ""bad"" (remove the quotes around the value)']);
      assert.deepEqual(refused({ PROVIDER_SCOPE: 'openid mcp\\tools' }), ['PROVIDER_SCOPE: contains an invalid scope token "mcp\\tools"']);
      assert.deepEqual(refused({ IDENTITY_SCOPE: '   ' }), ['IDENTITY_SCOPE: must list at least one scope']);
      assert.deepEqual(refused({ IDENTITY_CALLBACK_PATH: 'callback' }), [
        'IDENTITY_CALLBACK_PATH: must be a URL path starting with "/", got "callback"',
      ]);
    });
  });

  describe('MCP_AUTH_PROXY_SCOPE_HEADER', () => {
    it("defaults to Heroku's meaning (the upstream token's scope); takes proxy and none; refuses others", () => {
      assert.equal(load().mcp.scopeHeader.source, 'upstream');
      assert.equal(load({ MCP_AUTH_PROXY_SCOPE_HEADER: 'Proxy' }).mcp.scopeHeader.source, 'proxy');
      assert.equal(load({ MCP_AUTH_PROXY_SCOPE_HEADER: 'none' }).mcp.scopeHeader.source, 'none');
      assert.deepEqual(refused({ MCP_AUTH_PROXY_SCOPE_HEADER: 'ours' }), ['MCP_AUTH_PROXY_SCOPE_HEADER: must be one of upstream, proxy, none, got "ours"']);
    });
  });

  describe('IDENTITY_PROVIDER=github', () => {
    const github = (extra: Environment = {}): Config => loadConfig({ BASE_URL: BASE.BASE_URL!, MCP_SERVER_URL: BASE.MCP_SERVER_URL!, IDENTITY_CLIENT_ID: 'Iv1.abc', IDENTITY_PROVIDER: 'github', ...extra });

    it('is github.com without IDENTITY_SERVER_URL: its OAuth endpoints, api.github.com, read:user and user:email', () => {
      const { identity } = github();
      assert.equal(identity.serverUrl.href, 'https://github.com/');
      assert.deepEqual(identity.provider, { kind: 'github', apiUrl: new URL('https://api.github.com') });
      assert.equal(identity.metadata?.authorization_endpoint, 'https://github.com/login/oauth/authorize');
      assert.equal(identity.metadata?.token_endpoint, 'https://github.com/login/oauth/access_token');
      assert.deepEqual(identity.scopes, ['read:user', 'user:email']);
    });

    it('is GitHub Enterprise Server at IDENTITY_SERVER_URL: OAuth below it, the API at /api/v3', () => {
      const { identity } = github({ IDENTITY_SERVER_URL: 'https://github.acme.internal/' });
      assert.deepEqual(identity.provider, { kind: 'github', apiUrl: new URL('https://github.acme.internal/api/v3') });
      assert.equal(identity.metadata?.token_endpoint, 'https://github.acme.internal/login/oauth/access_token');
    });

    it('asks for read:org when organisations are allowlisted; an explicit IDENTITY_SCOPE wins', () => {
      assert.deepEqual(github({ IDENTITY_ALLOWED_GITHUB_ORGS: 'Acme,acme/Platform' }).identity.scopes, ['read:user', 'user:email', 'read:org']);
      assert.deepEqual(github({ IDENTITY_ALLOWED_GITHUB_ORGS: 'Acme,acme/Platform' }).identity.access.githubOrgs, ['acme', 'acme/platform']);
      assert.deepEqual(github({ IDENTITY_SCOPE: 'read:user,user:email,repo' }).identity.scopes, ['read:user', 'user:email', 'repo']);
    });

    it('keeps oidc as the default, where IDENTITY_SERVER_URL is required and the GitHub allowlists are refused', () => {
      assert.deepEqual(load().identity.provider, { kind: 'oidc' });
      assert.deepEqual(load().identity.scopes, ['openid', 'profile', 'email', 'offline_access']);
      assert.deepEqual(refused({ IDENTITY_ALLOWED_GITHUB_USERS: 'octocat' }), ['IDENTITY_ALLOWED_GITHUB_USERS: applies only with IDENTITY_PROVIDER=github (it is oidc)']);
      assert.deepEqual(refused({ IDENTITY_PROVIDER: 'gitlab-ish' }), ['IDENTITY_PROVIDER: must be one of oidc, github, google, heroku, entra, okta, auth0, keycloak, gitlab, salesforce, local, got "gitlab-ish"']);
    });
  });

  describe('IDENTITY_PROVIDER=google', () => {
    const google = (extra: Environment = {}): Config => loadConfig({ BASE_URL: BASE.BASE_URL!, MCP_SERVER_URL: BASE.MCP_SERVER_URL!, IDENTITY_CLIENT_ID: 'x.apps.googleusercontent.com', IDENTITY_PROVIDER: 'google', ...extra });

    it('discovers accounts.google.com, asks for openid email profile with access_type=offline and prompt=consent', () => {
      const { identity } = google();
      assert.equal(identity.serverUrl.href, 'https://accounts.google.com/');
      assert.equal(identity.metadata, undefined, 'discovery');
      assert.deepEqual(identity.scopes, ['openid', 'email', 'profile']);
      assert.deepEqual(identity.authorizationParams, { access_type: 'offline', prompt: 'consent' });
      assert.deepEqual(load().identity.authorizationParams, {}, 'oidc adds nothing');
    });

    it('sends hd for one allowed Workspace domain, hd=* for several; the domains are refused with another provider', () => {
      assert.equal(google({ IDENTITY_ALLOWED_GOOGLE_DOMAINS: 'Example.com' }).identity.authorizationParams.hd, 'example.com');
      assert.equal(google({ IDENTITY_ALLOWED_GOOGLE_DOMAINS: 'a.example,b.example' }).identity.authorizationParams.hd, '*');
      assert.deepEqual(google({ IDENTITY_ALLOWED_GOOGLE_DOMAINS: 'a.example,b.example' }).identity.access.googleDomains, ['a.example', 'b.example']);
      assert.deepEqual(refused({ IDENTITY_ALLOWED_GOOGLE_DOMAINS: 'example.com' }), ['IDENTITY_ALLOWED_GOOGLE_DOMAINS: applies only with IDENTITY_PROVIDER=google (it is oidc)']);
    });
  });

  describe('IDENTITY_PROVIDER=heroku', () => {
    const heroku = (extra: Environment = {}): Config => loadConfig({ BASE_URL: BASE.BASE_URL!, MCP_SERVER_URL: BASE.MCP_SERVER_URL!, IDENTITY_CLIENT_ID: 'abc', IDENTITY_PROVIDER: 'heroku', ...extra });

    it("is Heroku Identity's production host with its built-in metadata, the global scope and the Platform API", () => {
      const { identity, mcp, branding, warnings } = heroku();
      assert.equal(identity.serverUrl.href, 'https://id.heroku.com/');
      assert.equal(identity.metadata?.token_endpoint, 'https://id.heroku.com/oauth/token');
      assert.deepEqual(identity.scopes, ['global']);
      assert.deepEqual(identity.provider, { kind: 'heroku', apiUrl: new URL('https://api.heroku.com') });
      assert.equal(mcp.scopeHeader.identityScope, 'global', 'X-Authorization-Scope falls back to the scope asked for, not the setting\'s default');
      assert.equal(branding.heroku, true);
      assert.deepEqual(warnings, [], 'the preset\'s scope is one its metadata lists');
    });

    it('is staging at its host, and keeps an explicit metadata file and scope', () => {
      const staging = heroku({ IDENTITY_SERVER_URL: 'https://identity.staging.herokudev.com' });
      assert.equal(staging.identity.metadata?.authorization_endpoint, 'https://identity.staging.herokudev.com/oauth/authorize');
      assert.deepEqual(staging.identity.provider, { kind: 'heroku', apiUrl: new URL('https://api.staging.herokudev.com') });
      assert.deepEqual(heroku({ IDENTITY_SCOPE: 'global,identity' }).identity.scopes, ['global', 'identity']);
    });
  });

  describe('the other presets', () => {
    const preset = (provider: string, extra: Environment = {}): Config =>
      loadConfig({ BASE_URL: BASE.BASE_URL!, MCP_SERVER_URL: BASE.MCP_SERVER_URL!, IDENTITY_CLIENT_ID: 'abc', IDENTITY_PROVIDER: provider, ...extra });

    it('gitlab and salesforce have a default host and their own refresh scopes; okta, auth0, keycloak and entra need their URL', () => {
      assert.equal(preset('gitlab').identity.serverUrl.href, 'https://gitlab.com/');
      assert.deepEqual(preset('gitlab').identity.scopes, ['openid', 'profile', 'email']);
      assert.equal(preset('salesforce').identity.serverUrl.href, 'https://login.salesforce.com/');
      assert.deepEqual(preset('salesforce').identity.scopes, ['openid', 'profile', 'email', 'refresh_token', 'api']);
      assert.equal(preset('salesforce', { IDENTITY_SERVER_URL: 'https://test.salesforce.com' }).identity.serverUrl.href, 'https://test.salesforce.com/');
      for (const provider of ['okta', 'auth0', 'keycloak', 'entra']) {
        const problems = problemsOf({ BASE_URL: BASE.BASE_URL!, MCP_SERVER_URL: BASE.MCP_SERVER_URL!, IDENTITY_CLIENT_ID: 'abc', IDENTITY_PROVIDER: provider });
        assert.deepEqual(problems, ['IDENTITY_SERVER_URL: is required'], provider);
        assert.deepEqual(preset(provider, { IDENTITY_SERVER_URL: 'https://idp.example.com' }).identity.scopes, ['openid', 'profile', 'email', 'offline_access']);
      }
    });

    it('sends IDENTITY_AUDIENCE as audience, with any provider', () => {
      assert.deepEqual(preset('auth0', { IDENTITY_SERVER_URL: 'https://acme.us.auth0.com/', IDENTITY_AUDIENCE: 'https://api.acme.test' }).identity.authorizationParams, {
        audience: 'https://api.acme.test',
      });
    });

    it('entra: a multi-tenant URL needs the allowed tenants (any Microsoft tenant could sign in); a tenant URL does not', () => {
      const common = { IDENTITY_SERVER_URL: 'https://login.microsoftonline.com/common/v2.0' };
      assert.equal(problemsOf({ ...BASE, IDENTITY_PROVIDER: 'entra', ...common }).length, 1);
      assert.match(problemsOf({ ...BASE, IDENTITY_PROVIDER: 'entra', ...common })[0]!, /^IDENTITY_ALLOWED_ENTRA_TENANTS: is required with the multi-tenant/);
      const tenants = preset('entra', { ...common, IDENTITY_ALLOWED_ENTRA_TENANTS: 'AAAA-1,bbbb-2' });
      assert.deepEqual(tenants.identity.access.entraTenants, ['aaaa-1', 'bbbb-2']);
      assert.deepEqual(preset('entra', { IDENTITY_SERVER_URL: 'https://login.microsoftonline.com/aaaa-1/v2.0' }).identity.access.entraTenants, []);
      assert.deepEqual(refused({ IDENTITY_ALLOWED_ENTRA_TENANTS: 'x' }), ['IDENTITY_ALLOWED_ENTRA_TENANTS: applies only with IDENTITY_PROVIDER=entra (it is oidc)']);
    });
  });

  describe('IDENTITY_PROVIDERS', () => {
    const SHARED = { BASE_URL: BASE.BASE_URL!, MCP_SERVER_URL: BASE.MCP_SERVER_URL! };
    const TWO = {
      ...SHARED,
      IDENTITY_PROVIDERS: 'github, Corp-SSO',
      IDENTITY_GITHUB_CLIENT_ID: 'Iv1.abc',
      IDENTITY_GITHUB_ALLOWED_GITHUB_ORGS: 'acme',
      IDENTITY_CORP_SSO_SERVER_URL: 'https://sso.example.com',
      IDENTITY_CORP_SSO_CLIENT_ID: 'corp',
      IDENTITY_CORP_SSO_CLIENT_SECRET: 'corp-secret',
      IDENTITY_CORP_SSO_TITLE: 'Acme SSO',
    };

    it('reads each block from its IDENTITY_<NAME>_* variables; a block named like a preset is that provider', () => {
      const config = loadConfig(TWO);
      assert.deepEqual(
        config.identities.map((i) => [i.name, i.title, i.providerName, i.serverUrl.href, i.clientId]),
        [
          ['github', 'GitHub', 'github', 'https://github.com/', 'Iv1.abc'],
          ['corp-sso', 'Acme SSO', 'oidc', 'https://sso.example.com/', 'corp'],
        ],
      );
      assert.deepEqual(config.identities[0]!.scopes, ['read:user', 'user:email', 'read:org']);
      assert.deepEqual(config.identities[0]!.access.githubOrgs, ['acme']);
      assert.equal(config.identities[1]!.clientSecret, 'corp-secret');
      assert.equal(config.identity, config.identities[0], 'the first block is the default');
      assert.equal(config.linkVerifiedEmails, false);
      assert.equal(load().identities.length, 1, 'one provider without IDENTITY_PROVIDERS');
    });

    it("names each block's problems by its own variables, the shared ones once", () => {
      const problems = problemsOf({ ...TWO, IDENTITY_CORP_SSO_SERVER_URL: 'not a url', IDENTITY_GITHUB_ALLOWED_GOOGLE_DOMAINS: 'x.example', MCP_SERVER_URL: '' });
      assert.deepEqual(problems.sort(), [
        'IDENTITY_CORP_SSO_SERVER_URL: must be an absolute URL, got "not a url"',
        'IDENTITY_GITHUB_ALLOWED_GOOGLE_DOMAINS: applies only with IDENTITY_GITHUB_PROVIDER=google (it is github)',
        'MCP_SERVER_URL: is required: where the MCP server listens, e.g. http://localhost:3000/mcp',
      ]);
      assert.deepEqual(problemsOf({ ...SHARED, IDENTITY_PROVIDERS: 'github' }), [
        'IDENTITY_PROVIDERS: names at least two providers (one provider is configured with the IDENTITY_* settings)',
      ]);
      assert.match(problemsOf({ ...TWO, IDENTITY_PROVIDERS: 'a,b', IDENTITY_A_PROVIDER: 'local', IDENTITY_B_PROVIDER: 'local', IDENTITY_A_LOCAL_USERS: 'x:$2b$04$Ez9dLO6ePH6b/I2SkC8J1elMVC.QhGu2RIxnB6TKACjhyjXelAB4a', IDENTITY_B_LOCAL_USERS: 'y:$2b$04$Ez9dLO6ePH6b/I2SkC8J1elMVC.QhGu2RIxnB6TKACjhyjXelAB4a' })[0]!, /a and b are both local/);
    });

    it("never gives a block's secrets to the MCP server child", () => {
      // A local block's accounts are secret too (here a leftover the oidc block does not use is refused, so: another block).
      const config = loadConfig({ ...TWO, MCP_SERVER_RUN_COMMAND: 'node', IDENTITY_OLD_LOCAL_USERS: 'kept-out' });
      const childEnv = config.mcp.child!.env;
      assert.equal(childEnv.IDENTITY_CORP_SSO_CLIENT_SECRET, undefined);
      assert.equal(childEnv.IDENTITY_OLD_LOCAL_USERS, undefined);
      assert.equal(childEnv.IDENTITY_CORP_SSO_CLIENT_ID, 'corp', 'ids are not secrets');
    });
  });

  describe('IDENTITY_LOCAL_USERS', () => {
    const ARGON = '$argon2id$v=19$m=65536,p=4,t=3$A7Y9mZx1GCTrnXTctCR7tA$2ApJFXBvq84D2JdCskI1pchU+cwwTBpqObVxDSspMPo';
    const BCRYPT = '$2b$04$Ez9dLO6ePH6b/I2SkC8J1elMVC.QhGu2RIxnB6TKACjhyjXelAB4a';
    const TOTP_SECRET = 'HS5YJJY7UZKTFH22UAEP64356R7FMCMI';

    it("reads inline entries (an argon2 hash's own commas included), bcrypt, and a TOTP secret", () => {
      assert.deepEqual(parse.localUsers(`alice@example.com:${ARGON},bob:${BCRYPT}, carol:${ARGON}:${TOTP_SECRET}`), [
        { name: 'alice@example.com', hash: ARGON },
        { name: 'bob', hash: BCRYPT },
        { name: 'carol', hash: ARGON, totp: TOTP_SECRET },
      ]);
    });

    it('reads a file: one entry per line, blank lines and # comments', () => {
      const dir = mkdtempSync(join(tmpdir(), 'users-'));
      try {
        writeFileSync(join(dir, 'users.txt'), `# the team\nalice:${ARGON}\n\nbob:${BCRYPT}\r\n`);
        assert.deepEqual(parse.localUsers(join(dir, 'users.txt')).map((u) => u.name), ['alice', 'bob']);
        assert.throws(() => parse.localUsers(join(dir, 'missing.txt')), /cannot read/);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('refuses plain passwords, unknown hashes, bad TOTP secrets, names twice and an empty list, never quoting a hash', () => {
      for (const [value, message] of [
        ['alice:hunter2', 'the hash of alice is not an argon2id or bcrypt hash'],
        ['alice:$argon2i$v=19$m=4096,t=3,p=1$c2FsdA$aGFzaA', 'the hash of alice is not an argon2id or bcrypt hash'],
        [`alice:${ARGON}:not-base32!`, 'the third field of alice is not a base32 TOTP secret'],
        [`alice:${ARGON},ALICE:${BCRYPT}`, 'ALICE is given twice'],
        [`:${ARGON}`, 'entry 1 does not start with a user name and a colon'],
        [' , ', 'entry 1 does not start with a user name and a colon'],
      ]) {
        assert.throws(() => parse.localUsers(value!), (err: Error) => err.message.includes(message!) && !err.message.includes('$argon2'), value);
      }
      const problems = refused({ IDENTITY_PROVIDER: 'local', IDENTITY_LOCAL_USERS: 'alice:hunter2' });
      assert.ok(problems.every((p) => !p.includes('hunter2')), 'a secret setting never echoes its value');
    });
  });

  describe('MCP_SERVER_CREDENTIALS', () => {
    it("defaults to the user's upstream token, with no extra headers", () => {
      assert.deepEqual(load().mcp.credentials, { mode: 'user', headers: {} });
    });

    it("takes sigbit's PROXY_BEARER_TOKEN and PROXY_HEADERS as written in its README (Header1:Value1,Header2:Value2)", () => {
      const config = load({ MCP_SERVER_CREDENTIALS: 'static', PROXY_BEARER_TOKEN: 'sk-live.abc_123', PROXY_HEADERS: 'X-Api-Key:abc, X-Tenant: acme' });
      assert.deepEqual(config.mcp.credentials, { mode: 'static', bearerToken: 'sk-live.abc_123', headers: { 'x-api-key': 'abc', 'x-tenant': 'acme' } });
    });

    it('takes a JSON object of headers, values with colons, and headers alone as static credentials', () => {
      const config = load({ MCP_SERVER_CREDENTIALS: 'static', MCP_SERVER_HEADERS: '{"X-Api-Key":"a:b"}' });
      assert.deepEqual(config.mcp.credentials, { mode: 'static', bearerToken: undefined, headers: { 'x-api-key': 'a:b' } });
      assert.deepEqual(load({ MCP_SERVER_HEADERS: 'X-Trace:a:b' }).mcp.credentials, { mode: 'user', headers: { 'x-trace': 'a:b' } });
    });

    it('refuses static without a credential, and a token that would not be sent, naming the variable set', () => {
      assert.deepEqual(refused({ MCP_SERVER_CREDENTIALS: 'static' }), [
        "MCP_SERVER_CREDENTIALS: static needs MCP_SERVER_BEARER_TOKEN (or the MCP server's own credential header in MCP_SERVER_HEADERS)",
      ]);
      assert.deepEqual(refused({ PROXY_BEARER_TOKEN: 'abc' }), [
        "PROXY_BEARER_TOKEN: is sent only with MCP_SERVER_CREDENTIALS=static (it is user, so the MCP server would get the user's upstream token instead); set MCP_SERVER_CREDENTIALS=static or unset PROXY_BEARER_TOKEN",
      ]);
      assert.equal(refused({ MCP_SERVER_CREDENTIALS: 'none', MCP_SERVER_BEARER_TOKEN: 'abc' }).length, 1);
      assert.deepEqual(refused({ MCP_SERVER_CREDENTIALS: 'mine' }), ['MCP_SERVER_CREDENTIALS: must be one of user, static, none, got "mine"']);
    });

    it('refuses headers the proxy owns, malformed pairs and values, and the identity headers', () => {
      for (const [value, message] of [
        ['Authorization:Bearer x', 'Authorization is set by the proxy itself and cannot be configured'],
        ['Mcp-Session-Id:1', 'Mcp-Session-Id is set by the proxy itself and cannot be configured'],
        ['X-Forwarded-For:1.2.3.4', 'X-Forwarded-For is set by the proxy itself and cannot be configured'],
        ['X-Api-Key', 'entry 1 is not Name:value'],
        ['Bad Name:x', '"Bad Name" is not a valid header name'],
        ['X-A:1,x-a:2', 'x-a is given twice'],
        ['{"X-A":1}', 'the value of X-A must be printable text on one line'],
        ['{"X-A":"a\\nb"}', 'the value of X-A must be printable text on one line'],
        ['[1]', 'entry 1 is not Name:value'],
        ['{oops', 'is not valid JSON'],
      ]) {
        const problems = refused({ MCP_SERVER_HEADERS: value! });
        assert.equal(problems.length, 1, value);
        assert.ok(problems[0]!.includes(message!), `${value}: ${problems[0]}`);
        assert.ok(!problems[0]!.includes('Bearer x'), 'a secret setting never echoes its value');
      }
      assert.deepEqual(refused({ MCP_SERVER_HEADERS: 'X-MCP-User-Id:someone' }), [
        'MCP_SERVER_HEADERS: x-mcp-user-id is the identity header of MCP_AUTH_PROXY_USER_ID_HEADER; the proxy sets it',
      ]);
    });
  });

  describe('OIDC_PROVIDER_VIEWS_PATH', () => {
    it('refuses a relative path', () => {
      assert.deepEqual(refused({ OIDC_PROVIDER_VIEWS_PATH: 'views' }), ['OIDC_PROVIDER_VIEWS_PATH: must be an absolute path, got "views"']);
    });

    it('refuses a missing directory and one without the views', () => {
      const missing = join(tmp, 'no-views');
      assert.deepEqual(refused({ OIDC_PROVIDER_VIEWS_PATH: missing }), [`OIDC_PROVIDER_VIEWS_PATH: "${missing}" does not exist`]);
      const partial = join(tmp, 'partial-views');
      mkdirSync(partial);
      assert.deepEqual(refused({ OIDC_PROVIDER_VIEWS_PATH: partial }), [`OIDC_PROVIDER_VIEWS_PATH: "${partial}" has no confirm-login.ejs`]);
      writeFileSync(join(partial, 'confirm-login.ejs'), '<p>confirm</p>');
      assert.deepEqual(refused({ OIDC_PROVIDER_VIEWS_PATH: partial }), [`OIDC_PROVIDER_VIEWS_PATH: "${partial}" has no _layout.ejs`]);
    });

    it('accepts a directory with both views', () => {
      const views = join(tmp, 'views');
      mkdirSync(views);
      writeFileSync(join(views, 'confirm-login.ejs'), '<form method="post" action="/interaction/<%= uid %>/confirm-login"></form>');
      writeFileSync(join(views, '_layout.ejs'), '<%- body %>');
      assert.equal(load({ OIDC_PROVIDER_VIEWS_PATH: views }).provider.viewsPath, views);
    });
  });

  describe('IDENTITY_SERVER_METADATA_FILE', () => {
    const metadata = {
      issuer: 'https://id.heroku.com',
      authorization_endpoint: 'https://id.heroku.com/oauth/authorize',
      token_endpoint: 'https://id.heroku.com/oauth/token',
      scopes_supported: ['global'],
    };

    it('refuses a missing file', () => {
      const missing = join(tmp, 'no-metadata.json');
      assert.deepEqual(refused({ IDENTITY_SERVER_METADATA_FILE: missing }), [`IDENTITY_SERVER_METADATA_FILE: cannot read "${missing}"`]);
    });

    it('refuses a file without an absolute token_endpoint, or not JSON', () => {
      const { token_endpoint: _t, ...noToken } = metadata;
      const file = join(tmp, 'no-token.json');
      writeFileSync(file, JSON.stringify(noToken));
      const message = `IDENTITY_SERVER_METADATA_FILE: "${file}" must have an absolute http(s) URL in "token_endpoint"`;
      assert.deepEqual(refused({ IDENTITY_SERVER_METADATA_FILE: file }), [message]);
      writeFileSync(file, JSON.stringify({ ...metadata, token_endpoint: '/oauth/token' }));
      assert.deepEqual(refused({ IDENTITY_SERVER_METADATA_FILE: file }), [message]);

      const notJson = join(tmp, 'not-json.json');
      writeFileSync(notJson, 'issuer=x');
      assert.deepEqual(refused({ IDENTITY_SERVER_METADATA_FILE: notJson }), [
        `IDENTITY_SERVER_METADATA_FILE: must be valid JSON (${jsonError('issuer=x')})`,
      ]);
      const notObject = join(tmp, 'not-object.json');
      writeFileSync(notObject, 'null');
      assert.deepEqual(refused({ IDENTITY_SERVER_METADATA_FILE: notObject }), ['IDENTITY_SERVER_METADATA_FILE: must contain a JSON object']);
    });

    it('accepts a valid file', () => {
      const file = join(tmp, 'metadata.json');
      writeFileSync(file, JSON.stringify(metadata));
      assert.deepEqual(load({ IDENTITY_SERVER_METADATA_FILE: file }).identity.metadata, metadata);
    });

    it("reads Heroku's documented files, whose scopes_supported is a bare string", () => {
      const file = join(tmp, 'heroku_identity_staging_metadata.json');
      writeFileSync(
        file,
        '{"issuer": "https://identity.staging.herokudev.com/", "authorization_endpoint": "https://identity.staging.herokudev.com/oauth/authorize", "token_endpoint": "https://identity.staging.herokudev.com/oauth/token", "scopes_supported": "global"}',
      );
      const config = load({ IDENTITY_SERVER_URL: 'https://identity.staging.herokudev.com', IDENTITY_SERVER_METADATA_FILE: file, IDENTITY_SCOPE: 'global' });
      assert.deepEqual(config.identity.metadata?.scopes_supported, ['global']);
      assert.deepEqual(config.warnings, []);
      const bad = join(tmp, 'bad-scopes.json');
      writeFileSync(bad, JSON.stringify({ ...metadata, scopes_supported: { global: true } }));
      assert.deepEqual(refused({ IDENTITY_SERVER_METADATA_FILE: bad }), [`IDENTITY_SERVER_METADATA_FILE: "${bad}": "scopes_supported" must be a list of scopes`]);
    });

    it('warns about IDENTITY_SCOPE scopes the file does not list', () => {
      const file = join(tmp, 'listed.json');
      writeFileSync(file, JSON.stringify(metadata));
      assert.deepEqual(load({ IDENTITY_SERVER_METADATA_FILE: file, IDENTITY_SCOPE: 'global,openid offline_access' }).warnings, [
        'IDENTITY_SCOPE: the identity provider does not list openid, offline_access in its scopes_supported; it may refuse the sign-in (invalid_scope)',
      ]);
      const { scopes_supported: _s, ...unlisted } = metadata;
      writeFileSync(file, JSON.stringify(unlisted));
      assert.deepEqual(load({ IDENTITY_SERVER_METADATA_FILE: file, IDENTITY_SCOPE: 'anything' }).warnings, [], 'a file without scopes_supported says nothing');
    });
  });

  describe('branding', () => {
    const HEROKU = { title: 'Login for Model Context Protocol | Heroku', favicon: 'https://www.herokucdn.com/favicon.ico', heroku: true };
    it("brands as Heroku's proxy for Heroku Identity, production (heroku.com) and staging (herokudev.com)", () => {
      for (const url of ['https://id.heroku.com', 'https://heroku.com', 'https://a.b.heroku.com/oauth', 'https://identity.staging.herokudev.com', 'https://ID.HEROKU.COM']) {
        assert.deepEqual(load({ IDENTITY_SERVER_URL: url }).branding, HEROKU, url);
      }
      for (const url of ['https://notheroku.com', 'https://id.heroku.com.evil.example', 'https://herokuapp.com', 'https://herokudev.com.evil.example']) {
        assert.deepEqual(load({ IDENTITY_SERVER_URL: url }).branding, { title: 'Login for Model Context Protocol', favicon: undefined, heroku: false }, url);
      }
    });

    it("adds ` | Heroku` to BRANDING_TITLE for Heroku Identity as Heroku's proxy does; BRANDING_FAVICON always wins", () => {
      assert.deepEqual(load({ IDENTITY_SERVER_URL: 'https://id.heroku.com', BRANDING_TITLE: 'Mine' }).branding, { ...HEROKU, title: 'Mine | Heroku' });
      assert.deepEqual(load({ IDENTITY_SERVER_URL: 'https://id.heroku.com', BRANDING_FAVICON: 'https://example.com/custom-favicon.ico' }).branding, {
        ...HEROKU,
        favicon: 'https://example.com/custom-favicon.ico',
      });
    });
  });

  describe('readEnvironment', () => {
    it('reads a .env file; real variables win', () => {
      const file = join(tmp, 'test.env');
      writeFileSync(file, 'FROM_FILE=file-value\nBOTH=file\n# comment\nQUOTED="a b"\n');
      assert.deepEqual(readEnvironment({ BOTH: 'real', ONLY_REAL: 'r' }, file), {
        FROM_FILE: 'file-value',
        BOTH: 'real',
        QUOTED: 'a b',
        ONLY_REAL: 'r',
      });
    });

    it('feeds loadConfig', () => {
      const file = join(tmp, 'config.env');
      writeFileSync(file, `${Object.entries(BASE).map(([k, v]) => `${k}=${v}`).join('\n')}\nPORT=4000\n`);
      const config = loadConfig(readEnvironment({ PORT: '5000', IDENTITY_CLIENT_ID: 'real-id' }, file));
      assert.equal(config.port, 5000);
      assert.equal(config.identity.clientId, 'real-id');
      assert.equal(config.baseUrl, 'https://proxy.example.com');
    });

    it('is fine without the file', () => {
      assert.deepEqual(readEnvironment({ A: '1' }, join(tmp, 'missing.env')), { A: '1' });
    });

    it('reports other read errors', () => {
      assert.throws(() => readEnvironment({}, tmp), { code: 'EISDIR' });
    });
  });

  describe('parsers', () => {
    it('bool', () => {
      for (const raw of ['true', 'TRUE', ' 1 ', 'yes']) assert.equal(parse.bool(raw), true, raw);
      for (const raw of ['false', '0', 'No', '']) assert.equal(parse.bool(raw), false, raw);
      assert.throws(() => parse.bool('on'), { message: 'must be true or false, got "on"' });
    });

    it('positiveInt and port', () => {
      assert.equal(parse.positiveInt(' 42 '), 42);
      assert.throws(() => parse.positiveInt(String(Number.MAX_SAFE_INTEGER + 2)), {
        message: `must be a positive whole number, got "${Number.MAX_SAFE_INTEGER + 2}"`,
      });
      assert.equal(parse.port('1'), 1);
      assert.throws(() => parse.port('0'), { message: 'must be a positive whole number, got "0"' });
    });

    it('origin strips trailing slashes', () => {
      assert.equal(parse.origin('https://a.example.com//').href, 'https://a.example.com/');
    });

    it('redisUrl', () => {
      assert.equal(parse.redisUrl(' redis://h:1 ').href, 'redis://h:1');
      assert.throws(() => parse.redisUrl('https://h'), { message: 'must be a redis:// or rediss:// URL' });
    });

    it('pemCertificates: PEM text or a file of it, every certificate valid', async () => {
      const { pem, certFile } = await selfSignedCertificate(tmp, 'ca');
      assert.equal(parse.pemCertificates(pem), pem.trim());
      assert.equal(parse.pemCertificates(` ${certFile} `), pem.trim());
      assert.equal(parse.pemCertificates(`${pem}\n${pem}`), `${pem.trim()}\n${pem.trim()}`);
      assert.throws(() => parse.pemCertificates(join(tmp, 'missing.pem')), /must be PEM certificates or the path of a readable PEM file/);
      assert.throws(() => parse.pemCertificates('-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----'), {
        message: 'holds no PEM certificate (-----BEGIN CERTIFICATE-----)',
      });
      const broken = pem.replace(/\n[A-Za-z0-9+/]{20}/, '\n' + 'A'.repeat(20));
      assert.throws(() => parse.pemCertificates(broken), /^Error: certificate 1 is not valid/);
      const config = load({ MCP_AUTH_PROXY_REDIS_URL: 'rediss://kvs.example.com:6380', MCP_AUTH_PROXY_REDIS_TLS_CA: certFile });
      assert.equal(config.redis.tlsCa, pem.trim());
      assert.deepEqual(refused({ MCP_AUTH_PROXY_REDIS_TLS_CA: 'no-such.pem' }), [
        'MCP_AUTH_PROXY_REDIS_TLS_CA: must be PEM certificates or the path of a readable PEM file, got "no-such.pem"',
      ]);
    });

    it('urlPath', () => {
      assert.equal(parse.urlPath('/a/b-c_d.e~f'), '/a/b-c_d.e~f');
      assert.throws(() => parse.urlPath('/a b'), { message: 'must be a URL path starting with "/", got "/a b"' });
    });

    it('scopeList deduplicates and keeps order', () => {
      assert.deepEqual(parse.scopeList(' b a\tb\nc '), ['b', 'a', 'c']);
      assert.throws(() => parse.scopeList('a\\b'), { message: 'contains an invalid scope token "a\\b"' });
    });

    it('privateJwks returns the keys as given', () => {
      assert.deepEqual(parse.privateJwks(JSON.stringify([EC_KEY])), [EC_KEY]);
    });
  });
});
