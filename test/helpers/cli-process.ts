// The command line as a real process: `node <entry> <args>` with exactly the given environment,
// working directory and standard input, its output collected until it exits.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** The sources, through tsx (resolved here, so any working directory works). */
export const SOURCE_ENTRY = ['--import', import.meta.resolve('tsx'), fileURLToPath(new URL('../fixtures/cli.ts', import.meta.url))];
/** The released entry, on dist/ (needs `npm run build`). */
export const BIN_ENTRY = [fileURLToPath(new URL('../../bin/mcp-auth-proxy.js', import.meta.url))];

// What a process needs from ours to run at all; nothing of the proxy's configuration.
const INHERITED = ['PATH', 'HOME', 'TMPDIR', 'LANG', 'NODE_V8_COVERAGE'];

export function runCliProcess(
  entry: string[],
  args: string[],
  { env = {}, cwd, stdin = '', timeoutMs = 30_000 }: { env?: Record<string, string>; cwd: string; stdin?: string; timeoutMs?: number },
): Promise<CliRun> {
  const inherited = Object.fromEntries(INHERITED.filter((name) => process.env[name] !== undefined).map((name) => [name, process.env[name]!]));
  const child = spawn(process.execPath, [...entry, ...args], { cwd, env: { ...inherited, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  child.stdin.end(stdin);
  return new Promise((resolve, reject) => {
    // A command that does not end by itself (a handle left open) is a failure, not a hang.
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`mcp-auth-proxy ${args.join(' ')} did not exit within ${timeoutMs} ms\nstdout:\n${stdout}\nstderr:\n${stderr}`));
    }, timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}
