// Keeps the MCP server child running: the first start must succeed (a broken command fails the
// boot and the release phase), later crashes are restarted with exponential backoff, or end the
// proxy when MCP_SERVER_RESTART=exit or when restarts keep failing. Its state feeds /readyz and
// lets /mcp answer 503 at once while the child is down instead of trying a dead port.
import type { Logger } from 'pino';
import type { ChildProcessConfig } from '../config/types.js';
import { describeExit, hostAndPort, portAccepts, spawnMcpChild, type ChildExit, type McpChildRun } from './child.js';

export type McpServerState = 'starting' | 'ready' | 'restarting' | 'failed' | 'stopped';

export interface SupervisorOptions {
  /** A child that stayed ready this long has recovered: its next crash starts the backoff anew. */
  stableMs?: number;
  /** The clock (tests move it instead of waiting). */
  now?: () => number;
}

/** Delay before restart number `attempt` (1-based): initial, doubling, capped. */
export function restartDelay(attempt: number, initialMs: number, maxMs: number): number {
  return Math.min(initialMs * 2 ** Math.min(attempt - 1, 30), maxMs);
}

export class McpServerSupervisor {
  readonly #settings: ChildProcessConfig;
  readonly #serverUrl: URL;
  readonly #logger: Logger;
  readonly #log: Logger;
  readonly #stableMs: number;
  readonly #now: () => number;
  #state: McpServerState = 'starting';
  #run: McpChildRun | undefined;
  /** Consecutive restarts that did not stay up for stableMs. */
  #attempts = 0;
  #readyAt = 0;
  #nextAttemptAt = 0;
  #timer: NodeJS.Timeout | undefined;
  #shuttingDown = false;
  #giveUp: (reason: string) => void = () => {};
  /** Resolves with the reason when the supervisor gives up; the proxy should then exit non-zero. */
  readonly failed: Promise<string>;

  private constructor(settings: ChildProcessConfig, serverUrl: URL, logger: Logger, options: SupervisorOptions) {
    this.#settings = settings;
    this.#serverUrl = serverUrl;
    this.#logger = logger;
    this.#log = logger.child({ child: 'mcp-server' });
    this.#stableMs = options.stableMs ?? 60_000;
    this.#now = options.now ?? Date.now;
    this.failed = new Promise((resolve) => (this.#giveUp = resolve));
  }

  /** Starts the child and waits until it accepts connections; throws (naming the setting) if it cannot. */
  static async start(
    settings: ChildProcessConfig,
    serverUrl: URL,
    logger: Logger,
    signal?: AbortSignal,
    options: SupervisorOptions = {},
  ): Promise<McpServerSupervisor> {
    const supervisor = new McpServerSupervisor(settings, serverUrl, logger, options);
    const run = spawnMcpChild(settings, serverUrl, logger);
    supervisor.#run = run;
    try {
      await run.waitUntilReady(settings.readyTimeoutMs, signal);
    } catch (err) {
      supervisor.#state = 'stopped';
      await run.stop();
      throw err;
    }
    supervisor.#becameReady(run, 'MCP server is accepting connections');
    return supervisor;
  }

  get state(): McpServerState {
    return this.#state;
  }

  get ready(): boolean {
    return this.#state === 'ready';
  }

  /** Seconds until the child may be back (for Retry-After), at least 1. */
  get retryAfterSeconds(): number {
    const waitMs = this.#state === 'restarting' ? this.#nextAttemptAt - this.#now() : 0;
    return Math.max(1, Math.ceil(waitMs / 1000));
  }

  /** The state for /readyz; a ready child must also still accept connections. */
  async check(): Promise<McpServerState | 'not_accepting'> {
    if (this.#state !== 'ready') return this.#state;
    const { host, port } = hostAndPort(this.#serverUrl);
    return (await portAccepts(host, port)) ? 'ready' : 'not_accepting';
  }

  /** A restart is scheduled (the child crashed and its backoff delay runs). */
  get restartPending(): boolean {
    return this.#timer !== undefined;
  }

  /**
   * The proxy is shutting down: the child keeps serving the drain, but if it exits now (on
   * Heroku every process of the dyno gets the SIGTERM) it is not restarted.
   */
  shuttingDown(): void {
    if (this.#state === 'failed' || this.#state === 'stopped') return;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#state === 'restarting') this.#state = 'stopped';
    this.#shuttingDown = true;
  }

  async stop(): Promise<void> {
    this.#shuttingDown = true;
    if (this.#state !== 'failed') this.#state = 'stopped';
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#run?.stop();
  }

  #becameReady(run: McpChildRun, message: string): void {
    this.#state = 'ready';
    this.#readyAt = this.#now();
    const { port } = hostAndPort(this.#serverUrl);
    this.#log.info({ port, childPid: run.pid }, message);
    void run.exited.then((exit) => {
      if (!run.stopping && this.#run === run && this.#state === 'ready') this.#crashed(exit);
    });
  }

  #crashed(exit: ChildExit): void {
    const upMs = this.#now() - this.#readyAt;
    if (this.#shuttingDown) {
      this.#state = 'stopped';
      this.#log.info({ code: exit.code, signal: exit.signal }, `MCP server process ${describeExit(exit)} during shutdown`);
      return;
    }
    this.#log.error({ code: exit.code, signal: exit.signal, upMs }, `MCP server process ${describeExit(exit)}`);
    if (this.#settings.restart.policy === 'exit') {
      return this.#fail(`the MCP server process ${describeExit(exit)} (MCP_SERVER_RESTART=exit)`);
    }
    if (upMs >= this.#stableMs) this.#attempts = 0;
    this.#scheduleRestart();
  }

  #scheduleRestart(): void {
    const { initialDelayMs, maxDelayMs, maxAttempts } = this.#settings.restart;
    this.#attempts += 1;
    if (this.#attempts > maxAttempts) {
      return this.#fail(
        `the MCP server kept failing: giving up after ${maxAttempts} consecutive restarts (MCP_SERVER_RESTART_MAX_ATTEMPTS)`,
      );
    }
    const delayMs = restartDelay(this.#attempts, initialDelayMs, maxDelayMs);
    this.#state = 'restarting';
    this.#nextAttemptAt = this.#now() + delayMs;
    this.#log.warn({ attempt: this.#attempts, maxAttempts, delayMs }, 'restarting the MCP server');
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.#restart();
    }, delayMs);
  }

  async #restart(): Promise<void> {
    if (this.#state !== 'restarting' || this.#shuttingDown) return;
    this.#state = 'starting';
    const run = spawnMcpChild(this.#settings, this.#serverUrl, this.#logger);
    this.#run = run;
    try {
      await run.waitUntilReady(this.#settings.readyTimeoutMs);
    } catch (err) {
      if (this.#state !== 'starting') return; // stopped meanwhile
      this.#log.error({ message: (err as Error).message }, 'MCP server restart failed');
      await run.stop();
      if (this.#state === 'starting' && !this.#shuttingDown) this.#scheduleRestart();
      return;
    }
    if (this.#state !== 'starting') return;
    if (this.#shuttingDown) return void run.stop();
    this.#becameReady(run, 'MCP server restarted and is accepting connections');
  }

  #fail(reason: string): void {
    this.#state = 'failed';
    this.#log.fatal({ reason }, 'MCP server supervision gave up');
    this.#giveUp(reason);
  }
}
