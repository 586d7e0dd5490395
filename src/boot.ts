// Starts every part in order (storage, IdP metadata, provider, MCP server child, listener)
// and stops them in reverse. Used by main.ts and by the tests.
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import type { default as Provider } from 'oidc-provider';
import type { Logger } from 'pino';
import { throttledLogger } from './logging.js';
import { toOriginForm } from './http/public-origin.js';
import type { Config } from './config/types.js';
import { AccountStore } from './identity/accounts.js';
import { UpstreamRefresher } from './identity/refresh.js';
import { unlistedScopesWarning } from './identity/upstream.js';
import { IdentityProviders } from './identity/providers.js';
import { UpstreamTokenVault } from './identity/vault.js';
import { CallerCache } from './mcp/caller-cache.js';
import { McpServerSupervisor } from './mcp/supervisor.js';
import { StdioServerPool } from './mcp/stdio/pool.js';
import { checkCommand } from './mcp/stdio/command.js';
import { HttpDrain, type DrainResult } from './http/drain.js';
import { Readiness } from './http/health.js';
import { DEFAULT_RECORD_TTL_SECONDS } from './provider/adapter.js';
import { createProvider } from './provider/create-provider.js';
import { signableAlgorithms, sweepHerokuClients } from './provider/heroku-records.js';
import { createApp } from './server.js';
import { MemoryStore } from './storage/memory-store.js';
import { connectRedis } from './storage/redis-connect.js';
import { InvalidationBus } from './storage/invalidation.js';
import type { KeyValueStore } from './storage/store.js';
import { AuditLog } from './telemetry/audit.js';
import { ProxyMetrics } from './telemetry/metrics.js';
import { NO_TELEMETRY, type Telemetry } from './telemetry/telemetry.js';
import { createPages } from './pages/render.js';
import { startDemoIdentityProvider } from './demo/start.js';
import type { DevIdp } from './demo/identity-provider.js';

const PROXY_VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

export interface StopOptions {
  /** Let in-flight requests and open streams finish for up to this long (default 0: cut them). */
  drainMs?: number;
}

export interface RunningProxy {
  server: Server;
  provider: Provider;
  store: KeyValueStore;
  /** The MCP server child, when the proxy runs it. */
  mcpServer: McpServerSupervisor | undefined;
  /** The stdio server processes (MCP_SERVER_TRANSPORT=stdio). */
  stdioServers: StdioServerPool | undefined;
  /**
   * Resolves with the reason when the MCP server child cannot be kept running (it died with
   * MCP_SERVER_RESTART=exit, or restarts kept failing): the process should then exit non-zero.
   */
  mcpServerFailed: Promise<string> | undefined;
  readiness: Readiness;
  /** Stops accepting connections, drains, then stops the MCP server child and closes storage. */
  stop(options?: StopOptions): Promise<DrainResult>;
}

/** Listens on PORT; a port that cannot be had is named, with what to do. */
async function listen(server: Server, config: Config): Promise<void> {
  server.listen(config.port, config.listenHost);
  try {
    await once(server, 'listening');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const where = `${config.listenHost ?? 'every interface'} port ${config.port}`;
    if (code === 'EADDRINUSE') throw new Error(`PORT: ${config.port} is already in use (${where}); stop what listens there or choose another PORT`);
    if (code === 'EACCES') throw new Error(`PORT: ${config.port} needs privileges this process lacks (${where}); choose a PORT above 1023`);
    if (code === 'EADDRNOTAVAIL') throw new Error(`MCP_AUTH_PROXY_LISTEN_HOST: ${config.listenHost} is not an address of this machine`);
    throw err;
  }
}

async function openStore(config: Config, logger: Logger): Promise<KeyValueStore> {
  // Without Redis: the in-memory store (main.ts has warned about it, as `config` does).
  if (!config.redis.url) return new MemoryStore();
  const warnEvery = throttledLogger(logger);
  return connectRedis({ ...config.redis, url: config.redis.url }, (err) => warnEvery.warn({ message: err.message }, 'Redis connection error'));
}

/**
 * `signal` interrupts startup (SIGTERM before we listen): what was started is stopped.
 * `telemetry` is started (and stopped) by the caller, before the app's modules are imported.
 */
