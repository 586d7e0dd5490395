// Builds the Express app from its parts; nothing else.
import express, { type Express } from 'express';
import helmet from 'helmet';
import type { default as Provider } from 'oidc-provider';
import type { Logger } from 'pino';
import type { Config } from './config/types.js';
import type { AccountStore } from './identity/accounts.js';
import type { UpstreamRefresher } from './identity/refresh.js';
import type { IdentityProviders } from './identity/providers.js';
import type { UpstreamTokenVault } from './identity/vault.js';
import { errorHandler } from './http/errors.js';
import type { ReleasableStreams } from './http/drain.js';
import { healthRouter, type Readiness } from './http/health.js';
import { rateLimit } from './http/rate-limit.js';
import { bodyDeadline } from './http/body-deadline.js';
import { rememberClientAddress } from './http/client-address.js';
import { siteRouter } from './http/site.js';
import { interactionRouter } from './interactions/router.js';
import { requestLogger } from './logging.js';
import { bearerAuth } from './mcp/bearer.js';
import { callerOf } from './mcp/caller.js';
import type { CallerCache } from './mcp/caller-cache.js';
import { mcpServerAvailability } from './mcp/availability.js';
import { originCheck } from './mcp/origin.js';
import { ConcurrencyLimiter } from './mcp/concurrency.js';
import { protectedResourceRouter } from './mcp/protected-resource.js';
import { McpSessionBindings, sessionOwnerCheck } from './mcp/session-binding.js';
import { bodyLimit, mcpProxy, refuseDotSegments } from './mcp/proxy.js';
import type { McpServerSupervisor } from './mcp/supervisor.js';
import { StdioEndpoint } from './mcp/stdio/endpoint.js';
import type { StdioServerPool } from './mcp/stdio/pool.js';
import { registrableScopes } from './provider/scopes.js';
import { defaultScopeFiller } from './provider/default-scope.js';
import { registrationCors, registrationNormalizer } from './provider/registration.js';
import type { KeyValueStore } from './storage/store.js';
import type { AuditLog } from './telemetry/audit.js';
import { ToolCallAudit } from './telemetry/tool-audit.js';
import { metricsEndpoint } from './telemetry/metrics-endpoint.js';
import type { ProxyMetrics } from './telemetry/metrics.js';
import { requestMetrics } from './telemetry/request-metrics.js';
import type { Telemetry } from './telemetry/telemetry.js';
import type { RenderView } from './pages/render.js';

/** oidc-provider's own limit for the bodies it parses (token, revocation, device, session). */
export const AUTH_BODY_MAX_BYTES = 56 * 1024;

export interface AppParts {
  config: Config;
  logger: Logger;
  provider: Provider;
  store: KeyValueStore;
  /** The identity providers (one, or IDENTITY_PROVIDERS' blocks). */
  providers: IdentityProviders;
  vault: UpstreamTokenVault;
  accounts: AccountStore;
  refresher: UpstreamRefresher;
  callers: CallerCache;
  render: RenderView;
  metrics: ProxyMetrics;
  audit: AuditLog;
  /** The Prometheus scrape handler, when MCP_AUTH_PROXY_METRICS_PATH is set. */
  scrape?: Telemetry['scrape'];
  readiness: Readiness;
  /** Graceful shutdown: told about the MCP event streams it may end early. */
  streams?: ReleasableStreams;
  /** The MCP server child, when the proxy runs it. */
  mcpServer: McpServerSupervisor | undefined;
  /** The stdio server processes, with MCP_SERVER_TRANSPORT=stdio. */
  stdioServers?: StdioServerPool | undefined;
}

