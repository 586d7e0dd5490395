// The configuration: read once from the environment (and a .env file when present), validated
// as a whole, and handed to every other module. No other module reads process.env.
import { generateKeyPairSync, hkdfSync, type JsonWebKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseEnv } from 'node:util';
import { SETTINGS, type Setting, type SettingName, type SettingValues } from './settings.js';
import { port as parsePort } from './parsers.js';
import type { Config, Environment, TelemetryConfig } from './types.js';
import { demoEnvironment } from '../demo/defaults.js';
import { isLoopbackHost } from '../http/loopback.js';
import { checkViewOverrides } from '../pages/view-check.js';
import { unlistedScopes, unlistedScopesWarning } from '../identity/upstream.js';

export { SETTINGS } from './settings.js';

export type { ChildProcessConfig, Config, Environment, TelemetryConfig } from './types.js';

export class ConfigError extends Error {
  /** `hint`: one more line after the problems, e.g. how to run the demo instead. */
  constructor(
    readonly problems: string[],
    hint?: string,
  ) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}${hint ? `\n${hint}` : ''}`);
    this.name = 'ConfigError';
  }
}

/** The settings that say where things are; with none of them set (outside production), the demo runs. */
export const DEPLOYMENT_SETTINGS = (Object.keys(SETTINGS) as SettingName[]).filter((name) => 'deployment' in SETTINGS[name]);

// Our own routes and oidc-provider's: the metrics path must not shadow any of them.
const RESERVED_PATHS = ['/.well-known', '/interaction', '/auth', '/token', '/reg', '/device', '/session', '/jwks', '/me', '/request', '/backchannel'];

// Variables the MCP server child never inherits: the proxy's own secrets (with their aliases),
// unless MCP_SERVER_RUN_ENV_PASSTHROUGH names them. Our key material is never passed.
const CHILD_ENV_DENYLIST = new Set<string>(
  (Object.keys(SETTINGS) as SettingName[])
    .filter((name) => SETTINGS[name].secret)
    .flatMap((name) => {
      const spec: Setting<unknown> = SETTINGS[name];
      return [name, ...(spec.aliases ?? [])];
    }),
);
const NEVER_PASSED = new Set<string>(['OIDC_PROVIDER_JWKS', 'MCP_AUTH_PROXY_COOKIE_KEYS', 'MCP_AUTH_PROXY_VAULT_KEYS']);

/** The variables of a `.env` file; none when it does not exist. */
export function readEnvFile(envFile = '.env'): Record<string, string> {
  try {
    return parseEnv(readFileSync(envFile, 'utf8')) as Record<string, string>;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    return {};
  }
}

/** The environment plus a `.env` file in the working directory; real variables win. */
export function readEnvironment(env: Environment, envFile = '.env'): Environment {
  return { ...readEnvFile(envFile), ...env };
}

/** The variable each set value was read from (an alias such as REDIS_URL, or the name itself). */
type SettingSources = Partial<Record<SettingName, string>>;

function readSettings(env: Environment, problems: string[], sources: SettingSources): SettingValues {
  const values: Partial<Record<SettingName, unknown>> = {};
  for (const name of Object.keys(SETTINGS) as SettingName[]) {
    const spec = SETTINGS[name];
    const names = [name, ...('aliases' in spec && spec.aliases ? spec.aliases : [])];
    const from = names.find((n) => env[n] !== undefined && env[n] !== '');
    const raw = from ? env[from] : 'default' in spec ? spec.default : undefined;
    if (raw === undefined) continue;
    if (from) sources[name] = from;
    try {
      values[name] = spec.parse(raw);
    } catch (err) {
      let message = (err as Error).message;
      // A secret never reaches a message (release logs, `mcp-auth-proxy config`), whatever the parser says.
      if ('secret' in spec && spec.secret && raw.length > 0) message = message.split(raw).join('<hidden>');
      problems.push(`${from ?? name}: ${message}`);
    }
  }
  return values as SettingValues;
}

function deriveKeys(jwks: JsonWebKey[], purpose: string): Buffer[] {
  return jwks.map((jwk) =>
    Buffer.from(hkdfSync('sha256', Buffer.from(String(jwk.d), 'base64url'), 'mcp-auth-proxy', purpose, 32)),
  );
}

function generatedJwks(): JsonWebKey[] {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return [privateKey.export({ format: 'jwk' })];
}

const isSet = (env: Environment, name: string): boolean => env[name] !== undefined && env[name] !== '';

/** The demo's stand-in settings under the given ones (PORT decides its ports). */
function withDemoDefaults(env: Environment, problems: string[]): Environment {
  let port = 3001;
  try {
    port = parsePort(isSet(env, 'PORT') ? env.PORT! : (SETTINGS.PORT.default ?? '3001'));
  } catch {
    // readSettings reports the bad PORT.
  }
  if (port > 65533) {
    problems.push('PORT: the demo also listens on PORT+1 (its identity provider) and PORT+2 (its MCP server); choose a PORT below 65534');
    port = 3001;
  }
  const standIns = Object.entries(demoEnvironment(port)).filter(([name]) => !isSet(env, name));
  return { ...env, ...Object.fromEntries(standIns) };
}

/** Parses and validates the whole configuration; throws ConfigError naming every problem. */
export function loadConfig(given: Environment): Config {
  const problems: string[] = [];
  const production = given.NODE_ENV === 'production';
  const demo = !production && !DEPLOYMENT_SETTINGS.some((name) => isSet(given, name));
  const env = demo ? withDemoDefaults(given, problems) : given;
  const sources: SettingSources = {};
  const v = readSettings(env, problems, sources);
  const missing: string[] = [];
  const require = <K extends SettingName>(name: K, why = 'is required'): NonNullable<SettingValues[K]> | undefined => {
    if (v[name] === undefined && !problems.some((p) => p.startsWith(`${name}:`))) {
      problems.push(`${name}: ${why}`);
      missing.push(name);
    }
    return v[name] ?? undefined;
  };

  const baseUrl = require('BASE_URL', 'is required: the public https origin of this proxy');
  const localInsecure = v.LOCAL_INSECURE ?? false;
  if (baseUrl && baseUrl.protocol === 'http:' && !localInsecure) {
    problems.push('BASE_URL: must use https (set LOCAL_INSECURE=true for plain-http local use)');
  }
  const serverUrl = require('MCP_SERVER_URL', 'is required: where the MCP server listens, e.g. http://localhost:3000/mcp');
  if (serverUrl && serverUrl.pathname.replace(/\/+$/, '') === '') {
    problems.push('MCP_SERVER_URL: must have a path (e.g. /mcp): it is also the public mount of the MCP endpoint');
  }
  if (serverUrl && v.PORT !== undefined && pointsAtOwnPort(serverUrl, v.PORT, v.MCP_AUTH_PROXY_LISTEN_HOST)) {
    problems.push(
      `MCP_SERVER_URL: ${serverUrl.host} is this proxy's own PORT (${v.PORT}); the MCP server must listen on another port, ` +
        'e.g. MCP_SERVER_URL=http://localhost:3000/mcp with {"PORT":3000} in MCP_SERVER_RUN_ENV_JSON',
    );
  }
  const identityUrl = require('IDENTITY_SERVER_URL');
  const clientId = require('IDENTITY_CLIENT_ID');

  const reported = (name: string) => problems.some((p) => p.startsWith(`${name}:`));
  if (production && !v.MCP_AUTH_PROXY_REDIS_URL && !reported('MCP_AUTH_PROXY_REDIS_URL') && !reported('REDIS_URL')) {
    problems.push('MCP_AUTH_PROXY_REDIS_URL: is required when NODE_ENV=production (the in-memory store is for local use only)');
  }
  if (production && !v.OIDC_PROVIDER_JWKS && !reported('OIDC_PROVIDER_JWKS')) {
    problems.push('OIDC_PROVIDER_JWKS: is required when NODE_ENV=production (a JSON array of private JWKs)');
  }
  if (production && v.MCP_AUTH_PROXY_TEST_CIMD_ALLOW_LOOPBACK) {
    problems.push('MCP_AUTH_PROXY_TEST_CIMD_ALLOW_LOOPBACK: is for tests only and refused when NODE_ENV=production');
  }
  const neverPassed = (v.MCP_SERVER_RUN_ENV_PASSTHROUGH ?? []).filter((name) => NEVER_PASSED.has(name));
  if (neverPassed.length > 0) {
    const verb = neverPassed.length > 1 ? 'are' : 'is';
    problems.push(
      `MCP_SERVER_RUN_ENV_PASSTHROUGH: ${neverPassed.join(', ')} ${verb} the proxy's own key material, never given to the MCP server`,
    );
  }
  const telemetry = telemetryConfig(env, v, problems, serverUrl);
  const branding = brandingOf(identityUrl ?? new URL('https://identity.invalid'), v.BRANDING_TITLE!, v.BRANDING_FAVICON);
  const views = v.OIDC_PROVIDER_VIEWS_PATH ? checkViewOverrides(v.OIDC_PROVIDER_VIEWS_PATH, branding) : { problems: [], warnings: [] };
  problems.push(...views.problems);
  // With a metadata file the IdP's scopes are known now; with discovery, at startup (boot.ts).
  const unlisted = unlistedScopes(v.IDENTITY_SCOPE ?? [], v.IDENTITY_SERVER_METADATA_FILE);
  const warnings = [...views.warnings, ...(unlisted.length > 0 ? [unlistedScopesWarning(unlisted)] : [])];
  if (problems.length > 0 || !telemetry || !baseUrl || !serverUrl || !identityUrl || !clientId) {
    throw new ConfigError(problems, demoHint(production, missing));
  }

  const origin = baseUrl.origin;
  const mountPath = serverUrl.pathname.replace(/\/+$/, '') || '/';
  const jwks = v.OIDC_PROVIDER_JWKS ?? generatedJwks();
  const child = v.MCP_SERVER_RUN_COMMAND
    ? {
        command: v.MCP_SERVER_RUN_COMMAND,
        args: v.MCP_SERVER_RUN_ARGS_JSON ?? [],
        cwd: v.MCP_SERVER_RUN_DIR,
        env: childEnvironment(env, serverUrl, v.MCP_SERVER_RUN_ENV_JSON ?? {}, v.MCP_SERVER_RUN_ENV_PASSTHROUGH ?? []),
        readyTimeoutMs: v.MCP_SERVER_READY_TIMEOUT_MS!,
        stopTimeoutMs: v.MCP_SERVER_STOP_TIMEOUT_MS!,
        restart: {
          policy: v.MCP_SERVER_RESTART!,
          initialDelayMs: v.MCP_SERVER_RESTART_DELAY_MS!,
          maxDelayMs: Math.max(30_000, v.MCP_SERVER_RESTART_DELAY_MS!),
          maxAttempts: v.MCP_SERVER_RESTART_MAX_ATTEMPTS!,
        },
      }
    : undefined;

  return {
    production,
    demo,
    port: v.PORT!,
    listenHost: v.MCP_AUTH_PROXY_LISTEN_HOST,
    baseUrl: origin,
    localInsecure,
    mcp: {
      serverUrl,
      mountPath,
      resource: `${origin}${mountPath}`,
      resourceMetadataUrl: `${origin}/.well-known/oauth-protected-resource${mountPath}`,
      maxBodyBytes: v.MCP_AUTH_PROXY_MAX_BODY_BYTES!,
      bodyTimeoutMs: v.MCP_AUTH_PROXY_MCP_BODY_TIMEOUT_MS!,
      tokenCacheTtlMs: v.MCP_AUTH_PROXY_TOKEN_CACHE_TTL_MS!,
      identityHeaders: {
        send: v.MCP_AUTH_PROXY_IDENTITY_HEADERS!,
        userId: v.MCP_AUTH_PROXY_USER_ID_HEADER!,
        userEmail: v.MCP_AUTH_PROXY_USER_EMAIL_HEADER!,
        clientId: v.MCP_AUTH_PROXY_CLIENT_ID_HEADER!,
      },
      scopeHeader: { source: v.MCP_AUTH_PROXY_SCOPE_HEADER!, identityScope: v.IDENTITY_SCOPE!.join(' ') },
      upstreamRefreshSkewSeconds: v.MCP_AUTH_PROXY_UPSTREAM_REFRESH_SKEW_SECONDS!,
      allowedOrigins: v.MCP_AUTH_PROXY_ALLOWED_ORIGINS ?? [],
      child,
    },
    redis: {
      url: v.MCP_AUTH_PROXY_REDIS_URL?.href,
      urlVariable: sources.MCP_AUTH_PROXY_REDIS_URL ?? 'MCP_AUTH_PROXY_REDIS_URL',
      prefix: v.MCP_AUTH_PROXY_REDIS_PREFIX!,
      tlsVerify: v.MCP_AUTH_PROXY_REDIS_TLS_VERIFY!,
      tlsCa: v.MCP_AUTH_PROXY_REDIS_TLS_CA,
      connectTimeoutMs: v.MCP_AUTH_PROXY_REDIS_CONNECT_TIMEOUT_MS!,
    },
    provider: {
      jwks,
      jwksGenerated: !v.OIDC_PROVIDER_JWKS,
      cookieKeys: v.MCP_AUTH_PROXY_COOKIE_KEYS ?? deriveKeys(jwks, 'cookie-keys').map((k) => k.toString('base64url')),
      scopes: v.PROVIDER_SCOPE!,
      accessTokenTtl: v.MCP_AUTH_PROXY_ACCESS_TOKEN_TTL!,
      refreshTokenTtl: v.MCP_AUTH_PROXY_REFRESH_TOKEN_TTL!,
      grantTtl: v.MCP_AUTH_PROXY_GRANT_TTL!,
      unusedRegistrationTtl: v.MCP_AUTH_PROXY_REGISTRATION_TTL!,
      refreshReplayGraceSeconds: v.MCP_AUTH_PROXY_REFRESH_REPLAY_GRACE_SECONDS!,
      consentTtl: v.MCP_AUTH_PROXY_CONSENT_TTL!,
      viewsPath: v.OIDC_PROVIDER_VIEWS_PATH,
      clientMetadataDocuments: {
        enabled: v.MCP_AUTH_PROXY_CIMD!,
        allowedHosts: v.MCP_AUTH_PROXY_CIMD_ALLOWED_HOSTS ?? [],
        deniedHosts: v.MCP_AUTH_PROXY_CIMD_DENIED_HOSTS ?? [],
        allowLoopback: v.MCP_AUTH_PROXY_TEST_CIMD_ALLOW_LOOPBACK!,
      },
    },
    vaultKeys: v.MCP_AUTH_PROXY_VAULT_KEYS ?? deriveKeys(jwks, 'vault-keys'),
    identity: {
      serverUrl: identityUrl,
      clientId,
      clientSecret: v.IDENTITY_CLIENT_SECRET,
      scopes: v.IDENTITY_SCOPE!,
      metadata: v.IDENTITY_SERVER_METADATA_FILE,
      callbackPath: v.IDENTITY_CALLBACK_PATH!,
      callbackUrl: `${origin}${v.IDENTITY_CALLBACK_PATH}`,
      access: {
        emails: v.IDENTITY_ALLOWED_EMAILS ?? [],
        domains: v.IDENTITY_ALLOWED_DOMAINS ?? [],
        groups: v.IDENTITY_ALLOWED_GROUPS ?? [],
        groupsClaim: v.IDENTITY_GROUPS_CLAIM!,
      },
    },
    branding,
    authBodyTimeoutMs: v.MCP_AUTH_PROXY_BODY_TIMEOUT_MS!,
    rateLimit: {
      max: v.MAX_REQUESTS!,
      windowMs: v.MAX_REQUESTS_WINDOW!,
      registration: { max: v.MCP_AUTH_PROXY_REGISTRATION_MAX!, windowMs: v.MCP_AUTH_PROXY_REGISTRATION_WINDOW_MS! },
      mcp: { max: v.MCP_AUTH_PROXY_MCP_MAX_REQUESTS!, windowMs: v.MCP_AUTH_PROXY_MCP_WINDOW_MS! },
    },
    verifyRelease: v.MCP_AUTH_PROXY_VERIFY_RELEASE!,
    drainTimeoutMs: v.MCP_AUTH_PROXY_DRAIN_TIMEOUT_MS!,
    telemetry,
    logLevel: v.LOG_LEVEL!,
    warnings,
  };
}

