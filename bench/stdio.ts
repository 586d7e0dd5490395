// The stdio line (--stdio, --stdio-only): what MCP_SERVER_TRANSPORT=stdio costs. A stdio proxy
// runs @modelcontextprotocol/server-everything (stdio) once per MCP session (isolation `session`,
// the default) and shares the first proxy's BASE_URL, Redis and keys, so the bearer token of the
// OAuth flow is valid there too. Measured:
// 1. memory, on a stdio proxy of its own started with the inspector (a forced full GC before each
//    reading: otherwise one collection moves RSS by more than many sessions do): the RSS of a
//    server process after initialize, and the proxy's heap and RSS per open session;
// 2. on a plain stdio proxy, the time to start a session: POST initialize without a session id ->
//    its answer, i.e. a spawn and the server's answer to initialize; each session is DELETEd and
//    its process waited out, so none accumulate;
// 3. tools/call echo over one established session, interleaved with the HTTP proxy and with the
//    same server spoken to directly over stdio (stdio-direct.ts).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { performance } from 'node:perf_hooks';
import { freePort } from '../test/helpers/ports.js';
import type { Env } from '../test/helpers/processes.js';
import type { Cleanups } from './cleanups.js';
import { checkOnce, MCP_HEADERS, phase, runLoad, type PhaseResult, type QuietPolicy, type Target } from './load.js';
import { InspectorSession } from './inspector.js';
import { HeapProbes, RssSampler, type HeapProbe } from './memory.js';
import { ROOT, type Options } from './options.js';
import { anonKb, childPids, cpuBetween, cpuSnapshot, groupPids, rssKb, waitForQuiet } from './proc.js';
import { spawnProxy, stopProxy, waitForProxy, type ProxyProcess } from './processes.js';
import { loadDirect, startDirect, type DirectStdioServer } from './stdio-direct.js';
import { fmt, log, median, percentile, sleep } from './stats.js';

const EVERYTHING = createRequire(import.meta.url).resolve('@modelcontextprotocol/server-everything/dist/index.js');
const SERVER_ARGS = [EVERYTHING, 'stdio'];
const ECHO = { name: 'echo', arguments: { message: 'hello' } };
/** server-everything's echo takes `message` (the HTTP fixture's takes `text`). */
const STDIO_ECHO_BODY = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: ECHO });
const INITIALIZE_PARAMS = { protocolVersion: MCP_HEADERS['mcp-protocol-version'], capabilities: {}, clientInfo: { name: 'mcp-auth-proxy-bench', version: '1.0.0' } };
const CONCURRENCY = [1, 8];

/** One line of the per-call table. */
export interface CallRow {
  path: 'http proxy' | 'stdio proxy' | 'stdio direct';
  connections: number;
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  total: number;
  /** % of one core: the proxy (none for direct), the MCP server, every process outside the benchmark. */
  cpuProxy: number | undefined;
  cpuServer: number;
  cpuOther: number;
  proxyMsPerReq: number | undefined;
}

export interface StdioMemory {
  sessions: number;
  /** VmRSS and RssAnon of each server's process group, with its session open and idle. */
  serverRssMb: number[];
  serverAnonMb: number[];
  /** The stdio proxy after a forced full GC: with no session, then with `sessions` open. */
  proxyIdle: HeapProbe;
  proxyOpen: HeapProbe;
}

export interface StdioResult {
  /** The server run, with its version. */
  server: string;
  /** Session start times (ms), in order: through the proxy, and spawned directly. */
  starts: { proxy: number[]; direct: number[] };
  calls: CallRow[];
  memory: StdioMemory;
}

export interface StdioContext {
  opts: Options;
  cleanups: Cleanups;
  /** The first proxy's environment: the stdio proxy changes only its port and its MCP server. */
  env: Env;
  /** Its log files: this, then `-memory.log` or `.log`. */
  logPrefix: string;
  /** The HTTP proxy path, whose bearer token the stdio proxy accepts too, and its sampler (its CPU columns). */
  http: Target;
  httpSampler: RssSampler;
}

