// The compiled command (bin/mcp-auth-proxy.js on dist/) as a real process, for tests that need
// what only a process shows: startup order, loaded modules, signals, exports at exit.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitForPort } from './ports.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const BIN = join(ROOT, 'bin', 'mcp-auth-proxy.js');
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
  /** Resolves once stdout matches `pattern`; rejects if the proxy exits first. */
  waitForOutput(pattern: RegExp): Promise<void>;
  /** Resolves once the proxy's port accepts connections; rejects if it exits first. */
  waitForListening(port: number): Promise<void>;
  /** SIGTERM, then SIGKILL if it hangs; resolves with how it ended. */
  stop(): Promise<ProxyResult>;
}

/** The few variables a process needs from ours (PATH …), nothing else. */
export function baseEnvironment(): Env {
  return Object.fromEntries(INHERITED.flatMap((name) => (process.env[name] === undefined ? [] : [[name, process.env[name]!]])));
}

/** Spawns `node [nodeArgs] bin/mcp-auth-proxy.js <args>` in the project root with exactly `env`. */
export function spawnProxy(args: string[], env: Env, nodeArgs: string[] = []): ProxyProcess {
  const proc = spawn(process.execPath, [...nodeArgs, BIN, ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  proc.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  proc.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<ProxyResult>((resolve, reject) => {
    proc.once('error', reject);
    // 'close' (not 'exit'): every byte of stdout and stderr has been read by then.
    proc.once('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  const exitedEarly = (what: string) =>
    exited.then((r) => {
      throw new Error(`the proxy exited (code ${r.code}) before ${what}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
    });
  return {
    proc,
    exited,
    stdout: () => stdout,
    waitForOutput: (pattern) =>
      Promise.race([
        new Promise<void>((resolve) => {
          const check = () => {
            if (!pattern.test(stdout)) return;
            proc.stdout!.off('data', check);
            resolve();
          };
          proc.stdout!.on('data', check);
          check();
        }),
        exitedEarly(`printing ${pattern}`),
      ]),
    waitForListening: (port) => Promise.race([waitForPort(port, '127.0.0.1', 25_000), exitedEarly('listening')]),
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM');
        const timer = setTimeout(() => proc.kill('SIGKILL'), 15_000);
        await exited.catch(() => undefined);
        clearTimeout(timer);
      }
      return exited;
    },
  };
}

/** The JSON lines of a production proxy's stdout. */
export function jsonLines(stdout: string): Record<string, unknown>[] {
  return stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}
