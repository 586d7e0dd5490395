// What the configuration is: the types every module reads. Only types (and no module of ours
// that needs the configuration at run time), so anything may import them without a cycle.
import type { JsonWebKey } from 'node:crypto';
import type { AccessPolicy } from '../identity/access-policy.js';
import type { LocalUser, ServerMetadata } from './parsers.js';
import type { Policy } from '../policy/policy.js';

export type Environment = Readonly<Record<string, string | undefined>>;

export interface ChildProcessConfig {
  command: string;
  args: string[];
  cwd: string | undefined;
  /** The complete environment of the child: ours minus the proxy's secrets, plus MCP_SERVER_RUN_ENV_JSON. */
  env: Record<string, string>;
  readyTimeoutMs: number;
  /** SIGTERM, then SIGKILL after this long. */
  stopTimeoutMs: number;
  restart: {
    /** `restart`: with backoff; `exit`: the proxy exits non-zero and the platform restarts it. */
    policy: 'restart' | 'exit';
    initialDelayMs: number;
    maxDelayMs: number;
    /** Consecutive restarts that did not stay up, after which the proxy gives up. */
    maxAttempts: number;
  };
}

/** MCP_SERVER_TRANSPORT=stdio: the server processes the proxy runs (src/mcp/stdio/). */
export interface StdioServersConfig {
  command: string;
  args: string[];
  cwd: string | undefined;
  /** Every process's environment before its user's: ours minus the proxy's secrets, plus MCP_SERVER_RUN_ENV_JSON. */
  env: Record<string, string>;
  isolation: 'session' | 'user' | 'shared';
  /** The variable that gets the user's upstream access token (MCP_SERVER_TOKEN_ENV). */
  tokenEnv: string | undefined;
  maxProcesses: number;
  maxProcessesPerUser: number;
  idleTimeoutMs: number;
  /** How long a new process may take to answer initialize. */
  startTimeoutMs: number;
  /** SIGTERM, then SIGKILL after this long. */
  stopTimeoutMs: number;
}

export interface Config {
  production: boolean;
  /**
   * The local demo: nothing was configured outside production, so the settings below point at a
   * development IdP (started in-process) and a sample MCP server (the child); see src/demo/.
   */
  demo: boolean;
  port: number;
  listenHost: string | undefined;
  /** Public origin without a trailing slash; also the OAuth issuer. */
  baseUrl: string;
  localInsecure: boolean;
  mcp: {
    /** MCP_SERVER_URL: where the HTTP MCP server listens; undefined for a stdio server. */
    serverUrl: URL | undefined;
    /** Public path of the MCP endpoint (the path of MCP_SERVER_URL; `/mcp` for a stdio server without one). */
    mountPath: string;
    /** RFC 8707 resource identifier every access token is bound to. */
    resource: string;
    /** Absolute URL of the RFC 9728 protected resource metadata for `resource`. */
    resourceMetadataUrl: string;
    maxBodyBytes: number;
    /** How long a /mcp request body may take to arrive. */
    bodyTimeoutMs: number;
    tokenCacheTtlMs: number;
    /** Identity headers for the MCP server; `send: false` only strips inbound copies. */
    identityHeaders: { send: boolean; userId: string; userEmail: string; clientId: string };
    /**
     * X-Authorization-Scope: `upstream` (Heroku's: the upstream token's scope, else `identityScope`,
     * which is IDENTITY_SCOPE), `proxy` (our token's scope) or `none`.
     */
    scopeHeader: { source: 'upstream' | 'proxy' | 'none'; identityScope: string };
    /** What the MCP server gets as Authorization, and the extra headers sent with every request. */
    credentials: McpServerCredentials;
    upstreamRefreshSkewSeconds: number;
    /** Browser origins allowed at /mcp besides our own and loopback; `*` for any. */
    allowedOrigins: string[];
    child: ChildProcessConfig | undefined;
    /** MCP_SERVER_TRANSPORT=stdio: the proxy runs the server's processes and speaks stdio to them. */
    stdio: StdioServersConfig | undefined;
    /** MCP_AUTH_PROXY_POLICY: who may call what; undefined: everything, and /mcp is not read. */
    policy: Policy | undefined;
    /** The audit of tool calls (MCP_AUTH_PROXY_AUDIT_TOOL_CALLS resolved), with arguments or not. */
    toolAudit: { enabled: boolean; withArguments: boolean };
  };
  redis: {
    url: string | undefined;
    /** The variable the URL came from (MCP_AUTH_PROXY_REDIS_URL, or its alias REDIS_URL), for messages. */
    urlVariable: string;
    prefix: string;
    tlsVerify: boolean;
    /** PEM certificates trusted for rediss:// (unset: the system's CAs). */
    tlsCa: string | undefined;
    connectTimeoutMs: number;
  };
  provider: {
    jwks: JsonWebKey[];
    jwksGenerated: boolean;
    cookieKeys: string[];
    scopes: string[];
    accessTokenTtl: number;
    refreshTokenTtl: number;
    grantTtl: number;
    /** Lifetime of a registration nobody has signed in with. */
    unusedRegistrationTtl: number;
    refreshReplayGraceSeconds: number;
    consentTtl: number;
    viewsPath: string | undefined;
    clientMetadataDocuments: { enabled: boolean; allowedHosts: string[]; deniedHosts: string[]; allowLoopback: boolean };
  };
  vaultKeys: Buffer[];
  /** The identity provider (with IDENTITY_PROVIDERS: the first block). */
  identity: IdentityBlock;
  /** Every identity provider: one, or the blocks of IDENTITY_PROVIDERS in their order. */
  identities: IdentityBlock[];
  /** IDENTITY_LINK_VERIFIED_EMAILS. */
  linkVerifiedEmails: boolean;
  /** As Heroku's proxy brands its pages (lib/branding-config.js), plus BRANDING_FAVICON for any IdP. */
  branding: { title: string; favicon: string | undefined; heroku: boolean };
  /** How long a request body to the authorization endpoints may take to arrive. */
  authBodyTimeoutMs: number;
  rateLimit: {
    max: number;
    windowMs: number;
    registration: { max: number; windowMs: number };
    /** Per user at /mcp; max 0 is unlimited. */
    mcp: { max: number; windowMs: number };
    /** In-flight /mcp requests (and, apart, GET streams) per user across instances; 0 is unlimited. */
    mcpConcurrent: number;
  };
  verifyRelease: boolean;
  /** How long a SIGTERM lets in-flight requests and streams finish before they are cut. */
  drainTimeoutMs: number;
  telemetry: TelemetryConfig;
  logLevel: string;
  /** What is allowed but worth telling the operator, found while loading (startup logs each). */
  warnings: string[];
}