export async function measureStdio(ctx: StdioContext): Promise<StdioResult> {
  const memory = await memoryPerSession(ctx);
  const { sessions } = await startStdioProxy(ctx, false);
  await warmUp(sessions);
  const starts = await startTimes(sessions, ctx.opts);
  const calls = await perCall(ctx, sessions);
  const { version } = JSON.parse(readFileSync(join(dirname(EVERYTHING), '..', 'package.json'), 'utf8')) as { version: string };
  return { server: `@modelcontextprotocol/server-everything ${version}`, starts, calls, memory };
}

interface StdioProxy {
  proxy: ProxyProcess;
  sessions: ProxySessions;
  inspector: InspectorSession | undefined;
  stop(): Promise<void>;
}

/** A stdio proxy, listening (with `inspect`, its inspector connected); the cleanups stop it (and every server it runs) if stop() was not called. */
async function startStdioProxy(ctx: StdioContext, inspect: boolean): Promise<StdioProxy> {
  const { opts } = ctx;
  const port = await freePort();
  const env: Env = {
    ...ctx.env,
    PORT: String(port),
    MCP_SERVER_TRANSPORT: 'stdio',
    MCP_SERVER_RUN_COMMAND: process.execPath,
    MCP_SERVER_RUN_ARGS_JSON: JSON.stringify(SERVER_ARGS),
    // The sessions held open for the memory figure, plus one.
    MCP_SERVER_STDIO_MAX_PROCESSES_PER_USER: String(opts.stdioSessions + 1),
  };
  // The HTTP fixture's settings.
  delete env.MCP_SERVER_RUN_ENV_JSON;
  const logFile = `${ctx.logPrefix}${inspect ? '-memory' : ''}.log`;
  const proxy = spawnProxy(opts.proxyRoot, env, [...opts.proxyNodeArgs, ...(inspect ? ['--inspect=127.0.0.1:0'] : [])], logFile);
  let inspector: InspectorSession | undefined;
  // The inspector closed first, or the proxy waits for the debugger at exit.
  const stop = async () => {
    inspector?.close();
    await stopStdioProxy(proxy);
  };
  ctx.cleanups.push(stop);
  await waitForProxy(proxy, port, 'the stdio proxy');
  if (inspect) {
    const wsUrl = await Promise.race([proxy.inspectorUrl, sleep(10_000).then(() => undefined)]);
    if (!wsUrl) throw new Error('the stdio proxy printed no inspector URL');
    inspector = await InspectorSession.open(wsUrl);
  }
  log(
    `stdio proxy pid ${proxy.pid} on 127.0.0.1:${port}${inspect ? ' (inspector connected, for the memory figures)' : ''}, ` +
      `running ${relative(ROOT, EVERYTHING)} stdio per session (log: ${relative(ROOT, logFile)})`,
  );
  return { proxy, sessions: new ProxySessions(`http://127.0.0.1:${port}/mcp`, ctx.http.headers.authorization ?? '', proxy.pid), inspector, stop };
}

/** The proxy's first session loads code, and brings the server's files into the page cache: not measured. */
async function warmUp(sessions: ProxySessions): Promise<void> {
  await sessions.close(await sessions.open());
}

