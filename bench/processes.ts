// The processes the benchmark measures: the proxy (`node bin/mcp-auth-proxy.js start` from a
// build, its output kept in a log file), a second proxy beside it (--compare-root, --policy) and
// the bare pipe proxy of --baseline; started, waited for, and stopped without leaving anything
// behind (the proxy's MCP server child included).
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { baseEnvironment, type Env } from '../test/helpers/processes.js';
import { freePort, waitForPort } from '../test/helpers/ports.js';
import type { Cleanups } from './cleanups.js';
import { rssKb } from './proc.js';
import { log, sleep } from './stats.js';

export interface ProxyProcess {
  proc: ChildProcess;
  pid: number;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  logFile: string;
  output(): string;
  /** The inspector's WebSocket URL, when started with --inspect. */
  inspectorUrl: Promise<string>;
}

export function spawnProxy(root: string, env: Env, nodeArgs: string[], logFile: string): ProxyProcess {
  const proc = spawn(process.execPath, [...nodeArgs, join(root, 'bin', 'mcp-auth-proxy.js'), 'start'], {
    cwd: root,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (proc.pid === undefined) throw new Error('could not spawn the proxy');
  const file = createWriteStream(logFile);
  // The tail is kept for the error message if the proxy dies, and to find the inspector's URL.
  let tail = '';
  let foundInspector: (url: string) => void = () => {};
  const inspectorUrl = new Promise<string>((resolve) => (foundInspector = resolve));
  const keep = (chunk: Buffer) => {
    file.write(chunk);
    tail = (tail + chunk.toString('utf8')).slice(-8000);
    const ws = /Debugger listening on (ws:\/\/\S+)/.exec(tail);
    if (ws) foundInspector(ws[1]!);
  };
  proc.stdout!.on('data', keep);
  proc.stderr!.on('data', keep);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    proc.once('close', (code, signal) => {
      file.end();
      resolve({ code, signal });
    });
  });
  return { proc, pid: proc.pid, exited, logFile, output: () => tail, inspectorUrl };
}

/** Resolves once the proxy listens on port; rejects (with its output) if it exits first. */
export async function waitForProxy(p: ProxyProcess, port: number, name: string): Promise<void> {
  const died = p.exited.then(({ code, signal }) => {
    throw new Error(`${name} exited early (code ${code}, signal ${signal}):\n${p.output()}`);
  });
  died.catch(() => {});
  await Promise.race([waitForPort(port, '127.0.0.1', 90_000), died]);
}

export async function stopProxy(p: ProxyProcess, childPid: number | undefined): Promise<void> {
  if (p.proc.exitCode === null && p.proc.signalCode === null) {
    p.proc.kill('SIGTERM');
    const hung = await Promise.race([p.exited.then(() => false), sleep(15_000).then(() => true)]);
    if (hung) {
      log('proxy did not exit within 15 s of SIGTERM: SIGKILL');
      p.proc.kill('SIGKILL');
      await p.exited;
    }
  }
  // The proxy stops its child on SIGTERM; if it was killed instead, do not leave the child behind.
  if (childPid !== undefined && rssKb(childPid) !== undefined) {
    try {
      process.kill(childPid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/** A second proxy beside the first (--compare-root, --policy), listening; the cleanups stop it. */
export interface SecondProxy {
  pid: number;
  /** Its /mcp endpoint. */
  url: string;
}

export interface SecondProxyOptions {
  /** The checkout whose build runs. */
  root: string;
  /** The first proxy's environment. */
  env: Env;
  /** What this one changes (MCP_AUTH_PROXY_POLICY …). */
  extraEnv?: Env;
  nodeArgs: string[];
  logFile: string;
  cleanups: Cleanups;
  /** For the error if it exits before listening. */
  name: string;
}

/**
 * Starts a proxy from `root` with the first proxy's environment (same BASE_URL, so the bearer
 * tokens' audience matches, same Redis and keys) on a port of its own, plus `extraEnv`; it forwards
 * to the first proxy's MCP server (no child of its own), so both load the same server.
 */
export async function startSecondProxy(options: SecondProxyOptions): Promise<SecondProxy> {
  const port = await freePort();
  const env: Env = { ...options.env, ...options.extraEnv, PORT: String(port) };
  for (const k of ['MCP_SERVER_RUN_COMMAND', 'MCP_SERVER_RUN_ARGS_JSON', 'MCP_SERVER_RUN_ENV_JSON']) delete env[k];
  const proxy = spawnProxy(options.root, env, options.nodeArgs, options.logFile);
  options.cleanups.push(() => stopProxy(proxy, undefined));
  await waitForProxy(proxy, port, options.name);
  return { pid: proxy.pid, url: `http://127.0.0.1:${port}/mcp` };
}

export interface BaselineProcess {
  pid: number | undefined;
  stop(): Promise<void>;
}

/** bench/minimal-proxy.ts in front of the MCP server at target (wait for its port before use). */
export function spawnBaseline(root: string, port: number, target: string): BaselineProcess {
  const base = spawn(process.execPath, ['--import', 'tsx', join(root, 'bench', 'minimal-proxy.ts')], {
    cwd: root,
    env: { ...baseEnvironment(), PORT: String(port), TARGET: target },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const baseExited = new Promise<void>((resolve) => base.once('close', () => resolve()));
  return {
    pid: base.pid,
    stop: async () => {
      if (base.exitCode === null && base.signalCode === null) base.kill('SIGTERM');
      await Promise.race([baseExited, sleep(5000).then(() => base.kill('SIGKILL'))]);
    },
  };
}
