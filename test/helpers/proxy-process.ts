// The compiled command-line entry (bin/mcp-auth-proxy.js on dist/) as a real process, for tests
// of what only a process has: signals, exit codes, its children. Run `npm run build` first.
import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitForPort } from './ports.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const BIN = join(ROOT, 'bin', 'mcp-auth-proxy.js');
/** Variables a process needs to run at all; the rest of a test's environment is explicit. */
const INHERITED = ['PATH', 'HOME', 'TMPDIR', 'TMP', 'TEMP', 'LANG', 'LC_ALL', 'TZ', 'SYSTEMROOT'];

export type Env = Record<string, string>;

export interface ProxyResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface ProxyProcess {
  readonly proc: ChildProcess;
  readonly exited: Promise<ProxyResult>;
  stdout(): string;
  stderr(): string;
  /** Resolves once stdout matches `pattern`; rejects if the proxy exits first. */
  waitForOutput(pattern: RegExp): Promise<void>;
}

const live = new Set<ProxyProcess>();

export function inheritedEnv(): Env {
  return Object.fromEntries(INHERITED.flatMap((name) => (process.env[name] === undefined ? [] : [[name, process.env[name]!]])));
}

/**
 * Spawns `node bin/mcp-auth-proxy.js <args>` in the project root with exactly `env`.
 * `groupLeader`: in a process group of its own (as a shell job is), so a test can signal the group.
 */
export function spawnProxy(args: string[], env: Env, options: { groupLeader?: boolean } = {}): ProxyProcess {
  const proc = spawn(process.execPath, [BIN, ...args], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: options.groupLeader ?? false,
  });
  let stdout = '';
  let stderr = '';
  proc.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  proc.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<ProxyResult>((resolve, reject) => {
    proc.once('error', reject);
    // 'close' (not 'exit'): every byte of stdout and stderr has been read by then.
    proc.once('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  const waitForOutput = (pattern: RegExp) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (!pattern.test(stdout)) return;
        proc.stdout!.off('data', check);
        resolve();
      };
      proc.stdout!.on('data', check);
      check();
      void exited.then((r) =>
        reject(new Error(`the proxy exited (code ${r.code}) before printing ${pattern}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`)),
      );
    });
  const handle: ProxyProcess = { proc, exited, stdout: () => stdout, stderr: () => stderr, waitForOutput };
  live.add(handle);
  void exited.finally(() => live.delete(handle)).catch(() => {});
  return handle;
}

/** Stops a proxy that is still running: SIGTERM (which stops its child), SIGKILL if it hangs. */
export async function stopProxy(handle: ProxyProcess): Promise<void> {
  if (handle.proc.exitCode !== null || handle.proc.signalCode !== null) return;
  handle.proc.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<'hung'>((resolve) => (timer = setTimeout(() => resolve('hung'), 40_000)));
  if ((await Promise.race([handle.exited.catch(() => undefined), hung])) === 'hung') {
    handle.proc.kill('SIGKILL');
    await handle.exited.catch(() => undefined);
  }
  clearTimeout(timer);
}

/** Stops every proxy these helpers started that still runs (for afterEach). */
export async function stopAllProxies(): Promise<void> {
  await Promise.all([...live].map(stopProxy));
}

/** Resolves once the proxy's port accepts connections; fails at once if the proxy exits first. */
export async function waitForListening(handle: ProxyProcess, port: number): Promise<void> {
  await Promise.race([
    waitForPort(port, '127.0.0.1', 25_000),
    handle.exited.then((r) => {
      throw new Error(`the proxy exited (code ${r.code}) before listening\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
    }),
  ]);
}

/** One connection attempt: does anything listen on 127.0.0.1:port right now? */
export function portAccepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export function jsonLines(stdout: string): Record<string, unknown>[] {
  return stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}
