// Every setting the proxy reads from the environment: its description (which is the user
// documentation), default, whether it is secret, and how its raw text is parsed and validated.
// Heroku-compatible names (those of mcp-remote-auth-proxy) come first and are kept exactly.
import { IDENTITY_PROVIDERS } from './identity-provider.js';
import * as parse from './parsers.js';

export interface Setting<T> {
  description: string;
  /** Raw default, parsed like a value from the environment. */
  default?: string;
  /** Other variable names read when this one is unset (first set one wins). */
  aliases?: readonly string[];
  /** Masked when the configuration is printed. */
  secret?: boolean;
  /** Says where the proxy, its MCP server or its IdP are: setting it turns the local demo off. */
  deployment?: boolean;
  parse: (raw: string) => T;
}

// A setting with a default always has a value once the configuration is valid: its type says so.
function setting<T>(spec: Setting<T> & { default: string }): Setting<T> & { default: string };
function setting<T>(spec: Setting<T>): Setting<T>;
function setting<T>(spec: Setting<T>): Setting<T> {
  return spec;
}

export const SETTINGS = {
  NODE_ENV: setting({
    description: '`production` refuses the in-memory store and generated keys, never runs the local demo, and logs JSON.',
    default: 'development',
    parse: parse.text,
  }),
  PORT: setting({ description: 'Port to listen on.', default: '3001', parse: parse.port }),
  MCP_AUTH_PROXY_LISTEN_HOST: setting({
    description: 'Address to listen on (default: every interface). `127.0.0.1` keeps a local proxy private.',
    parse: parse.text,
  }),
  BASE_URL: setting({
    description: 'Public origin of the proxy, e.g. `https://my-app.herokuapp.com` (the OAuth issuer).',
    deployment: true,
    parse: parse.origin,
  }),
  LOCAL_INSECURE: setting({
    description: '`true` allows a plain-http BASE_URL for local use; otherwise https is enforced.',
    default: 'false',
    parse: parse.bool,
  }),
  MCP_SERVER_URL: setting({
    description: 'Where the MCP server listens, e.g. `http://localhost:3000/mcp`. Its path is also the public mount.',
    deployment: true,
    parse: parse.httpUrl,
  }),
  MCP_SERVER_TRANSPORT: setting({
    description:
      'How the proxy reaches the MCP server: `http` (Streamable HTTP at MCP_SERVER_URL) or `stdio` (the proxy runs MCP_SERVER_RUN_COMMAND once per session, user or for everyone, see MCP_SERVER_STDIO_ISOLATION, and speaks to it over stdin and stdout; MCP_SERVER_URL then only gives the public path, default `/mcp`).',
    default: 'http',
    deployment: true,
    parse: parse.oneOf(['http', 'stdio'] as const),
  }),
  MCP_SERVER_RUN_COMMAND: setting({
    description: 'Command that starts the MCP server as a child process. Unset: the MCP server runs elsewhere.',
    deployment: true,
    parse: parse.text,
  }),
  MCP_SERVER_RUN_ARGS_JSON: setting({
    description: 'JSON array of string arguments for MCP_SERVER_RUN_COMMAND.',
    default: '[]',
    deployment: true,
    parse: parse.stringArrayJson,
  }),
  MCP_SERVER_RUN_DIR: setting({
    description: 'Working directory of the MCP server process (default: the current directory).',
    deployment: true,
    parse: parse.existingDirectory,
  }),
  MCP_SERVER_RUN_ENV_JSON: setting({
    description:
      'JSON object of extra environment variables for the MCP server process, e.g. `{"PORT":3000,"BACKEND_API_URL":"https://api.example.com"}` (numbers and booleans become text). The proxy\'s own secrets are never inherited; pass what the server needs here.',
    default: '{}',
    deployment: true,
    parse: parse.envMapJson,
  }),
  MCP_SERVER_READY_TIMEOUT_MS: setting({
    description: 'How long the MCP server process may take to accept connections on MCP_SERVER_URL\'s port (with MCP_SERVER_TRANSPORT=stdio: to answer initialize).',
    default: '30000',
    parse: parse.positiveInt,
  }),
  MCP_SERVER_RUN_ENV_PASSTHROUGH: setting({
    description:
      'Comma-separated names of the proxy\'s secret variables the MCP server process may still inherit, e.g. `REDIS_URL` when it shares the Redis add-on (Heroku rotates its URL, so copying the value into MCP_SERVER_RUN_ENV_JSON would go stale). The signing, cookie and vault keys are never passed.',
    parse: parse.envNameList,
  }),
  MCP_SERVER_RESTART: setting({
    description:
      'What happens when the MCP server process dies: `restart` (with backoff; /mcp answers 503 meanwhile) or `exit` (the proxy exits non-zero and the platform restarts the whole dyno).',
    default: 'restart',
    parse: parse.oneOf(['restart', 'exit'] as const),
  }),
  MCP_SERVER_RESTART_DELAY_MS: setting({
    description: 'Delay before the first restart of a crashed MCP server; it doubles with each consecutive crash, up to 30 s (or this value if larger).',
    default: '1000',
    parse: parse.positiveInt,
  }),
  MCP_SERVER_RESTART_MAX_ATTEMPTS: setting({
    description:
      'Consecutive restarts (each one not staying up for a minute) after which the proxy gives up and exits non-zero.',
    default: '10',
    parse: parse.positiveInt,
  }),
  MCP_SERVER_STOP_TIMEOUT_MS: setting({
    description: 'How long the MCP server process has to exit after SIGTERM before it (and its process group) gets SIGKILL.',
    default: '4000',
    parse: parse.positiveInt,
  }),
  MCP_SERVER_STDIO_ISOLATION: setting({
    description:
      'With MCP_SERVER_TRANSPORT=stdio, who shares a server process: `session` (one per MCP session: a stdio server serves one client), `user` (one per signed-in user, shared by their sessions: only for servers that can serve several clients at once) or `shared` (one for everyone: for servers that hold their own credentials; they get no user token).',
    default: 'session',
    parse: parse.oneOf(['session', 'user', 'shared'] as const),
  }),
  MCP_SERVER_TOKEN_ENV: setting({
    description:
      'With MCP_SERVER_TRANSPORT=stdio: the environment variable that gets the user\'s upstream access token in their server process, e.g. `GITHUB_PERSONAL_ACCESS_TOKEN`. Every process also gets MCP_USER_ID and MCP_USER_EMAIL. A refreshed token reaches the server at its next session (a new process).',
    parse: parse.envName,
  }),
  MCP_SERVER_STDIO_MAX_PROCESSES: setting({
    description:
      'With MCP_SERVER_TRANSPORT=stdio: the most server processes this proxy instance runs at once; a new session over it gets 503. Each process is a whole program (a Node server takes about 30 MB of its own): 10 fit a 512 MB dyno beside the proxy.',
    default: '10',
    parse: parse.positiveInt,
  }),
  MCP_SERVER_STDIO_MAX_PROCESSES_PER_USER: setting({
    description: 'With MCP_SERVER_TRANSPORT=stdio: the most server processes one user has at once; a new session over it gets 429.',
    default: '5',
    parse: parse.positiveInt,
  }),
  MCP_SERVER_STDIO_IDLE_TIMEOUT_SECONDS: setting({
    description:
      'With MCP_SERVER_TRANSPORT=stdio: a server process with no request in flight and no open stream for this long is stopped (its sessions end: clients get 404 and start a new one).',
    default: '600',
    parse: parse.positiveInt,
  }),
  MCP_AUTH_PROXY_MAX_BODY_BYTES: setting({
    description: 'Largest /mcp request body passed to the MCP server; larger ones get 413.',
    default: String(10 * 1024 * 1024),
    parse: parse.positiveInt,
  }),
  MCP_AUTH_PROXY_MCP_BODY_TIMEOUT_MS: setting({
    description:
      'How long a /mcp request body may take to arrive (a slower one gets 408 and the connection is closed). Response streams are not bounded.',
    default: '60000',
    parse: parse.positiveInt,
  }),
  MCP_AUTH_PROXY_IDENTITY_HEADERS: setting({
    description:
      '`false` stops sending the user id, email and client id headers to the MCP server (inbound copies are stripped either way).',
    default: 'true',
    parse: parse.bool,
  }),
  MCP_AUTH_PROXY_SCOPE_HEADER: setting({
    description:
      'What `X-Authorization-Scope` tells the MCP server: `upstream` (as Heroku\'s proxy: the scope of the user\'s upstream access token, from the IdP\'s token response, else IDENTITY_SCOPE), `proxy` (the scope of the client\'s token at this proxy) or `none` (not sent).',
    default: 'upstream',
    parse: parse.oneOf(['upstream', 'proxy', 'none'] as const),
  }),
  MCP_AUTH_PROXY_USER_ID_HEADER: setting({ description: 'Header carrying the user\'s id (upstream `sub`).', default: 'X-MCP-User-Id', parse: parse.headerName }),
  MCP_AUTH_PROXY_USER_EMAIL_HEADER: setting({ description: 'Header carrying the user\'s email, when known.', default: 'X-MCP-User-Email', parse: parse.headerName }),
  MCP_AUTH_PROXY_CLIENT_ID_HEADER: setting({ description: 'Header carrying the MCP client\'s id.', default: 'X-MCP-Client-Id', parse: parse.headerName }),
  MCP_SERVER_CREDENTIALS: setting({
    description:
      'What the MCP server receives as `Authorization`: `user` (the signed-in user\'s upstream access token, refreshed as needed), `static` (MCP_SERVER_BEARER_TOKEN, for servers that hold their own credentials) or `none` (no `Authorization`). Identity headers are sent in every mode.',
    default: 'user',
    parse: parse.oneOf(['user', 'static', 'none'] as const),
  }),
  MCP_SERVER_BEARER_TOKEN: setting({
    description: 'With MCP_SERVER_CREDENTIALS=static: the bearer token sent to the MCP server on every request (sigbit\'s PROXY_BEARER_TOKEN).',
    aliases: ['PROXY_BEARER_TOKEN'],
    secret: true,
    parse: parse.headerToken,
  }),
  MCP_SERVER_HEADERS: setting({
    description:
      'Extra headers sent to the MCP server on every request, in every credentials mode: `Name:value` pairs separated by commas (sigbit\'s PROXY_HEADERS), e.g. `X-Api-Key:abc,X-Tenant:acme`, or a JSON object. Headers the proxy owns (Authorization, Host, the MCP and forwarding headers, the identity headers) cannot be set.',
    aliases: ['PROXY_HEADERS'],
    secret: true,
    parse: parse.headerPairs,
  }),
  MCP_AUTH_PROXY_UPSTREAM_REFRESH_SKEW_SECONDS: setting({
    description: 'Upstream access tokens are refreshed this long before they expire (once across instances).',
    default: '60',
    parse: parse.nonNegativeInt,
  }),
  MCP_AUTH_PROXY_TOKEN_CACHE_TTL_MS: setting({
    description:
      'How long a validated /mcp bearer token is remembered in process (0 turns the cache off). Revocations reach every instance at once regardless.',
    default: '30000',
    parse: parse.nonNegativeInt,
  }),
  MCP_AUTH_PROXY_ALLOWED_ORIGINS: setting({
    description:
      'Comma-separated browser origins allowed to call /mcp (MCP Origin validation), `*` for any. BASE_URL\'s origin and loopback origins are always allowed; requests without Origin (native clients) always pass.',
    parse: parse.originList,
  }),
  MCP_AUTH_PROXY_CIMD: setting({
    description:
      '`false` turns off Client ID Metadata Documents (an https URL as client_id, fetched and cached); clients then use Dynamic Client Registration.',
    default: 'true',
    parse: parse.bool,
  }),
  MCP_AUTH_PROXY_CIMD_ALLOWED_HOSTS: setting({
    description: 'Comma-separated hosts (exact, or `*.example.com`) allowed to publish client metadata documents; unset: any public host.',
    parse: parse.hostList,
  }),
  MCP_AUTH_PROXY_CIMD_DENIED_HOSTS: setting({
    description: 'Comma-separated hosts (exact, or `*.example.com`) whose client metadata documents are refused.',
    parse: parse.hostList,
  }),
  MCP_AUTH_PROXY_TEST_CIMD_ALLOW_LOOPBACK: setting({
    description: 'Tests only (refused in production): fetch client metadata documents from loopback hosts with self-signed certificates.',
    default: 'false',
    parse: parse.bool,
  }),
  MCP_AUTH_PROXY_DRAIN_TIMEOUT_MS: setting({
    description:
      'On SIGTERM or SIGINT the proxy stops accepting connections and lets in-flight requests and open streams finish for up to this long (0: cut them at once), then stops the MCP server and exits 0. With MCP_SERVER_STOP_TIMEOUT_MS it must fit in Heroku\'s 30 s.',
    default: '25000',
    parse: parse.nonNegativeInt,
  }),
  MCP_AUTH_PROXY_REDIS_URL: setting({
    description: 'Redis URL (`redis://` or `rediss://`). Unset: an in-memory store, for local use only.',
    aliases: ['REDIS_URL'],
    secret: true,
    parse: parse.redisUrl,
  }),
  MCP_AUTH_PROXY_REDIS_PREFIX: setting({
    description: 'Prefix of every Redis key the proxy writes.',
    default: 'mcp-auth-proxy:',
    parse: parse.text,
  }),
  MCP_AUTH_PROXY_REDIS_TLS_VERIFY: setting({
    description:
      '`true` verifies the certificate of a `rediss://` server. Heroku Key-Value Store uses a self-signed one, hence the default.',
    default: 'false',
    parse: parse.bool,
  }),
  MCP_AUTH_PROXY_REDIS_CONNECT_TIMEOUT_MS: setting({
    description:
      'How long a connection to Redis (including the TLS handshake) may take; at startup, an unreachable Redis stops the proxy after this long.',
    default: '10000',
    parse: parse.positiveInt,
  }),
  MCP_AUTH_PROXY_REDIS_TLS_CA: setting({
    description:
      'PEM certificate(s), or the path of a PEM file, trusted for a `rediss://` server when MCP_AUTH_PROXY_REDIS_TLS_VERIFY=true (a private CA, or the server\'s own self-signed certificate). Unset: the system\'s CAs.',
    parse: parse.pemCertificates,
  }),
  OIDC_PROVIDER_JWKS: setting({
    description:
      'JSON array of private JWKs (RSA, EC P-256/384/521 or Ed25519). The first signs; the rest still verify. Generated per process outside production when unset.',
    secret: true,
    parse: parse.privateJwks,
  }),
  MCP_AUTH_PROXY_COOKIE_KEYS: setting({
    description:
      'Comma-separated cookie signing secrets (32+ characters each); the first signs, all verify. Default: derived from OIDC_PROVIDER_JWKS.',
    secret: true,
    parse: parse.cookieKeys,
  }),
  MCP_AUTH_PROXY_VAULT_KEYS: setting({
    description:
      'Comma-separated AES-256 keys (base64 or hex of 32 bytes) that encrypt upstream tokens at rest; the first encrypts, all decrypt. Default: derived from OIDC_PROVIDER_JWKS.',
    secret: true,
    parse: parse.vaultKeys,
  }),
  OIDC_PROVIDER_VIEWS_PATH: setting({
    description:
      'Absolute path of a directory whose `confirm-login.ejs` and `_layout.ejs` replace ours (Heroku\'s templates work as they are: docs/views.md). Every template there is rendered once with sample data at startup; one that fails stops the proxy.',
    parse: parse.viewsDirectory,
  }),
  MCP_AUTH_PROXY_CONSENT_TTL: setting({
    description:
      'How long a user\'s confirmation of a client is remembered (per user and client), in seconds; 0 asks every time. `prompt=consent` always asks.',
    default: String(30 * 24 * 3600),
    parse: parse.nonNegativeInt,
  }),
  MCP_AUTH_PROXY_ACCESS_TOKEN_TTL: setting({
    description: 'Lifetime of the access tokens the proxy issues, in seconds.',
    default: '3600',
    parse: parse.positiveInt,
  }),
  MCP_AUTH_PROXY_REFRESH_TOKEN_TTL: setting({
    description: 'Sliding lifetime of refresh tokens, in seconds: each refresh issues a new one for this long.',
    default: String(30 * 24 * 3600),
    parse: parse.positiveInt,
  }),
  MCP_AUTH_PROXY_GRANT_TTL: setting({
    description: 'Absolute lifetime of a grant (a sign-in, with its upstream tokens), in seconds, however often it is refreshed.',
    default: String(30 * 24 * 3600),
    parse: parse.positiveInt,
  }),
  MCP_AUTH_PROXY_REGISTRATION_TTL: setting({
    description:
      'Lifetime of a dynamic registration nobody has signed in with, in seconds; each sign-in then keeps the client as long as that grant (MCP_AUTH_PROXY_GRANT_TTL).',
    default: '86400',
    parse: parse.positiveInt,
  }),
  MCP_AUTH_PROXY_REFRESH_REPLAY_GRACE_SECONDS: setting({
    description:
      'A refresh token used again within this many seconds of its rotation (a client racing itself) still works; later, the replay revokes the whole grant.',
    default: '2',
    parse: parse.nonNegativeInt,
  }),
  IDENTITY_PROVIDERS: setting({
    description:
      'Several identity providers at once, offered on a chooser page: comma-separated block names (`github,corp`). Each block is configured by IDENTITY_<NAME>_<SETTING> variables (IDENTITY_GITHUB_CLIENT_ID, IDENTITY_CORP_SERVER_URL …) with the rules of the IDENTITY_* settings, which then do not apply; a block named like a preset is that provider. See docs/identity-providers.md.',
    deployment: true,
    parse: parse.blockNames,
  }),
  IDENTITY_LINK_VERIFIED_EMAILS: setting({
    description:
      'With IDENTITY_PROVIDERS: `true` makes one person signing in through two providers one account when both verify the same email (the user id is then `email:<address>`); `false` keeps them apart (`<block>:<id>`).',
    default: 'false',
    parse: parse.bool,
  }),
  IDENTITY_PROVIDER: setting({
    description:
      'The kind of identity provider: `oidc` (any OpenID Provider, or an OAuth 2.0 IdP that names the user in its token response), `github` (github.com, or GitHub Enterprise Server at IDENTITY_SERVER_URL), `google` (with the parameters that get refresh tokens), `heroku` (Heroku Identity, production unless IDENTITY_SERVER_URL is staging\'s; the email from the Platform API), `entra` (Microsoft Entra ID; multi-tenant needs IDENTITY_ALLOWED_ENTRA_TENANTS), `okta`, `auth0`, `keycloak`, `gitlab` (gitlab.com unless set), `salesforce` (login.salesforce.com unless set), or `local` (accounts of this proxy, IDENTITY_LOCAL_USERS; no IdP). A preset sets endpoints and scopes; explicit IDENTITY_* settings win. See docs/identity-providers.md.',
    default: 'oidc',
    deployment: true,
    parse: parse.oneOf(IDENTITY_PROVIDERS),
  }),
  IDENTITY_LOCAL_USERS: setting({
    description:
      'With IDENTITY_PROVIDER=local: the accounts, as the absolute path of a file with one `name:hash` per line, or inline, separated by commas. Hashes are argon2id (`mcp-auth-proxy hash-password`) or bcrypt; a name with an @ is also the email.',
    secret: true,
    deployment: true,
    parse: parse.localUsers,
  }),
  IDENTITY_SERVER_URL: setting({
    description:
      'Issuer URL of the upstream identity provider (OIDC discovery is used unless a metadata file is given). With IDENTITY_PROVIDER=github: unset is github.com; a GitHub Enterprise Server\'s URL otherwise.',
    deployment: true,
    parse: parse.httpUrl,
  }),
  IDENTITY_CLIENT_ID: setting({ description: 'Client id registered at the identity provider.', deployment: true, parse: parse.text }),
  IDENTITY_CLIENT_SECRET: setting({
    description: 'Client secret registered at the identity provider (unset: a public client using PKCE).',
    secret: true,
    deployment: true,
    parse: parse.text,
  }),
  IDENTITY_SCOPE: setting({
    description:
      'Scopes requested from the identity provider, separated by spaces or commas. With IDENTITY_PROVIDER=github the default is `read:user user:email` (and `read:org` with IDENTITY_ALLOWED_GITHUB_ORGS); with `google`, `openid email profile`; with `heroku`, `global`.',
    default: 'openid profile email offline_access',
    parse: parse.scopeList,
  }),
  IDENTITY_AUDIENCE: setting({
    description: 'Sent as `audience` in the authorization request, for IdPs that issue access tokens per API (Auth0: the API identifier the MCP server calls).',
    parse: parse.text,
  }),
  IDENTITY_SERVER_METADATA_FILE: setting({
    description:
      'Path of a JSON file with the identity provider\'s server metadata, for IdPs without discovery (Heroku Identity).',
    deployment: true,
    parse: parse.serverMetadataFile,
  }),
  IDENTITY_ALLOWED_EMAILS: setting({
    description: 'Comma-separated email addresses allowed to sign in (verified emails only). Unset: no email restriction.',
    parse: parse.lowerCaseList,
  }),
  IDENTITY_ALLOWED_DOMAINS: setting({
    description: 'Comma-separated email domains allowed to sign in (verified emails only), e.g. `example.com`.',
    parse: parse.lowerCaseList,
  }),
  IDENTITY_ALLOWED_GROUPS: setting({
    description: 'Comma-separated values of the groups claim, one of which a user must have to sign in.',
    parse: parse.list,
  }),
  IDENTITY_ALLOWED_GITHUB_USERS: setting({
    description: 'With IDENTITY_PROVIDER=github: comma-separated GitHub logins allowed to sign in.',
    parse: parse.lowerCaseList,
  }),
  IDENTITY_ALLOWED_GITHUB_ORGS: setting({
    description:
      'With IDENTITY_PROVIDER=github: comma-separated organisations (`acme`) and teams (`acme/platform`, by slug) whose members may sign in, checked at sign-in and at every refresh of an expiring token; `read:org` is then requested. With IDENTITY_ALLOWED_GITHUB_USERS, either allows.',
    parse: parse.lowerCaseList,
  }),
  IDENTITY_ALLOWED_GOOGLE_DOMAINS: setting({
    description:
      'With IDENTITY_PROVIDER=google: comma-separated Google Workspace domains (the ID token\'s `hd` claim) whose accounts may sign in; personal Google accounts have none and are refused. One domain is also sent as `hd` so Google offers only its accounts.',
    parse: parse.lowerCaseList,
  }),
  IDENTITY_ALLOWED_ENTRA_TENANTS: setting({
    description:
      'With IDENTITY_PROVIDER=entra: comma-separated tenant ids (the `tid` claim) whose users may sign in; required with a multi-tenant IDENTITY_SERVER_URL (common, organizations).',
    parse: parse.lowerCaseList,
  }),
  IDENTITY_GROUPS_CLAIM: setting({ description: 'Claim (ID token or userinfo) holding the user\'s groups.', default: 'groups', parse: parse.text }),
  IDENTITY_CALLBACK_PATH: setting({
    description: 'Path of the callback URL registered at the identity provider (BASE_URL + this path).',
    default: '/interaction/identity/callback',
    parse: parse.urlPath,
  }),
  PROVIDER_SCOPE: setting({
    description: 'Scopes the proxy grants its own clients, separated by spaces or commas.',
    default: 'openid offline_access',
    parse: parse.scopeList,
  }),
  BRANDING_TITLE: setting({
    description:
      'Title of the sign-in pages (browser tab and page header), as in Heroku\'s proxy: ` | Heroku` is appended when the identity provider is Heroku Identity.',
    default: 'Login for Model Context Protocol',
    parse: parse.text,
  }),
  BRANDING_FAVICON: setting({
    description: 'Favicon URL of the sign-in pages (its origin is allowed in their Content-Security-Policy). Unset: Heroku\'s for a Heroku identity provider, else none.',
    parse: parse.httpUrl,
  }),
  MAX_REQUESTS: setting({
    description:
      'Requests allowed per client IP per window on each class of authorization endpoints (authorize and sign-in pages; token and revocation).',
    default: '60',
    parse: parse.positiveInt,
  }),
  MAX_REQUESTS_WINDOW: setting({
    description: 'Rate limit window of MAX_REQUESTS, in milliseconds.',
    default: '60000',
    parse: parse.positiveInt,
  }),
  MCP_AUTH_PROXY_BODY_TIMEOUT_MS: setting({
    description:
      'How long the body of a request to the authorization endpoints (token, registration, revocation, device, sign-in forms) may take to arrive; a slower one gets 408.',
    default: '10000',
    parse: parse.positiveInt,
  }),
  MCP_AUTH_PROXY_REGISTRATION_MAX: setting({
    description: 'Dynamic Client Registrations allowed per client IP per MCP_AUTH_PROXY_REGISTRATION_WINDOW_MS.',
    default: '30',
    parse: parse.positiveInt,
  }),
  MCP_AUTH_PROXY_REGISTRATION_WINDOW_MS: setting({ description: 'Window of the registration quota.', default: '3600000', parse: parse.positiveInt }),
  MCP_AUTH_PROXY_MCP_MAX_REQUESTS: setting({
    description:
      '/mcp requests allowed per user per MCP_AUTH_PROXY_MCP_WINDOW_MS, across instances; 0 (default) is unlimited (each limited request costs a Redis round trip).',
    default: '0',
    parse: parse.nonNegativeInt,
  }),
  MCP_AUTH_PROXY_MCP_MAX_CONCURRENT: setting({
    description:
      '/mcp requests one user may have in flight at once, across instances (counted in Redis); over it: 429 with Retry-After and a JSON-RPC error. Open GET event streams are counted apart, with the same cap. 0 (default): unlimited (each counted request costs Redis round trips).',
    default: '0',
    parse: parse.nonNegativeInt,
  }),
  MCP_AUTH_PROXY_MCP_WINDOW_MS: setting({ description: 'Window of the /mcp per-user limit.', default: '60000', parse: parse.positiveInt }),
  MCP_AUTH_PROXY_POLICY: setting({
    description:
      'Who may call which MCP method, tool, prompt or resource: inline JSON, or the path of a .json, .yaml or .yml file, e.g. `{"default":"allow","rules":[{"effect":"deny","tools":["delete_*"],"domains":["contractor.example"]}]}`. Rules allow or deny `methods`, `tools`, `prompts`, `resources` (names or globs) for `users`, `emails`, `domains`, `groups`, `clients` (none: everyone); deny wins; `default` decides the rest. Unset: everything is allowed and /mcp is not read.',
    parse: parse.policy,
  }),
  MCP_AUTH_PROXY_AUDIT_TOOL_CALLS: setting({
    description:
      'One audit line (`"audit":"tool.call"`) and metrics per tools/call: who, which client and session, which tool, allowed or denied, duration, outcome. `auto` (default): on with MCP_AUTH_PROXY_POLICY or a stdio server, where requests are read anyway; `true`: also for an HTTP server without a policy (each /mcp POST body is then read); `false`: off.',
    default: 'auto',
    parse: parse.oneOf(['auto', 'true', 'false'] as const),
  }),
  MCP_AUTH_PROXY_AUDIT_ARGUMENTS: setting({
    description:
      '`true`: tool-call audit lines also carry the arguments and the result, with fields named like secrets (token, password, key …) redacted, strings cut at 256 characters and each at most 4 KB. Off by default: arguments and results may hold personal data.',
    default: 'false',
    parse: parse.bool,
  }),
  MCP_AUTH_PROXY_VERIFY_RELEASE: setting({
    description: '`true`: boot everything, print `Verified release launches. Exit status 0`, exit 0.',
    default: 'false',
    parse: parse.bool,
  }),
  OTEL_SDK_DISABLED: setting({
    description:
      '`true` turns OpenTelemetry off entirely (traces, OTLP metrics and the Prometheus endpoint): no SDK module is loaded.',
    default: 'false',
    parse: parse.bool,
  }),
  OTEL_SERVICE_NAME: setting({
    description: '`service.name` of traces and metrics (when unset, `service.name` in OTEL_RESOURCE_ATTRIBUTES is used if present).',
    default: 'unnamed_mcp_remote_auth_proxy',
    parse: parse.text,
  }),
  OTEL_RESOURCE_ATTRIBUTES: setting({
    description: 'Extra resource attributes (`key=value,...`) of traces and metrics, read by the SDK.',
    parse: parse.text,
  }),
  OTEL_EXPORTER_OTLP_ENDPOINT: setting({
    description:
      'OTLP base URL (e.g. `http://collector:4318`) for traces and metrics. Setting it turns both on; the SDK reads the other standard `OTEL_*` variables (protocol, headers, sampler…) itself.',
    parse: parse.httpUrl,
  }),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: setting({ description: 'OTLP URL for traces only; setting it turns traces on.', parse: parse.httpUrl }),
  OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: setting({
    description: 'OTLP URL for metrics only; setting it turns OTLP metrics export on.',
    parse: parse.httpUrl,
  }),
  OTEL_TRACES_EXPORTER: setting({
    description:
      '`otlp`, `zipkin`, `console` (comma-separated) or `none`. Set to anything but `none`, it turns traces on even without an endpoint (OTLP then goes to http://localhost:4318).',
    parse: parse.choiceList(['otlp', 'zipkin', 'console', 'none']),
  }),
  OTEL_METRICS_EXPORTER: setting({
    description: '`otlp` or `none`. For Prometheus, set MCP_AUTH_PROXY_METRICS_PATH (the scrape endpoint is served on the main port).',
    parse: parse.choiceList(['otlp', 'none']),
  }),
  OTEL_LOGS_EXPORTER: setting({
    description:
      '`otlp`: the audit lines (grants, tool calls) are also exported as OpenTelemetry log records (to OTEL_EXPORTER_OTLP_LOGS_ENDPOINT or OTEL_EXPORTER_OTLP_ENDPOINT, over http/protobuf or http/json); the proxy\'s other logs stay on stdout. Unset or `none`: audit lines only on stdout.',
    parse: parse.choiceList(['otlp', 'none']),
  }),
  OTEL_EXPORTER_OTLP_HEADERS: setting({
    description: 'Headers sent with every OTLP export (`key=value,...`, e.g. an API key), read by the SDK. Never passed to the MCP server.',
    secret: true,
    parse: parse.text,
  }),
  OTEL_EXPORTER_OTLP_TRACES_HEADERS: setting({ description: 'Headers of trace exports only.', secret: true, parse: parse.text }),
  OTEL_EXPORTER_OTLP_METRICS_HEADERS: setting({ description: 'Headers of metric exports only.', secret: true, parse: parse.text }),
  MCP_AUTH_PROXY_METRICS_PATH: setting({
    description:
      'Path on the main port where Prometheus scrapes the metrics, e.g. `/metrics` (not rate limited, not logged). Unset: no endpoint.',
    parse: parse.urlPath,
  }),
  MCP_AUTH_PROXY_METRICS_TOKEN: setting({
    description:
      'Bearer token Prometheus must send to MCP_AUTH_PROXY_METRICS_PATH (`Authorization: Bearer <token>`, 16+ characters). Unset: the endpoint is public.',
    secret: true,
    parse: parse.bearerSecret,
  }),
  LOG_LEVEL: setting({ description: 'pino log level.', default: 'info', parse: parse.logLevel }),
} as const;

export type SettingName = keyof typeof SETTINGS;
type ValueOf<K extends SettingName> = ReturnType<(typeof SETTINGS)[K]['parse']>;

/** The settings of a valid configuration: those with a default are always there. */
export type SettingValues = {
  [K in SettingName]: (typeof SETTINGS)[K] extends { default: string } ? ValueOf<K> : ValueOf<K> | undefined;
};

/** The settings as read, while some may have failed to parse (each failure is a problem). */
export type ParsedSettings = { [K in SettingName]?: ValueOf<K> };

/** A setting's variable and its aliases (e.g. MCP_AUTH_PROXY_REDIS_URL, then REDIS_URL), in the order they are read. */
export function variablesOf(name: SettingName): string[] {
  const spec: Setting<unknown> = SETTINGS[name];
  return [name, ...(spec.aliases ?? [])];
}