async function stopStdioProxy(proxy: ProxyProcess): Promise<void> {
  const servers = childPids(proxy.pid);
  await stopProxy(proxy, undefined);
  // On SIGTERM the proxy stops its servers; after a SIGKILL their groups are left to us.
  for (const pid of servers) {
    if (rssKb(pid) === undefined) continue;
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

interface ProxySession {
  id: string;
  /** Its server process (the proxy's only children are stdio servers). */
  pid: number;
  /** POST initialize -> the whole answer. */
  ms: number;
}

/** Sessions as a client opens and ends them, over fetch (the answers are SSE). */
class ProxySessions {
  constructor(
    readonly url: string,
    readonly authorization: string,
    readonly proxyPid: number,
  ) {}

  headers(sessionId?: string): Record<string, string> {
    return { ...MCP_HEADERS, authorization: this.authorization, ...(sessionId ? { 'mcp-session-id': sessionId } : {}) };
  }

  async open(): Promise<ProxySession> {
    const before = new Set(childPids(this.proxyPid));
    const t0 = performance.now();
    const res = await fetch(this.url, {
      method: 'POST',
      headers: this.headers(),
      body: JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: INITIALIZE_PARAMS }),
    });
    const text = await res.text();
    const ms = performance.now() - t0;
    const id = res.headers.get('mcp-session-id');
    if (res.status !== 200 || !id || !text.includes('"result"')) throw new Error(`stdio proxy: POST initialize answered ${res.status}: ${text.slice(0, 300)}`);
    const pid = childPids(this.proxyPid).find((p) => !before.has(p));
    if (pid === undefined) throw new Error('stdio proxy: no new server process after initialize');
    const done = await fetch(this.url, { method: 'POST', headers: this.headers(id), body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) });
    await done.arrayBuffer();
    if (done.status !== 202) throw new Error(`stdio proxy: notifications/initialized answered ${done.status}`);
    return { id, pid, ms };
  }

  /** DELETE (the proxy stops the session's process), then waits until the process is gone, so none accumulate. */
  async close(session: ProxySession): Promise<void> {
    const res = await fetch(this.url, { method: 'DELETE', headers: this.headers(session.id) });
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`stdio proxy: DELETE answered ${res.status}`);
    const t0 = performance.now();
    while (rssKb(session.pid) !== undefined) {
      if (performance.now() - t0 > 10_000) throw new Error(`stdio server ${session.pid} still runs 10 s after its session's DELETE`);
      await sleep(5);
    }
  }
}

const sumKb = (pids: number[], read: (pid: number) => number | undefined) => pids.reduce((sum, pid) => sum + (read(pid) ?? 0), 0);

/**
 * On a stdio proxy of its own, with its inspector: heap and RSS after a forced full GC with no
 * session and with --stdio-sessions open; each server's RSS (its process group) meanwhile.
 */
async function memoryPerSession(ctx: StdioContext): Promise<StdioMemory> {
  const count = ctx.opts.stdioSessions;
  const { proxy, sessions, inspector, stop } = await startStdioProxy(ctx, true);
  const heap = new HeapProbes(inspector, proxy.pid);
  await warmUp(sessions);
  await heap.add('stdio proxy, no session open');
  const open: ProxySession[] = [];
  for (let i = 0; i < count; i++) open.push(await sessions.open());
  // Servers settle after initialize (their heap grows a little more) before they are read.
  await sleep(2000);
  await heap.add(`stdio proxy, ${count} sessions open`);
  const serverRssMb = open.map((s) => sumKb(groupPids(s.pid), rssKb) / 1024);
  const serverAnonMb = open.map((s) => sumKb(groupPids(s.pid), anonKb) / 1024);
  for (const s of open) await sessions.close(s);
  await stop();
  const [proxyIdle, proxyOpen] = heap.probes as [HeapProbe, HeapProbe];
  log(
    `stdio memory: server process ${fmt(median(serverRssMb), 1)} MB VmRSS (${fmt(median(serverAnonMb), 1)} MB RssAnon); proxy heap ` +
      `+${fmt(((proxyOpen.usedMb - proxyIdle.usedMb) * 1024) / count, 0)} kB and RSS +${fmt(((proxyOpen.rssMb - proxyIdle.rssMb) * 1024) / count, 0)} kB per open session`,
  );
  return { sessions: count, serverRssMb, serverAnonMb, proxyIdle, proxyOpen };
}

/** Session starts through the proxy and direct spawns, one of each in turn (both see the same machine). */
async function startTimes(sessions: ProxySessions, opts: Options): Promise<StdioResult['starts']> {
  await waitForQuiet(opts.quietPct, opts.phaseWait, sessions.proxyPid, undefined);
  const starts: StdioResult['starts'] = { proxy: [], direct: [] };
  for (let i = 0; i < opts.stdioStarts; i++) {
    const session = await sessions.open();
    starts.proxy.push(session.ms);
    await sessions.close(session);
    const direct = await startDirect(process.execPath, SERVER_ARGS, INITIALIZE_PARAMS);
    starts.direct.push(direct.ms);
    await direct.server.stop();
  }
  const line = (ms: number[]) => `median ${fmt(median(ms), 1)} ms, p90 ${fmt(percentile(Float64Array.from(ms).sort(), 90), 1)} ms`;
  log(`stdio session start (${opts.stdioStarts} each): through the proxy ${line(starts.proxy)}; direct ${line(starts.direct)}`);
  return starts;
}

