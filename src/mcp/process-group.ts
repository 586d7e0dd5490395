// A child process in its own process group: so that a Ctrl-C or a signal to our group does not
// stop it before we have drained, and so that stopping it reaches what a wrapper (npx, uvx, sh)
// started below it. Stopped on every way out of the proxy: stop(), and a SIGKILL from our 'exit'
// handler. Used for the HTTP MCP server child (child.ts) and each stdio server (stdio/process.ts).
import { spawn, type ChildProcess } from 'node:child_process';
import type { Logger } from 'pino';

// POSIX only: elsewhere the child stays in our group and only it is signalled.
const OWN_GROUP = process.platform !== 'win32';

export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Set when the command could not be started at all (e.g. ENOENT). */
  error?: string;
}

export function describeExit({ code, signal, error }: ChildExit): string {
  if (error) return `could not be started (${error})`;
  return signal ? `was killed by ${signal}` : `exited with code ${code}`;
}

export interface GroupOptions {
  command: string;
  args: string[];
  cwd: string | undefined;
  env: Record<string, string>;
  /** `pipe` for a stdio MCP server, which reads its requests there. */
  stdin: 'pipe' | 'ignore';
  /** SIGTERM, then SIGKILL after this long. */
  stopTimeoutMs: number;
  log: Logger;
}

export interface ProcessGroup {
  readonly child: ChildProcess;
  readonly pid: number | undefined;
  /** Settles when the process has exited, for whatever reason (including stop()). */
  readonly exited: Promise<ChildExit>;
  /** How it exited, once it has. */
  readonly exit: ChildExit | undefined;
  /** Whether stop() was called: its exit is then expected. */
  readonly stopping: boolean;
  /** SIGTERM to the process group, SIGKILL after stopTimeoutMs. */
  stop(): Promise<void>;
}

export function spawnProcessGroup(options: GroupOptions): ProcessGroup {
  const { log } = options;
  const child: ChildProcess = spawn(options.command, options.args, {
    cwd: options.cwd,
    env: options.env,
    stdio: [options.stdin, 'pipe', 'pipe'],
    detached: OWN_GROUP,
  });

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
      // What the leader left behind in its group (e.g. a server under npx) must not live on.
      signalGroup('SIGKILL');
      resolve(info);
    };
    child.once('exit', (code, signal) => onGone({ code, signal }));
    child.once('error', (err) => onGone({ code: null, signal: null, error: err.message }));
  });

  const stop = async (): Promise<void> => {
    stopping = true;
    if (exitInfo) return;
    // A stdio server's cue to end (the MCP specification's first step), with SIGTERM alongside.
    child.stdin?.end();
    signalGroup('SIGTERM');
    const killer = setTimeout(() => {
      log.warn({ timeoutMs: options.stopTimeoutMs }, 'MCP server did not exit after SIGTERM: SIGKILL');
      signalGroup('SIGKILL');
    }, options.stopTimeoutMs);
    await exited;
    clearTimeout(killer);
  };

  return {
    child,
    pid: child.pid,
    exited,
    get exit() {
      return exitInfo;
    },
    get stopping() {
      return stopping;
    },
    stop,
  };
}
