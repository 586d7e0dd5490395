// The stdio server processes of this proxy instance: which one serves a new session
// (MCP_SERVER_STDIO_ISOLATION), what each is given (its user's identity and upstream token, never
// the proxy's secrets), the limits in all and per user, the startup deadline, the idle timeout,
// and stopping them all at shutdown.
//
// A refreshed upstream token reaches the server at the next session boundary: a process keeps the
// token it was started with; a new session of a user whose token has changed since gets a new
// process (isolation `user`: the old one serves its sessions until they end, then stops).
import type { Logger } from 'pino';
import type { StdioServersConfig } from '../../config/types.js';
import { problems } from '../../http/problems.js';
import type { ProxyMetrics } from '../../telemetry/metrics.js';
import type { McpCaller } from '../caller.js';
import { ProcessChannel } from './channel.js';
import { StdioServerProcess } from './process.js';

/** Retry-After when the limits refuse a session: an idle process may have stopped by then. */
const CAPACITY_RETRY_AFTER_SECONDS = 30;
/**
 * A user's process with nothing in flight, no open stream and no message for this long makes
 * room for their new session when they are at their limit: most clients leave without ending
 * their session (the MCP SDK's close() sends no DELETE), and a restarted client is still the
 * same person.
 */
export const EVICTABLE_AFTER_MS = 30_000;

/** Who a process serves; undefined: everyone (`shared`). */
export interface ProcessOwner {
  accountId: string;
  email: string | undefined;
  /** The upstream access token it was given (MCP_SERVER_TOKEN_ENV), and when that expires (epoch seconds). */
  token: string | undefined;
  expiresAt: number | undefined;
}

interface Entry {
  /** Set while new sessions may reuse it (user, shared, stateless requests). */
  key: string | undefined;
  /** Being stopped: it no longer counts against the limits. */
  stopping: boolean;
  owner: ProcessOwner | undefined;
  process: StdioServerProcess;
  channel: ProcessChannel;
}

export interface PoolOptions {
  now?: () => number;
  /** A process whose token expires within this long is replaced at the next session (MCP_AUTH_PROXY_UPSTREAM_REFRESH_SKEW_SECONDS). */
  refreshSkewMs: number;
  clientInfo: { name: string; version: string };
}

export class StdioServerPool {
  readonly #config: StdioServersConfig;
  readonly #log: Logger;
  readonly #metrics: ProxyMetrics;
  readonly #options: PoolOptions;
  readonly #now: () => number;
  readonly #entries = new Set<Entry>();
  readonly #byKey = new Map<string, Entry>();
  readonly #sweeper: NodeJS.Timeout;
  #closing = false;

  constructor(config: StdioServersConfig, logger: Logger, metrics: ProxyMetrics, options: PoolOptions) {
    this.#config = config;
    this.#log = logger.child({ child: 'mcp-server' });
    this.#metrics = metrics;
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#sweeper = setInterval(() => this.sweep(), Math.max(50, Math.min(config.idleTimeoutMs / 2, 30_000))).unref();
  }

  /** Processes alive. */
  get size(): number {
    return this.#entries.size;
  }