/** tools/call echo over one open session, the HTTP proxy and the server spoken to directly, interleaved at each concurrency. */
async function perCall(ctx: StdioContext, sessions: ProxySessions): Promise<CallRow[]> {
  const { opts } = ctx;
  const session = await sessions.open();
  const direct = await startDirect(process.execPath, SERVER_ARGS, INITIALIZE_PARAMS);
  try {
    const stdio: Target = { name: 'stdio', url: sessions.url, headers: sessions.headers(session.id), pid: sessions.proxyPid, body: STDIO_ECHO_BODY, uniqueIds: true };
    await checkOnce(stdio);
    // Its CPU columns: the stdio proxy and this session's server process.
    const stdioSampler = new RssSampler(sessions.proxyPid, session.pid);
    if (opts.warmup > 0) {
      log(`stdio warm-up: ${opts.warmup} s each path at c=8`);
      await runLoad(ctx.http, 8, opts.warmup, 'warmup-http');
      await runLoad(stdio, 8, opts.warmup, 'warmup-stdio');
      await loadDirect(direct.server, 8, opts.warmup, 'tools/call', ECHO);
    }
    const quiet: QuietPolicy = { waitS: opts.phaseWait, pct: opts.quietPct, retryPct: opts.retryPct };
    const rows: CallRow[] = [];
    for (const c of CONCURRENCY) {
      rows.push(fromPhase('http proxy', await phase(ctx.http, c, opts.duration, 1, ctx.httpSampler, quiet)));
      rows.push(fromPhase('stdio proxy', await phase(stdio, c, opts.duration, 1, stdioSampler, quiet)));
      rows.push(await directPhase(direct.server, c, opts, quiet));
    }
    return rows;
  } finally {
    await direct.server.stop();
    await sessions.close(session);
  }
}

function fromPhase(path: CallRow['path'], r: PhaseResult): CallRow {
  const { cpu } = r;
  return {
    path,
    connections: r.connections,
    rps: r.rps,
    p50: r.p50,
    p99: r.p99,
    errors: r.errors,
    total: r.total,
    cpuProxy: cpu.proxy,
    cpuServer: cpu.child,
    cpuOther: cpu.other,
    proxyMsPerReq: cpu.proxyMs / Math.max(1, r.total),
  };
}

/** The same calls straight over the server's stdin and stdout; run again once if the machine was busy, as phase() does. */
async function directPhase(server: DirectStdioServer, c: number, opts: Options, quiet: QuietPolicy): Promise<CallRow> {
  const pid = server.pid ?? 0;
  let best: CallRow | undefined;
  for (let attempt = 1; attempt <= 2; attempt++) {
    if (quiet.waitS > 0) await waitForQuiet(quiet.pct, quiet.waitS, pid, undefined, 1000);
    // The server stands in the proxy's place in the snapshot: its CPU is read as `proxy`.
    const before = cpuSnapshot(pid, undefined);
    const r = await loadDirect(server, c, opts.duration, 'tools/call', ECHO);
    const cpu = cpuBetween(before, cpuSnapshot(pid, undefined));
    const row: CallRow = {
      path: 'stdio direct',
      connections: c,
      rps: r.ok / r.elapsed,
      p50: percentile(r.latencies, 50),
      p99: percentile(r.latencies, 99),
      errors: r.errors,
      total: r.ok + r.errors,
      cpuProxy: undefined,
      cpuServer: cpu.proxy,
      cpuOther: cpu.other,
      proxyMsPerReq: undefined,
    };
    log(`${`direct-c${c}`.padEnd(16)} ${fmt(row.rps, 0).padStart(6)} req/s  p50 ${fmt(row.p50)} ms  p99 ${fmt(row.p99)} ms  errors ${r.errors}  CPU% server ${fmt(cpu.proxy, 0)} other ${fmt(cpu.other, 0)}`);
    if (!best || row.cpuOther < best.cpuOther) best = row;
    if (row.cpuOther <= quiet.retryPct) break;
    if (attempt === 1) log(`  other processes used ${fmt(row.cpuOther, 0)}% CPU during direct-c${c}: running it again`);
  }
  return best!;
}