/**
 * What OpenTelemetry does. The SDK is loaded only when one of traces, otlpMetrics or
 * metricsPath is on, so a default install pays nothing and sends nothing to localhost:4318.
 */
export interface TelemetryConfig {
  /** OTEL_SDK_DISABLED: nothing of OpenTelemetry runs. */
  disabled: boolean;
  serviceName: string;
  /** Traces are exported: an endpoint or OTEL_TRACES_EXPORTER is set (and not `none`). */
  traces: boolean;
  /** Metrics are exported over OTLP: an endpoint or OTEL_METRICS_EXPORTER=otlp is set. */
  otlpMetrics: boolean;
  /** Audit lines are also exported as OTLP log records: OTEL_LOGS_EXPORTER=otlp. */
  auditLogs: boolean;
  /** Prometheus scrape path on the main port. */
  metricsPath: string | undefined;
  metricsToken: string | undefined;
  /**
   * Every OTEL_* variable as read (environment and .env). The SDK reads these itself from
   * process.env; the ones that came from .env are handed to it.
   */
  sdkEnvironment: Record<string, string>;
}

/**
 * `user`: the signed-in user's upstream access token; `static`: a configured bearer token; `none`:
 * no Authorization. `headers` (lower-case names) go out in every mode.
 */
export type McpServerCredentials =
  | { mode: 'user'; headers: Record<string, string> }
  | { mode: 'static'; bearerToken: string | undefined; headers: Record<string, string> }
  | { mode: 'none'; headers: Record<string, string> };

/** `oidc`: discovery or a metadata file, ID token, userinfo; `github`: GitHub's REST API at `apiUrl`. */
export type IdentityProviderPreset = { kind: 'oidc' } | { kind: 'github'; apiUrl: URL } | { kind: 'heroku'; apiUrl: URL } | { kind: 'local' };

/** One identity provider: the IDENTITY_* settings, or one block of IDENTITY_PROVIDERS. */
export interface IdentityBlock {
  /** The block's name (IDENTITY_PROVIDERS), or the provider's kind when there is one. */
  name: string;
  /** Its button on the chooser. */
  title: string;
  /** IDENTITY_PROVIDER as set. */
  providerName: string;
  /** IDENTITY_LOCAL_USERS, with IDENTITY_PROVIDER=local. */
  localUsers: LocalUser[];
  /** What the proxy needs to know of the provider at runtime. */
  provider: IdentityProviderPreset;
  serverUrl: URL;
  clientId: string;
  clientSecret: string | undefined;
  scopes: string[];
  /** Added to the authorization request by the preset (Google's access_type, prompt, hd). */
  authorizationParams: Record<string, string>;
  metadata: ServerMetadata | undefined;
  callbackPath: string;
  /** Exact redirect_uri registered at the IdP. */
  callbackUrl: string;
  access: AccessPolicy;
}