  /** The pids of the processes alive (for operators' tooling and tests). */
  pids(): number[] {
    return [...this.#entries].flatMap(({ process }) => (process.pid === undefined ? [] : [process.pid]));
  }

  /** The process a new session of this caller talks to (its initialize goes there). */
  forSession(caller: McpCaller): ProcessChannel {
    const isolation = this.#config.isolation;
    if (isolation === 'session') return this.#spawn(undefined, this.#ownerOf(caller)).channel;
    return this.#reuseOrSpawn(isolation === 'shared' ? 'shared' : `user:${caller.accountId}`, caller);
  }

  /** The process for requests without a session (2026-07-28): the caller's own, initialized by the proxy. */
  async forStateless(caller: McpCaller): Promise<ProcessChannel> {
    const key = this.#config.isolation === 'shared' ? 'shared' : `user:${caller.accountId}`;
    const channel = this.#reuseOrSpawn(key, caller);
    await channel.initializeAsProxy();
    return channel;
  }

  /** Isolation `shared`: its one process starts with the proxy (a broken command fails the boot). */
  async startShared(): Promise<void> {
    const channel = this.#reuseOrSpawn('shared', undefined);
    try {
      await channel.initializeAsProxy();
    } catch (err) {
      throw new Error(`MCP_SERVER_RUN_COMMAND: ${(err as Error).message}`, { cause: err });
    }
  }

  /** Stops the processes with nothing in flight and no client for MCP_SERVER_STDIO_IDLE_TIMEOUT_SECONDS. */
  sweep(): void {
    const now = this.#now();
    for (const entry of this.#entries) {
      if (entry.channel.busy || now - entry.channel.lastActive < this.#config.idleTimeoutMs) continue;
      this.#log.info({ pid: entry.process.pid }, 'stdio MCP server process idle: stopping it');
      void this.#stop(entry, 'The MCP server process was stopped after being idle');
    }
  }

  /** Stops every process (shutdown): their sessions end. */
  async close(): Promise<void> {
    this.#closing = true;
    clearInterval(this.#sweeper);
    await Promise.all([...this.#entries].map((entry) => this.#stop(entry, 'The proxy is shutting down')));
  }

  #reuseOrSpawn(key: string, caller: McpCaller | undefined): ProcessChannel {
    const owner = key === 'shared' || !caller ? undefined : this.#ownerOf(caller);
    const existing = this.#byKey.get(key);
    if (existing && existing.channel.ended === undefined) {
      // It keeps the token it started with: once that nears expiry, the caller's (refreshed) one
      // needs a new process. Another valid token of the same user (another client) changes nothing.
      if (existing.owner?.token === owner?.token || !this.#expiring(existing.owner)) return existing.channel;
      this.#retire(existing);
    }
    const entry = this.#spawn(key, owner);
    this.#byKey.set(key, entry);
    return entry.channel;
  }

  #ownerOf(caller: McpCaller): ProcessOwner {
    const token = this.#config.tokenEnv ? caller.upstream.accessToken : undefined;
    return { accountId: caller.accountId, email: caller.email, token, expiresAt: token ? caller.upstream.expiresAt : undefined };
  }

  #expiring(owner: ProcessOwner | undefined): boolean {
    return owner?.expiresAt !== undefined && owner.expiresAt * 1000 - this.#options.refreshSkewMs <= this.#now();
  }

  #spawn(key: string | undefined, owner: ProcessOwner | undefined): Entry {
    if (this.#closing) throw problems.unavailable('The proxy is shutting down', 5);
    const config = this.#config;
    // What counts against the limits: processes not being stopped (an eviction below stops one).
    const running = () => [...this.#entries].filter((e) => !e.stopping);
    const owners = () => (owner ? running().filter((e) => e.owner?.accountId === owner.accountId) : []);
    if (owner && owners().length >= config.maxProcessesPerUser) this.#evictIdle(owners());
    if (running().length >= config.maxProcesses) {
      this.#log.warn({ max: config.maxProcesses }, 'MCP_SERVER_STDIO_MAX_PROCESSES reached: a new session was refused');
      throw problems.stdioCapacity(config.maxProcesses, CAPACITY_RETRY_AFTER_SECONDS);
    }
    if (owner && owners().length >= config.maxProcessesPerUser) {
      throw problems.stdioUserCapacity(config.maxProcessesPerUser, CAPACITY_RETRY_AFTER_SECONDS);
    }
    const env = { ...config.env };
    if (owner) {
      env.MCP_USER_ID = owner.accountId;
      if (owner.email) env.MCP_USER_EMAIL = owner.email;
      if (config.tokenEnv && owner.token) env[config.tokenEnv] = owner.token;
    }
    const startedAt = performance.now();
    const process = new StdioServerProcess({
      command: config.command,
      args: config.args,
      cwd: config.cwd,
      env,
      stopTimeoutMs: config.stopTimeoutMs,
      secrets: owner?.token ? [owner.token] : [],
      log: this.#log,
    });
    const entry: Entry = { key, owner, stopping: false, process, channel: undefined as unknown as ProcessChannel };
    entry.channel = new ProcessChannel(process, {
      shared: config.isolation !== 'session',
      now: this.#now,
      clientInfo: this.#options.clientInfo,
      // A session's own process ends with it; a shared one when idle.
      onEmpty: () => {
        if (entry.key === undefined) void this.#stop(entry, 'The session ended');
      },
    });
    this.#entries.add(entry);
    this.#metrics.stdioProcessSpawned();
    this.#log.info({ pid: process.pid, isolation: config.isolation }, 'stdio MCP server process started');

    let started = false;
    const deadline = setTimeout(() => {
      const reason = `The MCP server process did not answer initialize within ${config.startTimeoutMs} ms (MCP_SERVER_READY_TIMEOUT_MS)`;
      this.#log.warn({ pid: process.pid, timeoutMs: config.startTimeoutMs }, 'stdio MCP server process did not answer initialize in time: stopping it');
      void this.#stop(entry, reason);
    }, config.startTimeoutMs);
    entry.channel.initialized.then(
      () => {
        started = true;
        clearTimeout(deadline);
        this.#metrics.stdioProcessStarted((performance.now() - startedAt) / 1000);
      },
      () => clearTimeout(deadline),
    );
    void process.exited.then(() => {
      this.#entries.delete(entry);
      if (entry.key !== undefined && this.#byKey.get(entry.key) === entry) this.#byKey.delete(entry.key);
      this.#metrics.stdioProcessEnded(!started ? 'start_failed' : process.stopping ? 'stopped' : 'crashed');
    });
    return entry;
  }

  /** No new session reuses it; it stops once its sessions have ended. */
  #retire(entry: Entry): void {
    if (entry.key !== undefined && this.#byKey.get(entry.key) === entry) this.#byKey.delete(entry.key);
    entry.key = undefined;
    if (entry.channel.sessions === 0) void this.#stop(entry, 'The MCP server process was replaced');
  }

  /** Stops the longest-idle of these processes, if one has been idle long enough to go. */
  #evictIdle(entries: Entry[]): void {
    const now = this.#now();
    const idle = entries
      .filter((e) => !e.channel.busy && now - e.channel.lastActive >= EVICTABLE_AFTER_MS)
      .sort((a, b) => a.channel.lastActive - b.channel.lastActive)[0];
    if (!idle) return;
    this.#log.info({ pid: idle.process.pid }, 'stdio MCP server process idle while its user started another session: stopping it');
    void this.#stop(idle, 'The MCP server process was stopped to make room for a new session of the same user');
  }

  async #stop(entry: Entry, reason: string): Promise<void> {
    entry.stopping = true;
    if (entry.key !== undefined && this.#byKey.get(entry.key) === entry) this.#byKey.delete(entry.key);
    entry.channel.end(reason);
    await entry.process.stop();
  }
}