// Heroku Identity in production (heroku.com) and staging (herokudev.com), as Heroku's proxy tells them.
const HEROKU_IDENTITY_HOST = /(^|\.)heroku(dev)?\.com$/i;
const HEROKU_FAVICON = 'https://www.herokucdn.com/favicon.ico';

/** Heroku's defaults: its title (with ` | Heroku` for Heroku Identity) and favicon; an explicit favicon wins. */
function brandingOf(identityUrl: URL, title: string, favicon: URL | undefined): Config['branding'] {
  const heroku = HEROKU_IDENTITY_HOST.test(identityUrl.hostname);
  return {
    heroku,
    title: heroku ? `${title} | Heroku` : title,
    favicon: favicon?.href ?? (heroku ? HEROKU_FAVICON : undefined),
  };
}

/** Whether a URL names this machine on the proxy's own port (where the MCP server cannot also listen). */
function pointsAtOwnPort(url: URL, port: number, listenHost: string | undefined): boolean {
  const urlPort = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
  const local = isLoopbackHost(url.hostname) || url.hostname === '0.0.0.0' || url.hostname === '[::]' || url.hostname === listenHost;
  return urlPort === port && local;
}

function demoHint(production: boolean, missing: string[]): string | undefined {
  if (missing.length === 0) return undefined;
  return production
    ? 'NODE_ENV=production never runs the local demo: set the variables above (see .env-template).'
    : `Set the variables above (see .env-template), or none of ${DEPLOYMENT_SETTINGS.join(', ')} to run the local demo.`;
}

