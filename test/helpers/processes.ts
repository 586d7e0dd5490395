// Real processes for the process tests: spawn with exactly the environment given, read what they
// print, wait on their output or their exit (never on time), and make sure none outlives a test.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';

export type Env = Record<string, string>;

export interface ProcessResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunningProcess {
  readonly proc: ChildProcess;
  readonly exited: Promise<ProcessResult>;
  stdout(): string;
  stderr(): string;
  /** Resolves with the match once stdout matches `pattern`; rejects if the process exits first. */
  waitForOutput(pattern: RegExp): Promise<RegExpMatchArray>;
}

/** Every process started here that has not exited yet (afterEach hooks stop them). */
export const live = new Set<RunningProcess>();

/** Processes spawned detached: signals go to their whole process group. */
const groupLeaders = new WeakSet<ChildProcess>();

/** Variables a child needs to run at all, taken from ours; nothing else of ours is passed. */
const INHERITED = ['PATH', 'HOME', 'TMPDIR', 'TMP', 'TEMP', 'LANG', 'LC_ALL', 'TZ', 'SYSTEMROOT'];

export function baseEnvironment(): Env {
  return Object.fromEntries(INHERITED.flatMap((name) => (process.env[name] === undefined ? [] : [[name, process.env[name]!]])));
}

/**
 * `detached`: the process leads its own process group, so a test can signal the whole group
 * as a terminal's Ctrl-C does (see interruptGroup).
 */
export function spawnProcess(command: string, args: string[], options: { cwd: string; env: Env; detached?: boolean }): RunningProcess {
  const proc = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
  if (options.detached) groupLeaders.add(proc);
  let stdout = '';
  let stderr = '';
  proc.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  proc.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<ProcessResult>((resolve, reject) => {
    proc.once('error', reject);
    // 'close' (not 'exit'): every byte of stdout and stderr has been read by then.
    proc.once('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  const waitForOutput = (pattern: RegExp) =>
    new Promise<RegExpMatchArray>((resolve, reject) => {
      const check = () => {
        const match = pattern.exec(stdout);
        if (!match) return;
        proc.stdout!.off('data', check);
        resolve(match);
      };
      proc.stdout!.on('data', check);
      check();
      void exited.then((r) =>
        reject(new Error(`the process exited (code ${r.code}) before printing ${pattern}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`)),
      );
    });
  const handle: RunningProcess = { proc, exited, stdout: () => stdout, stderr: () => stderr, waitForOutput };
  live.add(handle);
  void exited.finally(() => live.delete(handle)).catch(() => {});
  return handle;
}

/** Stops a process that is still running: SIGTERM (its group's, when detached), SIGKILL if it hangs. */
export async function stopProcess(handle: RunningProcess): Promise<void> {
  if (handle.proc.exitCode !== null || handle.proc.signalCode !== null) return;
  const signal = (name: NodeJS.Signals) => {
    try {
      if (groupLeaders.has(handle.proc)) process.kill(-handle.proc.pid!, name);
      else handle.proc.kill(name);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
    }
  };
  signal('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<'hung'>((resolve) => (timer = setTimeout(() => resolve('hung'), 15_000)));
  if ((await Promise.race([handle.exited.catch(() => undefined), hung])) === 'hung') {
    signal('SIGKILL');
    await handle.exited.catch(() => undefined);
  }
  clearTimeout(timer);
}

/** What a terminal's Ctrl-C does: SIGINT to every process of the (detached) process's group. */
export function interruptGroup(handle: RunningProcess): void {
  process.kill(-handle.proc.pid!, 'SIGINT');
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

/**
 * Whether the process still runs. A killed process whose parent is gone stays a zombie until
 * init reaps it (slowly on some machines), and signal 0 still reaches a zombie: read its state.
 */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw err;
  }
  try {
    // "pid (comm) S ...": the state follows the last ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return process.platform !== 'linux';
  }
}
