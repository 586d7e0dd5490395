// The configuration: read once from the environment (and a .env file when present), validated
// as a whole, and handed to every other module. No other module reads process.env. The pieces:
// settings.ts (every variable), environment.ts (reading them), types.ts (what Config is),
// demo.ts (what the local demo stands in for), child-environment.ts, telemetry.ts.
import { generateKeyPairSync, hkdfSync, type JsonWebKey } from 'node:crypto';
import { SETTINGS, type ParsedSettings, type SettingName, type SettingValues } from './settings.js';
import type { Config, Environment, IdentityBlock } from './types.js';
import { isSet, readSettings, type SettingSources } from './environment.js';
import { ownsStdioServer, STDIO_SERVER_SETTINGS, withDemoDefaults } from './demo.js';
import { childEnvironment, NEVER_PASSED } from './child-environment.js';
import { telemetryConfig } from './telemetry.js';
import { credentialsOf, credentialsProblems } from './credentials.js';
import { stdioConfig, stdioProblems } from './stdio.js';
import { blockEnvironment, blockProblem, blockTitle, isBlockProblem } from './identity-blocks.js';
import { blockNames } from './parsers.js';
import { defaultServerUrl, ENTRA_MULTI_TENANT, presetAuthorizationParams, presetMetadata, presetOf, presetScopes } from './identity-provider.js';

/** Settings that belong to one provider, refused with any other. */
const PROVIDER_SETTINGS = [
  ['IDENTITY_ALLOWED_GITHUB_USERS', 'github'],
  ['IDENTITY_ALLOWED_GITHUB_ORGS', 'github'],
  ['IDENTITY_ALLOWED_GOOGLE_DOMAINS', 'google'],
  ['IDENTITY_ALLOWED_ENTRA_TENANTS', 'entra'],
  ['IDENTITY_LOCAL_USERS', 'local'],
] as const;
import { isLoopbackHost } from '../http/loopback.js';
import { checkViewOverrides } from '../pages/view-check.js';
import { unlistedScopes, unlistedScopesWarning } from '../identity/upstream.js';

export { SETTINGS } from './settings.js';
export { readEnvFile, readEnvironment } from './environment.js';
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

function deriveKeys(jwks: JsonWebKey[], purpose: string): Buffer[] {
  return jwks.map((jwk) =>
    Buffer.from(hkdfSync('sha256', Buffer.from(String(jwk.d), 'base64url'), 'mcp-auth-proxy', purpose, 32)),
  );
}

function generatedJwks(): JsonWebKey[] {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return [privateKey.export({ format: 'jwk' })];
}

/**
 * Parses and validates the whole configuration; throws ConfigError naming every problem. With
 * IDENTITY_PROVIDERS, each block is read as a single-provider configuration of its own
 * (identity-blocks.ts), and the first gives everything that is shared.
 */
export function loadConfig(given: Environment): Config {
  const raw = given.IDENTITY_PROVIDERS;
  if (raw === undefined || raw.trim() === '') return loadSingle(given);
  let blocks: string[];
  try {
    blocks = blockNames(raw);
  } catch (err) {
    throw new ConfigError([`IDENTITY_PROVIDERS: ${(err as Error).message}`]);
  }
  const problems: string[] = [];
  const loaded: { block: string; config: Config }[] = [];
  blocks.forEach((block, index) => {
    try {
      loaded.push({ block, config: loadSingle(blockEnvironment(given, block)) });
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      // The shared settings' problems once (the first block's), each block's own under its names.
      const own = err.problems.filter(isBlockProblem).map((problem) => blockProblem(block, problem));
      problems.push(...(index === 0 ? err.problems.map((problem) => (isBlockProblem(problem) ? blockProblem(block, problem) : problem)) : own));
    }
  });
  const locals = loaded.filter(({ config }) => config.identity.providerName === 'local');
  if (locals.length > 1) problems.push(`IDENTITY_PROVIDERS: ${locals.map((l) => l.block).join(' and ')} are both local; one block holds every local account`);
  if (problems.length > 0) throw new ConfigError([...new Set(problems)]);
  const first = loaded[0]!.config;
  const identities = loaded.map(({ block, config }) => ({ ...config.identity, name: block, title: blockTitle(given, block, config.identity.providerName) }));
  return { ...first, identity: identities[0]!, identities, warnings: [...new Set(loaded.flatMap(({ config }) => config.warnings))] };
}