function telemetryConfig(env: Environment, v: SettingValues, problems: string[], serverUrl: URL | undefined): TelemetryConfig | undefined {
  const disabled = v.OTEL_SDK_DISABLED ?? false;
  const chosen = (list: string[] | undefined) => list !== undefined && list.length > 0 && !list.includes('none');
  const declined = (list: string[] | undefined) => list?.includes('none') ?? false;
  const traces =
    !disabled &&
    !declined(v.OTEL_TRACES_EXPORTER) &&
    (chosen(v.OTEL_TRACES_EXPORTER) || !!v.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || !!v.OTEL_EXPORTER_OTLP_ENDPOINT);
  const otlpMetrics =
    !disabled &&
    !declined(v.OTEL_METRICS_EXPORTER) &&
    (chosen(v.OTEL_METRICS_EXPORTER) || !!v.OTEL_EXPORTER_OTLP_METRICS_ENDPOINT || !!v.OTEL_EXPORTER_OTLP_ENDPOINT);

  const metricsPath = v.MCP_AUTH_PROXY_METRICS_PATH?.replace(/(.)\/+$/, '$1');
  const before = problems.length;
  if (metricsPath !== undefined) {
    const mount = serverUrl?.pathname.replace(/\/+$/, '');
    const clash = [...RESERVED_PATHS, ...(mount ? [mount] : []), v.IDENTITY_CALLBACK_PATH ?? ''].find(
      (p) => p && (metricsPath === p || metricsPath.startsWith(`${p}/`) || p.startsWith(`${metricsPath}/`)),
    );
    if (metricsPath === '/') problems.push('MCP_AUTH_PROXY_METRICS_PATH: must not be "/" (use e.g. /metrics)');
    else if (clash) problems.push(`MCP_AUTH_PROXY_METRICS_PATH: must not overlap the proxy's own path ${clash} (use e.g. /metrics)`);
    if (disabled) problems.push('MCP_AUTH_PROXY_METRICS_PATH: metrics need OpenTelemetry, but OTEL_SDK_DISABLED=true (unset one of them)');
  }
  if (v.MCP_AUTH_PROXY_METRICS_TOKEN !== undefined && metricsPath === undefined) {
    problems.push('MCP_AUTH_PROXY_METRICS_TOKEN: is set but MCP_AUTH_PROXY_METRICS_PATH is not (there is no endpoint to protect)');
  }
  if (problems.length > before) return undefined;

  // OTel's precedence: OTEL_SERVICE_NAME, then service.name in OTEL_RESOURCE_ATTRIBUTES, then ours.
  const fromAttributes = /(?:^|,)\s*service\.name\s*=\s*([^,]+)/.exec(v.OTEL_RESOURCE_ATTRIBUTES ?? '')?.[1]?.trim();
  const serviceName = env.OTEL_SERVICE_NAME ? v.OTEL_SERVICE_NAME! : (fromAttributes ? percentDecoded(fromAttributes) : v.OTEL_SERVICE_NAME!);
  const sdkEnvironment = Object.fromEntries(
    Object.entries(env).filter((entry): entry is [string, string] => entry[0].startsWith('OTEL_') && entry[1] !== undefined && entry[1] !== ''),
  );
  return {
    disabled,
    serviceName,
    traces,
    otlpMetrics,
    metricsPath,
    metricsToken: v.MCP_AUTH_PROXY_METRICS_TOKEN,
    sdkEnvironment,
  };
}

function percentDecoded(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

function childEnvironment(
  env: Environment,
  serverUrl: URL,
  extra: Record<string, string>,
  passthrough: string[],
): Record<string, string> {
  const allowed = new Set(passthrough);
  const inherited = Object.entries(env).filter(
    (entry): entry is [string, string] =>
      entry[1] !== undefined && (!CHILD_ENV_DENYLIST.has(entry[0]) || allowed.has(entry[0])),
  );
  // PORT is ours (the public listener); the child listens where MCP_SERVER_URL says.
  const port = serverUrl.port || (serverUrl.protocol === 'https:' ? '443' : '80');
  return { ...Object.fromEntries(inherited), PORT: port, ...extra };
}