export async function startProxy(config: Config, logger: Logger, signal?: AbortSignal, telemetry: Telemetry = NO_TELEMETRY): Promise<RunningProxy> {
  const store = await openStore(config, logger);
  let child: McpServerSupervisor | undefined;
  let stdioServers: StdioServerPool | undefined;
  let demoIdp: DevIdp | undefined;
  // Its background discovery must stop if a later step fails.
  let startedProviders: IdentityProviders | undefined;
  try {
    // The demo's identity provider runs in this process, started before discovery needs it.
    if (config.demo) demoIdp = await startDemoIdentityProvider(config, (err) => logger.error({ err }, 'demo identity provider error'));
    // The release check must prove the IdP answers; a running proxy starts through an IdP outage
    // (its metadata loads in the background) because /mcp needs the IdP only for refreshes.
    const providers = await IdentityProviders.start(config.identities, store, logger, { connect: config.verifyRelease });
    startedProviders = providers;
    // With discovery, the IdP's scopes are known only now (a metadata file's: at configuration).
    for (const { settings, upstream } of providers.all) {
      if (!settings.metadata && upstream.unlistedScopes.length > 0) logger.warn(unlistedScopesWarning(upstream.unlistedScopes));
    }
    const vault = new UpstreamTokenVault(store, config.vaultKeys);
    const accounts = new AccountStore(store, config.provider.grantTtl);
    const bus = new InvalidationBus(store);
    await bus.start();
    // A revoked grant's upstream tokens are revoked at the IdP too (best effort: it may be down).
    const onGrantEnd = async (grantId: string) => {
      const tokens = await vault.load(grantId);
      if (!tokens) return;
      providers.of(tokens).upstream.revoke(tokens).catch((err: Error) => logger.warn({ grantId, message: err.message }, 'upstream token revocation failed'));
    };
    const callers = new CallerCache(bus, { ttlMs: config.mcp.tokenCacheTtlMs, maxEntries: 10_000 });
    const metrics = new ProxyMetrics(telemetry.meter);
    const audit = new AuditLog(logger, telemetry.auditLogs);
    const refresher = new UpstreamRefresher(store, vault, providers, bus, logger, onGrantEnd, { metrics, audit });
    // An operator's template that fails is logged once per file and error; ours stands in.
    const templateFailures = new Set<string>();
    // Records Heroku's proxy left under the same prefix: cleaned on read, and all once, in the background.
    if (config.redis.url && !config.verifyRelease) void sweepHerokuClients(store, signableAlgorithms(config.provider.jwks), DEFAULT_RECORD_TTL_SECONDS, logger);
    const render = createPages(config, (file, err) => {
      const key = `${file}\0${err.message}`;
      if (templateFailures.has(key)) return;
      templateFailures.add(key);
      logger.error({ file, message: err.message.split('\n').at(-1) }, 'OIDC_PROVIDER_VIEWS_PATH: a template failed; the built-in one was used instead');
    });
    const provider = createProvider({ config, logger, store, accounts, bus, onGrantEnd, metrics, audit, render });

    signal?.throwIfAborted();
    if (config.mcp.child && config.mcp.serverUrl) child = await McpServerSupervisor.start(config.mcp.child, config.mcp.serverUrl, logger, signal);
    if (config.mcp.stdio) {
      // Processes start with sessions; a command that cannot run fails the boot (and the release phase) now.
      checkCommand(config.mcp.stdio);
      stdioServers = new StdioServerPool(config.mcp.stdio, logger, metrics, {
        clientInfo: { name: 'mcp-auth-proxy', version: PROXY_VERSION },
        refreshSkewMs: config.mcp.upstreamRefreshSkewSeconds * 1000,
      });
      if (config.mcp.stdio.isolation === 'shared') await stdioServers.startShared();
    }
    signal?.throwIfAborted();

    const drain = new HttpDrain();
    const readiness = new Readiness({
      store,
      usesRedis: config.redis.url !== undefined,
      mcpServer: child,
      identityLoaded: () => providers.metadataLoaded,
      draining: () => drain.draining,
    });
    const app = createApp({
      config,
      logger,
      provider,
      store,
      providers,
      vault,
      accounts,
      refresher,
      callers,
      render,
      readiness,
      streams: drain,
      mcpServer: child,
      stdioServers,
      metrics,
      audit,
      scrape: telemetry.scrape,
    });
    const server = createServer((req, res) => {
      toOriginForm(req);
      drain.track(req, res);
      app(req, res);
    });
    // Long tool calls and open SSE streams must not be cut by Node's request timeout.
    server.requestTimeout = 0;
    server.headersTimeout = 60_000;
    server.keepAliveTimeout = 65_000;
    await listen(server, config);
    logger.info({ url: `${config.baseUrl}${config.mcp.mountPath}` }, 'MCP auth proxy listening');

    const mcpServer = child;
    let stopping: Promise<DrainResult> | undefined;
    return {
      server,
      provider,
      store,
      mcpServer,
      stdioServers,
      mcpServerFailed: mcpServer?.failed,
      readiness,
      stop(options = {}) {
        // The MCP server keeps running during the drain: in-flight calls need it.
        stopping ??= (async () => {
          mcpServer?.shuttingDown();
          const result = await drain.drain(server, options.drainMs ?? 0);
          await mcpServer?.stop();
          await stdioServers?.close();
          providers.stop();
          await demoIdp?.stop();
          await store.close();
          return result;
        })();
        return stopping;
      },
    };
  } catch (err) {
    startedProviders?.stop();
    await child?.stop();
    await stdioServers?.close();
    await demoIdp?.stop();
    await store.close();
    throw err;
  }
}
