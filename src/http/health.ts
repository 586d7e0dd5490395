// Health endpoints for the platform and for operators: /healthz (liveness: the process answers,
// whatever its dependencies do) and /readyz (Redis answers and takes writes, the MCP server
// child is ready, the IdP metadata is loaded, not draining). No auth, no rate limit, no request
// log line; the body names the failing check without hostnames or secrets. Round trips (Redis
// PING and a small write, a connection to the child's port) run at most once per cacheMs however
// often it is probed, each bounded by a short timeout.
import { Router, type Response } from 'express';
import type { McpServerSupervisor } from '../mcp/supervisor.js';
import type { KeyValueStore } from '../storage/store.js';
import { keys } from '../storage/keys.js';

export interface ReadinessSources {
  store: KeyValueStore;
  /** False with the in-memory store (local use): there is no Redis to reach. */
  usesRedis: boolean;
  /** Unset when the MCP server runs elsewhere (not our child). */
  mcpServer: McpServerSupervisor | undefined;
  identityLoaded(): boolean;
  draining(): boolean;
}

export interface ReadinessChecks {
  /** `full`: Redis refuses writes for want of memory (maxmemory); reads and revocations still work. */
  redis: 'ok' | 'unreachable' | 'full' | 'not_configured';
  mcp_server: 'ready' | 'starting' | 'restarting' | 'failed' | 'stopped' | 'not_accepting' | 'not_managed';
  identity_provider: 'loaded' | 'not_loaded';
}

export interface ReadinessReport {
  ready: boolean;
  draining: boolean;
  checks: ReadinessChecks;
  /** Names of the checks that failed (plus `draining`). */
  failing: string[];
}

const PASSING: Record<keyof ReadinessChecks, readonly string[]> = {
  redis: ['ok', 'not_configured'],
  mcp_server: ['ready', 'not_managed'],
  identity_provider: ['loaded'],
};

function within<T>(promise: Promise<T>, ms: number, fallback: T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<T>((resolve) => (timer = setTimeout(() => resolve(fallback), ms)));
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/** A probe whose result is reused for a short while, with concurrent callers sharing one run. */
class CachedProbe<T> {
  #cached: { at: number; value: T } | undefined;
  #pending: Promise<T> | undefined;

  constructor(
    private readonly run: () => Promise<T>,
    private readonly cacheMs: number,
    private readonly now: () => number,
  ) {}

  get(): Promise<T> {
    if (this.#cached && this.now() - this.#cached.at < this.cacheMs) return Promise.resolve(this.#cached.value);
    this.#pending ??= this.run().then((value) => {
      this.#cached = { at: this.now(), value };
      this.#pending = undefined;
      return value;
    });
    return this.#pending;
  }
}

export class Readiness {
  readonly #sources: ReadinessSources;
  readonly #redisPing: CachedProbe<'ok' | 'unreachable' | 'full'>;
  readonly #mcpServerProbe: CachedProbe<ReadinessChecks['mcp_server']>;

  /** `now`: the clock of the probe cache (tests move it instead of waiting). */
  constructor(sources: ReadinessSources, options: { cacheMs?: number; timeoutMs?: number; now?: () => number } = {}) {
    this.#sources = sources;
    const cacheMs = options.cacheMs ?? 1000;
    const now = options.now ?? Date.now;
    const timeoutMs = options.timeoutMs ?? 1000;
    // What costs a round trip (a Redis PING, a TCP connection to the child) is cached; the
    // in-process states (Redis connection, child process, draining) are read on every probe.
    // A write, not only a PING: a Redis at maxmemory answers PING and refuses every sign-in.
    const ping = async (): Promise<'ok' | 'unreachable' | 'full'> => {
      try {
        await sources.store.ping();
        await sources.store.set(keys.readinessProbe, String(Date.now()), 60);
        return 'ok';
      } catch {
        return sources.store.available && sources.store.refusingWrites ? 'full' : 'unreachable';
      }
    };
    this.#redisPing = new CachedProbe(() => within(ping(), timeoutMs, 'unreachable'), cacheMs, now);
    this.#mcpServerProbe = new CachedProbe(
      () => within(sources.mcpServer?.check() ?? Promise.resolve('not_managed' as const), timeoutMs, 'not_accepting'),
      cacheMs,
      now,
    );
  }

  async report(): Promise<ReadinessReport> {
    const { store, usesRedis, mcpServer, identityLoaded, draining: isDraining } = this.#sources;
    const redis = async (): Promise<ReadinessChecks['redis']> => {
      if (!usesRedis) return 'not_configured';
      return store.available ? this.#redisPing.get() : 'unreachable';
    };
    const mcp = async (): Promise<ReadinessChecks['mcp_server']> => {
      if (!mcpServer) return 'not_managed';
      return mcpServer.state === 'ready' ? this.#mcpServerProbe.get() : mcpServer.state;
    };
    const [redisState, mcpState] = await Promise.all([redis(), mcp()]);
    const checks: ReadinessChecks = {
      redis: redisState,
      mcp_server: mcpState,
      identity_provider: identityLoaded() ? 'loaded' : 'not_loaded',
    };
    const draining = isDraining();
    const failing: string[] = (Object.keys(checks) as (keyof ReadinessChecks)[]).filter(
      (name) => !PASSING[name].includes(checks[name]),
    );
    if (draining) failing.push('draining');
    return { ready: failing.length === 0, draining, checks, failing };
  }
}

function noStore(res: Response): Response {
  return res.set('Cache-Control', 'no-store');
}

export function healthRouter(readiness: Readiness): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    noStore(res).json({ status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    const report = await readiness.report();
    noStore(res)
      .status(report.ready ? 200 : 503)
      .json({ status: report.ready ? 'ready' : 'not_ready', draining: report.draining, checks: report.checks, failing: report.failing });
  });
  return router;
}