export function createApp(parts: AppParts): Express {
  const { config, logger, provider, vault, accounts, refresher, callers, metrics, scrape } = parts;
  const app = express();
  app.disable('x-powered-by');
  // Behind Heroku's router: trust its one hop for the client address and protocol.
  if (!config.localInsecure) app.set('trust proxy', 1);
  // Before the request log and every limit: probes and scrapes are frequent and must stay cheap
  // and quiet (not logged, not rate limited, not counted).
  app.use(healthRouter(parts.readiness));
  if (scrape && config.telemetry.metricsPath) app.get(config.telemetry.metricsPath, metricsEndpoint(scrape, config.telemetry.metricsToken));
  if (metrics.enabled) app.use(requestMetrics(metrics, config.mcp.mountPath));
  app.use(requestLogger(logger));

  app.use(protectedResourceRouter(config));
  // Sessions live at most as long as a grant (a new sign-in of the same person keeps them).
  const sessions = new McpSessionBindings(parts.store, config.provider.grantTtl);
  const toolAudit = config.mcp.toolAudit.enabled ? new ToolCallAudit(parts.audit, metrics, config.mcp.toolAudit.withArguments) : undefined;
  // The MCP endpoint: no body parser, no page headers; bytes and streams pass as they are.
  app.use(
    config.mcp.mountPath,
    originCheck(config),
    refuseDotSegments(),
    bodyLimit(config.mcp.maxBodyBytes),
    bodyDeadline(config.mcp.bodyTimeoutMs),
    bearerAuth({ config, provider, vault, accounts, cache: callers }),
    // Per user, not per IP (many users share a client's egress address); off unless configured.
    ...(config.rateLimit.mcp.max > 0
      ? [rateLimit(parts.store, { name: 'mcp', ...config.rateLimit.mcp, keyOf: (_req, res) => callerOf(res).accountId })]
      : []),
    // In flight at once, per user across instances; off unless configured.
    ...(config.rateLimit.mcpConcurrent > 0 ? [new ConcurrencyLimiter(parts.store, config.rateLimit.mcpConcurrent, logger).middleware()] : []),
    sessionOwnerCheck(sessions),
    ...(parts.stdioServers
      ? [new StdioEndpoint({ config, pool: parts.stdioServers, sessions, refresher, logger, streams: parts.streams, toolAudit }).handler()]
      : [mcpServerAvailability(parts.mcpServer), mcpProxy({ config, refresher, logger, streams: parts.streams, sessions, toolAudit })]),
  );

  // The authorization server's hooks (a first fetch of a client metadata document) know who asked.
  app.use(rememberClientAddress());
  // The favicon may live elsewhere (BRANDING_FAVICON, Heroku's CDN): exactly its origin may serve images.
  const favicon = config.branding.favicon ? new URL(config.branding.favicon).origin : undefined;
  app.use(
    helmet({
      contentSecurityPolicy: {
        directives: {
          // form-action also governs the redirects after the confirm form (to the IdP, then to the
          // client's own scheme); Chromium would block them.
          formAction: null,
          imgSrc: ["'self'", 'data:', ...(favicon ? [favicon] : [])],
        },
      },
    }),
  );
  // Every other body (token, registration, revocation, device, sign-in forms) arrives in time.
  app.use(bodyDeadline(config.authBodyTimeoutMs));
  // Bodies of the authorization endpoints are small: a declared length over the cap is refused
  // with 413 before anything reads it (oidc-provider and our form parsers also stop reading there).
  app.use(['/token', '/device', '/session'], bodyLimit(AUTH_BODY_MAX_BYTES));
  // Rate limits apply to the endpoints people and clients sign in through, not to discovery;
  // each class has its own budget, registration a quota of its own.
  const { max, windowMs } = config.rateLimit;
  app.use(['/auth', '/interaction', '/device', '/session'], rateLimit(parts.store, { name: 'authorize', max, windowMs }));
  app.use('/token', rateLimit(parts.store, { name: 'token', max, windowMs }));
  app.use(interactionRouter(parts));
  app.use(siteRouter(config, parts.render));
  app.use('/reg', registrationCors);
  app.post('/reg', rateLimit(parts.store, { name: 'registration', ...config.rateLimit.registration }), ...registrationNormalizer(registrableScopes(config)));
  app.use(['/auth', '/device/auth'], ...defaultScopeFiller(provider, config.provider.scopes));
  // Serves discovery (RFC 8414 and OpenID), registration, authorize, token, revocation.
  app.use(provider.callback());
  app.use(errorHandler(logger, parts.store));
  return app;
}
