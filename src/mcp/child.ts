// One run of the MCP server as a child process: spawned in its own process group (so a Ctrl-C
// or a signal to our group does not stop it before we have drained), ready once MCP_SERVER_URL's
// port accepts connections (not when it first prints), its output logged as the child's, and
// stopped on every way out of the proxy: stop(), and a SIGKILL from our 'exit' handler.
import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { createInterface } from 'node:readline';
import type { Logger } from 'pino';
import type { ChildProcessConfig } from '../config/types.js';

// POSIX only: elsewhere the child stays in our group and only it is signalled.
const OWN_GROUP = process.platform !== 'win32';

export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Set when the command could not be started at all (e.g. ENOENT). */
  error?: string;
}

export interface McpChildRun {
  readonly pid: number | undefined;
  /** Settles when the process has exited, for whatever reason (including stop()). */
  readonly exited: Promise<ChildExit>;
  /** Whether stop() was called: its exit is then expected. */
  readonly stopping: boolean;
  /**
   * Resolves once the port accepts connections; rejects when the process exits first, when
   * `timeoutMs` passes (the process is then stopped), or when `signal` aborts.
   */
  waitUntilReady(timeoutMs: number, signal?: AbortSignal): Promise<void>;
  /** SIGTERM to the process group, SIGKILL after MCP_SERVER_STOP_TIMEOUT_MS. */
  stop(): Promise<void>;
}

/** One TCP connection attempt, bounded, so a probe never hangs. */
export function portAccepts(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (accepted: boolean) => {
      socket.destroy();
      resolve(accepted);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

export function hostAndPort(serverUrl: URL): { host: string; port: number } {
  return {
    host: serverUrl.hostname.replace(/^\[|\]$/g, ''),
    port: Number(serverUrl.port || (serverUrl.protocol === 'https:' ? 443 : 80)),
  };
}

export function describeExit({ code, signal, error }: ChildExit): string {
  if (error) return `could not be started (${error})`;
  return signal ? `was killed by ${signal}` : `exited with code ${code}`;
}

export function spawnMcpChild(settings: ChildProcessConfig, serverUrl: URL, logger: Logger): McpChildRun {
  const log = logger.child({ child: 'mcp-server' });
  const child: ChildProcess = spawn(settings.command, settings.args, {
    cwd: settings.cwd,
    env: settings.env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: OWN_GROUP,
  });
  for (const [name, stream] of [['stdout', child.stdout], ['stderr', child.stderr]] as const) {
    if (stream) createInterface({ input: stream }).on('line', (line) => log.info({ stream: name }, line));
  }

  /** Signals the whole group (the command may be a wrapper such as npx with the server below it). */
  const signalGroup = (signal: NodeJS.Signals) => {
    if (child.pid === undefined) return;
    try {
      if (OWN_GROUP) process.kill(-child.pid, signal);
      else child.kill(signal);
    } catch {
      // ESRCH: the group is already gone.
    }
  };
  // However the proxy ends (process.exit, an uncaught error), the child does not outlive it.
  const killOnExit = () => signalGroup('SIGKILL');
  process.on('exit', killOnExit);

  let stopping = false;
  let exitInfo: ChildExit | undefined;
  const exited = new Promise<ChildExit>((resolve) => {
    const onGone = (info: ChildExit) => {
      if (exitInfo) return;
      exitInfo = info;
      process.off('exit', killOnExit);
      // What the leader left behind in its group (e.g. a server under npx) must not hold the port.
      signalGroup('SIGKILL');
      resolve(info);
    };
    child.once('exit', (code, signal) => onGone({ code, signal }));
    child.once('error', (err) => onGone({ code: null, signal: null, error: err.message }));
  });

  const stop = async (): Promise<void> => {
    stopping = true;
    if (exitInfo) return;
    signalGroup('SIGTERM');
    const killer = setTimeout(() => {
      log.warn({ timeoutMs: settings.stopTimeoutMs }, 'MCP server did not exit after SIGTERM: SIGKILL');
      signalGroup('SIGKILL');
    }, settings.stopTimeoutMs);
    await exited;
    clearTimeout(killer);
  };

  const { host, port } = hostAndPort(serverUrl);
  const waitUntilReady = async (timeoutMs: number, signal?: AbortSignal): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (signal?.aborted) {
        await stop();
        throw new Error('startup interrupted');
      }
      if (exitInfo) {
        throw new Error(`MCP_SERVER_RUN_COMMAND: the MCP server ${describeExit(exitInfo)} before accepting connections`);
      }
      if (await portAccepts(host, port)) break;
      if (Date.now() > deadline) {
        await stop();
        throw new Error(
          `MCP_SERVER_READY_TIMEOUT_MS: the MCP server did not accept connections on ${host}:${port} within ${timeoutMs} ms (check MCP_SERVER_URL's port)`,
        );
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    // The port may belong to a stale process: only a live child of ours counts as ready.
    if (exitInfo) throw new Error(`MCP_SERVER_RUN_COMMAND: the MCP server ${describeExit(exitInfo)} before accepting connections`);
  };

  return {
    pid: child.pid,
    exited,
    get stopping() {
      return stopping;
    },
    waitUntilReady,
    stop,
  };
}
