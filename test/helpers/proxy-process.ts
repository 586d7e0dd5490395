// The compiled command-line entry (bin/mcp-auth-proxy.js on dist/) as a real process, for tests
// of what only a process shows: signals, exit codes, its children, loaded modules, exports at
// exit. Run `npm run build` first.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { waitForPort } from './ports.js';
import { live, spawnProcess, stopProcess, type Env, type ProcessResult, type RunningProcess } from './processes.js';

export { baseEnvironment, isAlive, portAccepts, type Env } from './processes.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const BIN = join(ROOT, 'bin', 'mcp-auth-proxy.js');

export type ProxyResult = ProcessResult;

let built: Promise<void> | undefined;

/** `npm run build`, once per test run: every process test runs the compiled dist/. */
export function buildOnce(): Promise<void> {
  built ??= promisify(execFile)('npm', ['run', 'build'], { cwd: ROOT }).then(() => undefined);
  return built;
}

export interface ProxyProcess extends RunningProcess {
  /** Resolves once the proxy's port accepts connections; rejects if it exits first. */
  waitForListening(port: number): Promise<void>;
  /** SIGTERM (its group's, for a group leader), then SIGKILL if it hangs; resolves with how it ended. */
  stop(): Promise<ProxyResult>;
}

export interface SpawnProxyOptions {
  /** Options for node itself, before the script (e.g. --import a probe). */
  nodeArgs?: string[];
  /** In a process group of its own (as a shell job is), so a test can signal the whole group. */
  groupLeader?: boolean;
}

/** Spawns `node [nodeArgs] bin/mcp-auth-proxy.js <args>` in the project root with exactly `env`. */
export function spawnProxy(args: string[], env: Env, options: SpawnProxyOptions = {}): ProxyProcess {
  const handle = spawnProcess(process.execPath, [...(options.nodeArgs ?? []), BIN, ...args], {
    cwd: ROOT,
    env,
    detached: options.groupLeader ?? false,
  });
  return {
    ...handle,
    waitForListening: (port) =>
      Promise.race([
        waitForPort(port, '127.0.0.1', 25_000),
        handle.exited.then((r) => {
          throw new Error(`the proxy exited (code ${r.code}) before listening\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
        }),
      ]),
    async stop() {
      await stopProcess(handle);
      return handle.exited;
    },
  };
}

/** Runs `bin/mcp-auth-proxy.js <args>` to its end. */
export function runProxy(args: string[], env: Env): Promise<ProxyResult> {
  return spawnProxy(args, env).exited;
}

export const stopProxy = (handle: RunningProcess): Promise<void> => stopProcess(handle);

/** Stops every process these helpers started that still runs (for afterEach). */
export async function stopAllProxies(): Promise<void> {
  await Promise.all([...live].map(stopProcess));
}

/** The JSON lines of a production proxy's stdout. */
export function jsonLines(stdout: string): Record<string, unknown>[] {
  return stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}