function loadSingle(given: Environment): Config {
  const problems: string[] = [];
  const production = given.NODE_ENV === 'production';
  // A stdio server of one's own (`start -- <command>`) runs behind the demo's sign-in as well.
  const ownStdioServer = ownsStdioServer(given);
  const demo = !production && !DEPLOYMENT_SETTINGS.some((name) => isSet(given, name) && !(ownStdioServer && STDIO_SERVER_SETTINGS.has(name)));
  const env = demo ? withDemoDefaults(given, problems) : given;
  const sources: SettingSources = {};
  const parsed = readSettings(env, problems, sources);
  const missing: string[] = [];
  const require = <K extends SettingName>(name: K, why = 'is required'): NonNullable<ParsedSettings[K]> | undefined => {
    if (parsed[name] === undefined && !problems.some((p) => p.startsWith(`${name}:`))) {
      problems.push(`${name}: ${why}`);
      missing.push(name);
    }
    return parsed[name] ?? undefined;
  };

  const baseUrl = require('BASE_URL', 'is required: the public https origin of this proxy');
  const localInsecure = parsed.LOCAL_INSECURE ?? false;
  if (baseUrl && baseUrl.protocol === 'http:' && !localInsecure) {
    problems.push('BASE_URL: must use https (set LOCAL_INSECURE=true for plain-http local use)');
  }
  const stdio = parsed.MCP_SERVER_TRANSPORT === 'stdio';
  // A stdio server listens nowhere: MCP_SERVER_URL then only gives the public path.
  const serverUrl = stdio ? parsed.MCP_SERVER_URL : require('MCP_SERVER_URL', 'is required: where the MCP server listens, e.g. http://localhost:3000/mcp');
  if (serverUrl && serverUrl.pathname.replace(/\/+$/, '') === '') {
    problems.push('MCP_SERVER_URL: must have a path (e.g. /mcp): it is also the public mount of the MCP endpoint');
  }
  if (!stdio && serverUrl && parsed.PORT !== undefined && pointsAtOwnPort(serverUrl, parsed.PORT, parsed.MCP_AUTH_PROXY_LISTEN_HOST)) {
    problems.push(
      `MCP_SERVER_URL: ${serverUrl.host} is this proxy's own PORT (${parsed.PORT}); the MCP server must listen on another port, ` +
        'e.g. MCP_SERVER_URL=http://localhost:3000/mcp with {"PORT":3000} in MCP_SERVER_RUN_ENV_JSON',
    );
  }
  const provider = parsed.IDENTITY_PROVIDER ?? 'oidc';
  const local = provider === 'local';
  // Local accounts have no IdP: the proxy's own origin stands in for its URL.
  const identityUrl = parsed.IDENTITY_SERVER_URL ?? defaultServerUrl(provider) ?? (local ? baseUrl : require('IDENTITY_SERVER_URL'));
  if (local) require('IDENTITY_LOCAL_USERS', 'is required with IDENTITY_PROVIDER=local');
  for (const [name, only] of PROVIDER_SETTINGS) {
    if (provider !== only && parsed[name] !== undefined) problems.push(`${name}: applies only with IDENTITY_PROVIDER=${only} (it is ${provider})`);
  }
  if (provider === 'entra' && identityUrl && ENTRA_MULTI_TENANT.test(identityUrl.href) && !parsed.IDENTITY_ALLOWED_ENTRA_TENANTS) {
    problems.push(
      `IDENTITY_ALLOWED_ENTRA_TENANTS: is required with the multi-tenant ${identityUrl.href} (any Microsoft tenant could sign in): list the tenant ids allowed, or use https://login.microsoftonline.com/<tenant-id>/v2.0`,
    );
  }
  const clientId = local ? (parsed.IDENTITY_CLIENT_ID ?? 'local') : require('IDENTITY_CLIENT_ID');

  const reported = (name: string) => problems.some((p) => p.startsWith(`${name}:`));
  if (production && !parsed.MCP_AUTH_PROXY_REDIS_URL && !reported('MCP_AUTH_PROXY_REDIS_URL') && !reported('REDIS_URL')) {
    problems.push('MCP_AUTH_PROXY_REDIS_URL: is required when NODE_ENV=production (the in-memory store is for local use only)');
  }
  if (production && !parsed.OIDC_PROVIDER_JWKS && !reported('OIDC_PROVIDER_JWKS')) {
    problems.push('OIDC_PROVIDER_JWKS: is required when NODE_ENV=production (a JSON array of private JWKs)');
  }
  if (production && parsed.MCP_AUTH_PROXY_TEST_CIMD_ALLOW_LOOPBACK) {
    problems.push('MCP_AUTH_PROXY_TEST_CIMD_ALLOW_LOOPBACK: is for tests only and refused when NODE_ENV=production');
  }
  const neverPassed = (parsed.MCP_SERVER_RUN_ENV_PASSTHROUGH ?? []).filter((name) => NEVER_PASSED.has(name));
  if (neverPassed.length > 0) {
    const verb = neverPassed.length > 1 ? 'are' : 'is';
    problems.push(
      `MCP_SERVER_RUN_ENV_PASSTHROUGH: ${neverPassed.join(', ')} ${verb} the proxy's own key material, never given to the MCP server`,
    );
  }
  problems.push(...credentialsProblems(parsed, sources), ...stdioProblems(parsed, sources));
  const telemetry = telemetryConfig(env, parsed, problems, serverUrl);
  const branding = brandingOf(identityUrl ?? new URL('https://identity.invalid'), parsed.BRANDING_TITLE ?? SETTINGS.BRANDING_TITLE.default, parsed.BRANDING_FAVICON);
  const views = parsed.OIDC_PROVIDER_VIEWS_PATH ? checkViewOverrides(parsed.OIDC_PROVIDER_VIEWS_PATH, branding) : { problems: [], warnings: [] };
  problems.push(...views.problems);
  const githubOrgs = parsed.IDENTITY_ALLOWED_GITHUB_ORGS ?? [];
  const googleDomains = parsed.IDENTITY_ALLOWED_GOOGLE_DOMAINS ?? [];
  // A preset's scopes and metadata stand in for the defaults, never for a value given.
  // A policy's group rules see a GitHub user's organisations and teams: they must be read too.
  const policyNamesGroups = parsed.MCP_AUTH_PROXY_POLICY?.rules.some((rule) => rule.subjects.groups !== undefined) ?? false;
  const githubMemberships = githubOrgs.length > 0 || policyNamesGroups;
  const presetContext = { githubMemberships, googleDomains };
  const identityScopes = (sources.IDENTITY_SCOPE ? undefined : presetScopes(provider, presetContext)) ?? parsed.IDENTITY_SCOPE ?? [];
  const identityMetadata = parsed.IDENTITY_SERVER_METADATA_FILE ?? (identityUrl ? presetMetadata(provider, identityUrl) : undefined);
  // With a metadata file (or a preset's) the IdP's scopes are known now; with discovery, at startup (boot.ts).
  const unlisted = unlistedScopes(identityScopes, identityMetadata);
  const warnings = [...views.warnings, ...(unlisted.length > 0 ? [unlistedScopesWarning(unlisted)] : [])];
  if (problems.length > 0 || !telemetry || !baseUrl || (!serverUrl && !stdio) || !identityUrl || !clientId) {
    throw new ConfigError(problems, demoHint(production, missing));
  }
  // No problem: every setting with a default has its value.
  const v = parsed as SettingValues;

  const origin = baseUrl.origin;
  const mountPath = serverUrl ? serverUrl.pathname.replace(/\/+$/, '') || '/' : '/mcp';
  const jwks = v.OIDC_PROVIDER_JWKS ?? generatedJwks();
  const credentials = credentialsOf(v, sources);
  const child =
    v.MCP_SERVER_RUN_COMMAND && serverUrl && !stdio
    ? {
        command: v.MCP_SERVER_RUN_COMMAND,
        args: v.MCP_SERVER_RUN_ARGS_JSON ?? [],
        cwd: v.MCP_SERVER_RUN_DIR,
        env: childEnvironment(env, serverUrl, v.MCP_SERVER_RUN_ENV_JSON ?? {}, v.MCP_SERVER_RUN_ENV_PASSTHROUGH ?? []),
        readyTimeoutMs: v.MCP_SERVER_READY_TIMEOUT_MS,
        stopTimeoutMs: v.MCP_SERVER_STOP_TIMEOUT_MS,
        restart: {
          policy: v.MCP_SERVER_RESTART,
          initialDelayMs: v.MCP_SERVER_RESTART_DELAY_MS,
          maxDelayMs: Math.max(30_000, v.MCP_SERVER_RESTART_DELAY_MS),
          maxAttempts: v.MCP_SERVER_RESTART_MAX_ATTEMPTS,
        },
      }
    : undefined;

  const identity: IdentityBlock = {
    // One provider: its block is named by its kind (as the MCP server is told with several).
    name: v.IDENTITY_PROVIDER,
    title: v.IDENTITY_PROVIDER,
    providerName: v.IDENTITY_PROVIDER,
    localUsers: v.IDENTITY_LOCAL_USERS ?? [],
    provider: presetOf(v.IDENTITY_PROVIDER, identityUrl),
    serverUrl: identityUrl,
    clientId,
    clientSecret: v.IDENTITY_CLIENT_SECRET,
    scopes: identityScopes,
    authorizationParams: {
      ...presetAuthorizationParams(v.IDENTITY_PROVIDER, presetContext),
      ...(v.IDENTITY_AUDIENCE ? { audience: v.IDENTITY_AUDIENCE } : {}),
    },
    metadata: identityMetadata,
    callbackPath: v.IDENTITY_CALLBACK_PATH,
    callbackUrl: `${origin}${v.IDENTITY_CALLBACK_PATH}`,
    access: {
      emails: v.IDENTITY_ALLOWED_EMAILS ?? [],
      domains: v.IDENTITY_ALLOWED_DOMAINS ?? [],
      groups: v.IDENTITY_ALLOWED_GROUPS ?? [],
      groupsClaim: v.IDENTITY_GROUPS_CLAIM,
      githubUsers: v.IDENTITY_ALLOWED_GITHUB_USERS ?? [],
      githubOrgs,
      googleDomains,
      entraTenants: v.IDENTITY_ALLOWED_ENTRA_TENANTS ?? [],
      githubMemberships: v.IDENTITY_PROVIDER === 'github' && githubMemberships,
    },
  };

  return {
    production,
    demo,
    port: v.PORT,
    listenHost: v.MCP_AUTH_PROXY_LISTEN_HOST,
    baseUrl: origin,
    localInsecure,
    mcp: {
      serverUrl,
      mountPath,
      resource: `${origin}${mountPath}`,
      resourceMetadataUrl: `${origin}/.well-known/oauth-protected-resource${mountPath}`,
      maxBodyBytes: v.MCP_AUTH_PROXY_MAX_BODY_BYTES,
      bodyTimeoutMs: v.MCP_AUTH_PROXY_MCP_BODY_TIMEOUT_MS,
      tokenCacheTtlMs: v.MCP_AUTH_PROXY_TOKEN_CACHE_TTL_MS,
      identityHeaders: {
        send: v.MCP_AUTH_PROXY_IDENTITY_HEADERS,
        userId: v.MCP_AUTH_PROXY_USER_ID_HEADER,
        userEmail: v.MCP_AUTH_PROXY_USER_EMAIL_HEADER,
        clientId: v.MCP_AUTH_PROXY_CLIENT_ID_HEADER,
      },
      scopeHeader: { source: v.MCP_AUTH_PROXY_SCOPE_HEADER, identityScope: identityScopes.join(' ') },
      credentials,
      upstreamRefreshSkewSeconds: v.MCP_AUTH_PROXY_UPSTREAM_REFRESH_SKEW_SECONDS,
      allowedOrigins: v.MCP_AUTH_PROXY_ALLOWED_ORIGINS ?? [],
      child,
      stdio: stdioConfig(env, v, credentials.mode === 'user'),
      policy: v.MCP_AUTH_PROXY_POLICY,
      toolAudit: {
        enabled: v.MCP_AUTH_PROXY_AUDIT_TOOL_CALLS === 'true' || (v.MCP_AUTH_PROXY_AUDIT_TOOL_CALLS === 'auto' && (v.MCP_AUTH_PROXY_POLICY !== undefined || stdio)),
        withArguments: v.MCP_AUTH_PROXY_AUDIT_ARGUMENTS,
      },
    },
    redis: {
      url: v.MCP_AUTH_PROXY_REDIS_URL?.href,
      urlVariable: sources.MCP_AUTH_PROXY_REDIS_URL ?? 'MCP_AUTH_PROXY_REDIS_URL',
      prefix: v.MCP_AUTH_PROXY_REDIS_PREFIX,
      tlsVerify: v.MCP_AUTH_PROXY_REDIS_TLS_VERIFY,
      tlsCa: v.MCP_AUTH_PROXY_REDIS_TLS_CA,
      connectTimeoutMs: v.MCP_AUTH_PROXY_REDIS_CONNECT_TIMEOUT_MS,
    },
    provider: {
      jwks,
      jwksGenerated: !v.OIDC_PROVIDER_JWKS,
      cookieKeys: v.MCP_AUTH_PROXY_COOKIE_KEYS ?? deriveKeys(jwks, 'cookie-keys').map((k) => k.toString('base64url')),
      scopes: v.PROVIDER_SCOPE,
      accessTokenTtl: v.MCP_AUTH_PROXY_ACCESS_TOKEN_TTL,
      refreshTokenTtl: v.MCP_AUTH_PROXY_REFRESH_TOKEN_TTL,
      grantTtl: v.MCP_AUTH_PROXY_GRANT_TTL,
      unusedRegistrationTtl: v.MCP_AUTH_PROXY_REGISTRATION_TTL,
      refreshReplayGraceSeconds: v.MCP_AUTH_PROXY_REFRESH_REPLAY_GRACE_SECONDS,
      consentTtl: v.MCP_AUTH_PROXY_CONSENT_TTL,
      viewsPath: v.OIDC_PROVIDER_VIEWS_PATH,
      clientMetadataDocuments: {
        enabled: v.MCP_AUTH_PROXY_CIMD,
        allowedHosts: v.MCP_AUTH_PROXY_CIMD_ALLOWED_HOSTS ?? [],
        deniedHosts: v.MCP_AUTH_PROXY_CIMD_DENIED_HOSTS ?? [],
        allowLoopback: v.MCP_AUTH_PROXY_TEST_CIMD_ALLOW_LOOPBACK,
      },
    },
    vaultKeys: v.MCP_AUTH_PROXY_VAULT_KEYS ?? deriveKeys(jwks, 'vault-keys'),
    identity,
    identities: [identity],
    linkVerifiedEmails: v.IDENTITY_LINK_VERIFIED_EMAILS,
    branding,
    authBodyTimeoutMs: v.MCP_AUTH_PROXY_BODY_TIMEOUT_MS,
    rateLimit: {
      max: v.MAX_REQUESTS,
      windowMs: v.MAX_REQUESTS_WINDOW,
      registration: { max: v.MCP_AUTH_PROXY_REGISTRATION_MAX, windowMs: v.MCP_AUTH_PROXY_REGISTRATION_WINDOW_MS },
      mcp: { max: v.MCP_AUTH_PROXY_MCP_MAX_REQUESTS, windowMs: v.MCP_AUTH_PROXY_MCP_WINDOW_MS },
      mcpConcurrent: v.MCP_AUTH_PROXY_MCP_MAX_CONCURRENT,
    },
    verifyRelease: v.MCP_AUTH_PROXY_VERIFY_RELEASE,
    drainTimeoutMs: v.MCP_AUTH_PROXY_DRAIN_TIMEOUT_MS,
    telemetry,
    logLevel: v.LOG_LEVEL,
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
