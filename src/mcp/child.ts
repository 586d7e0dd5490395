// One run of the HTTP MCP server as a child process (in its own process group, process-group.ts):
// ready once MCP_SERVER_URL's port accepts connections (not when it first prints), its output
// logged as the child's.
import { connect } from 'node:net';
import { createInterface } from 'node:readline';
import type { Logger } from 'pino';
import type { ChildProcessConfig } from '../config/types.js';
import { describeExit, spawnProcessGroup, type ChildExit } from './process-group.js';

export { describeExit, type ChildExit } from './process-group.js';

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

export function spawnMcpChild(settings: ChildProcessConfig, serverUrl: URL, logger: Logger): McpChildRun {
  const log = logger.child({ child: 'mcp-server' });
  const group = spawnProcessGroup({ ...settings, stdin: 'ignore', log });
  for (const [name, stream] of [['stdout', group.child.stdout], ['stderr', group.child.stderr]] as const) {
    if (stream) createInterface({ input: stream }).on('line', (line) => log.info({ stream: name }, line));
  }
  const { stop } = group;

  const { host, port } = hostAndPort(serverUrl);
  const waitUntilReady = async (timeoutMs: number, signal?: AbortSignal): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (signal?.aborted) {
        await stop();
        throw new Error('startup interrupted');
      }
      if (group.exit) {
        throw new Error(`MCP_SERVER_RUN_COMMAND: the MCP server ${describeExit(group.exit)} before accepting connections`);
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
    if (group.exit) throw new Error(`MCP_SERVER_RUN_COMMAND: the MCP server ${describeExit(group.exit)} before accepting connections`);
  };

  return {
    pid: group.pid,
    exited: group.exited,
    get stopping() {
      return group.stopping;
    },
    waitUntilReady,
    stop,
  };
}
