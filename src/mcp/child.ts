// The MCP server as a child process: started before we listen, ready once MCP_SERVER_URL's port
// accepts connections (not when it first prints), its output logged as the child's, and its
// exit reported so the proxy can stop instead of serving a dead endpoint.
import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { createInterface } from 'node:readline';
import type { Logger } from 'pino';
import type { ChildProcessConfig } from '../config/index.js';

export interface McpChild {
  /** Resolves with the exit code when the child exits on its own (not through stop()). */
  readonly exited: Promise<number>;
  stop(): Promise<void>;
}

function portAccepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** `signal` aborts the wait for readiness (a SIGTERM during startup) and stops the child. */
export async function startMcpChild(
  settings: ChildProcessConfig,
  serverUrl: URL,
  logger: Logger,
  signal?: AbortSignal,
): Promise<McpChild> {
  const log = logger.child({ child: 'mcp-server' });
  const child: ChildProcess = spawn(settings.command, settings.args, {
    cwd: settings.cwd,
    env: settings.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  for (const [name, stream] of [['stdout', child.stdout], ['stderr', child.stderr]] as const) {
    if (stream) createInterface({ input: stream }).on('line', (line) => log.info({ stream: name }, line));
  }

  let stopping = false;
  let exitCode: number | undefined;
  let reportUnexpectedExit: (code: number) => void = () => {};
  // `exited` is for the supervisor: it settles only when the child dies on its own.
  const exited = new Promise<number>((resolve) => (reportUnexpectedExit = resolve));
  const gone = new Promise<number>((resolve) => {
    const onGone = (code: number) => {
      exitCode = code;
      if (!stopping) reportUnexpectedExit(code);
      resolve(code);
    };
    child.once('exit', (code, signal) => {
      if (!stopping) log.error({ code, signal }, 'MCP server process exited');
      onGone(code ?? (signal ? 128 : 1));
    });
    child.once('error', (err) => {
      log.error({ message: err.message }, 'MCP server process could not start');
      onGone(127);
    });
  });

  const stop = async (): Promise<void> => {
    stopping = true;
    if (exitCode !== undefined) return;
    child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), 10_000).unref();
    await gone;
    clearTimeout(killer);
  };

  const host = serverUrl.hostname.replace(/^\[|\]$/g, '');
  const port = Number(serverUrl.port || (serverUrl.protocol === 'https:' ? 443 : 80));
  const deadline = Date.now() + settings.readyTimeoutMs;
  for (;;) {
    if (signal?.aborted) {
      await stop();
      throw new Error('startup interrupted');
    }
    if (exitCode !== undefined) {
      throw new Error(`MCP_SERVER_RUN_COMMAND: the MCP server exited with code ${exitCode} before accepting connections`);
    }
    if (await portAccepts(host, port)) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(
        `MCP_SERVER_READY_TIMEOUT_MS: the MCP server did not accept connections on ${host}:${port} within ${settings.readyTimeoutMs} ms (check MCP_SERVER_URL's port)`,
      );
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  log.info({ port }, 'MCP server is accepting connections');
  return { exited, stop };
}
