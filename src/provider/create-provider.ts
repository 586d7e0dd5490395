// The authorization server: node-oidc-provider configured for MCP clients, with its storage
// adapter and every hook the proxy adds on its Koa side (the public origin, pages, storage
// failures, metrics and audit, the query-only response mode).
import Provider, { type KoaContextWithOIDC } from 'oidc-provider';
import type { Logger } from 'pino';
import type { Config } from '../config/types.js';
import { pinProviderOrigin } from '../http/public-origin.js';
import { notFoundPage } from '../http/site.js';
import type { AccountStore } from '../identity/accounts.js';
import { noteOAuthError, throttledLogger } from '../logging.js';
import type { RenderView } from '../pages/render.js';
import type { InvalidationBus } from '../storage/invalidation.js';
import { storeFailing, type KeyValueStore } from '../storage/store.js';
import type { AuditLog } from '../telemetry/audit.js';
import type { ProxyMetrics } from '../telemetry/metrics.js';
import { observeProvider } from '../telemetry/provider-events.js';
import { destroyGrant, type GrantEndHook } from '../grants/end.js';
import { createAdapterClass } from './adapter.js';
import { guardAuthorizationResponses, type PageContext } from './authorization-responses.js';
import { advertiseResourceScopes, failClosedWhileStoreDown, providerConfiguration } from './configuration.js';
import { restartStaleDeviceForms } from './device-verification.js';
import { cleanHerokuClient, signableAlgorithms } from './heroku-records.js';
import { reportGrantedScope } from './token-scope.js';

export interface ProviderParts {
  config: Config;
  logger: Logger;
  store: KeyValueStore;
  accounts: AccountStore;
  bus: InvalidationBus;
  /** Told before a grant's records go (revokes its upstream tokens at the IdP). */
  onGrantEnd: GrantEndHook;
  metrics: ProxyMetrics;
  audit: AuditLog;
  render: RenderView;
}

export function createProvider({ config, logger, store, accounts, bus, onGrantEnd, metrics, audit, render }: ProviderParts): Provider {
  const renderPage = async (ctx: PageContext, view: string, data: { title: string } & Record<string, unknown>) => {
    ctx.type = 'html';
    ctx.set('Cache-Control', 'no-store');
    ctx.body = await render(view, data);
  };
  // Records Heroku's proxy left under the same prefix are cleaned as they are read.
  const signable = signableAlgorithms(config.provider.jwks);
  const provider = new Provider(
    config.baseUrl,
    providerConfiguration({
      config,
      adapter: createAdapterClass(store, {
        bus,
        refreshReplayGraceSeconds: config.provider.refreshReplayGraceSeconds,
        unusedRegistrationTtlSeconds: config.provider.unusedRegistrationTtl,
        onGrantEnd,
        cleanClient: (payload) => cleanHerokuClient(payload, signable),
        onReplay: (grantId) => destroyGrant(store, grantId, { bus, onGrantEnd, audit: { log: audit, reason: 'replay' } }),
      }),
      store,
      accounts,
      // oidc-provider's own errors (its vocabulary), drawn on our error page.
      async renderError(ctx: KoaContextWithOIDC, out) {
        noteOAuthError(ctx.res as { locals?: Record<string, unknown> }, out.error);
        ctx.type = 'html';
        ctx.body = await render('error', {
          title: 'Sign-in could not continue',
          message: out.error_description ?? 'The request was not valid.',
          code: out.error,
        });
      },
      renderPage,
    }),
  );
  // Behind a TLS-terminating router the provider must trust X-Forwarded-Proto to see https.
  provider.proxy = !config.localInsecure;
  pinProviderOrigin(provider, config.baseUrl);
  advertiseResourceScopes(provider, config);
  reportGrantedScope(provider, config.provider.scopes.includes('offline_access'));
  // A page for browsers that ask for a path nobody serves (Koa's answer is a bare "Not Found").
  provider.use(async (ctx, next) => {
    await next();
    if (ctx.status !== 404 || ctx.oidc?.route !== undefined || ctx.method !== 'GET' || !ctx.accepts('html')) return;
    ctx.status = 404;
    ctx.type = 'html';
    ctx.set('Cache-Control', 'no-store');
    ctx.body = await notFoundPage(render, ctx.path);
  });
  // oidc-provider's JSON errors: their code goes on the request line too.
  provider.use(async (ctx, next) => {
    await next();
    const error = ctx.status >= 400 ? (ctx.body as { error?: unknown } | undefined)?.error : undefined;
    if (typeof error === 'string') noteOAuthError(ctx.res as { locals?: Record<string, unknown> }, error);
  });
  failClosedWhileStoreDown(provider, store);
  observeProvider(provider, metrics, audit);
  guardAuthorizationResponses(provider, renderPage);
  restartStaleDeviceForms(provider);
  // While storage is down every request fails alike (and answers 503): one line per interval.
  const errorEvery = throttledLogger(logger);
  provider.on('server_error', (_ctx: unknown, err: Error) =>
    storeFailing(store) ? errorEvery.error({ err }, 'authorization server error while storage is unavailable or full') : logger.error({ err }, 'authorization server error'),
  );
  return provider;
}
