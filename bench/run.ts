// Benchmark of the /mcp proxy path: throughput and latency through the proxy vs straight to the
// MCP server (interleaved), time to the first SSE headers, and the proxy process's memory.
//
//   npx tsx bench/run.ts [--duration 10] [--soak 60] [--rounds 2] [--log-level warn]
//                        [--sse-delay 250] [--profile] [--no-build] [--proxy-root DIR]
//
// The proxy runs in its own process (`node bin/mcp-auth-proxy.js start`, the compiled build) and
// spawns the MCP fixture server as its child, exactly as in production; only the load generator,
// the test Redis and the test upstream IdP live here (the last two are idle during the load).
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { availableParallelism, loadavg } from 'node:os';
import { join, relative } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { connectWithOAuth, TestOAuthProvider } from '../test/helpers/mcp-client.js';
import { freePort, waitForPort } from '../test/helpers/ports.js';
import { startRedis, type RedisServer } from '../test/helpers/redis.js';
import { startUpstreamIdp, type UpstreamIdp } from '../test/helpers/upstream-idp.js';
import { InspectorSession } from './inspector.js';
import { formatSummary, summarizeProfile, type CpuProfile } from './summarize-profile.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
// Always this checkout's fixture (also with --proxy-root), so every build is measured against the same server.
const MCP_FIXTURE_ARGS = ['--import', 'tsx', join(ROOT, 'test', 'fixtures', 'mcp-server.ts')];
const RESULTS = join(ROOT, 'bench', 'results');

// ---------------------------------------------------------------------------------------------
// Options

interface Options {
  duration: number;
  soak: number;
  rounds: number;
  warmup: number;
  logLevel: string;
  sseDelayMs: number;
  sseSamples: number;
  profile: boolean;
  inspect: boolean;
  build: boolean;
  proxyRoot: string;
  maxWaitQuiet: number;
  quietPct: number;
  baseline: boolean;
  proxyNodeArgs: string[];
  phaseWait: number;
  retryPct: number;
  proxyEnv: Record<string, string>;
  settle: number;
  compareRoot?: string;
}

function parseArgs(argv: string[]): Options {
  const o: Options = {
    duration: 10,
    soak: 60,
    rounds: 2,
    warmup: 2,
    logLevel: 'warn',
    sseDelayMs: 250,
    sseSamples: 20,
    profile: false,
    inspect: false,
    build: true,
    proxyRoot: ROOT,
    maxWaitQuiet: 120,
    quietPct: 25,
    baseline: false,
    proxyNodeArgs: [],
    phaseWait: 15,
    retryPct: 30,
    proxyEnv: {},
    settle: 15,
  };
  const num = (name: string, raw: string | undefined, min: number, max: number): number => {
    const n = Number(raw);
    if (!Number.isFinite(n) || n < min || n > max) throw new Error(`${name}: expected a number in [${min}, ${max}], got ${raw}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] = arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const value = () => inline ?? argv[++i];
    switch (flag) {
      case '--duration': o.duration = num(flag, value(), 1, 600); break;
      case '--soak': o.soak = num(flag, value(), 0, 3600); break;
      case '--rounds': o.rounds = Math.round(num(flag, value(), 1, 10)); break;
      case '--warmup': o.warmup = num(flag, value(), 0, 60); break;
      case '--log-level': o.logLevel = String(value()); break;
      case '--sse-delay': o.sseDelayMs = Math.round(num(flag, value(), 0, 10_000)); break;
      case '--sse-samples': o.sseSamples = Math.round(num(flag, value(), 1, 200)); break;
      case '--profile': o.profile = o.inspect = true; break;
      case '--inspect': o.inspect = true; break;
      case '--baseline': o.baseline = true; break;
      case '--proxy-node-args': o.proxyNodeArgs = String(value()).split(/\s+/).filter(Boolean); break;
      case '--proxy-env': {
        const kv = String(value());
        const eq = kv.indexOf('=');
        if (eq <= 0) throw new Error(`--proxy-env: expected NAME=VALUE, got ${kv}`);
        o.proxyEnv[kv.slice(0, eq)] = kv.slice(eq + 1);
        break;
      }
      case '--no-build': o.build = false; break;
      case '--proxy-root': o.proxyRoot = String(value()); break;
      case '--max-wait-quiet': o.maxWaitQuiet = num(flag, value(), 0, 3600); break;
      case '--quiet-pct': o.quietPct = num(flag, value(), 0, 200); break;
      case '--phase-wait': o.phaseWait = num(flag, value(), 0, 600); break;
      case '--settle': o.settle = num(flag, value(), 3, 600); break;
      case '--compare-root': o.compareRoot = String(value()); break;
      case '--retry-pct': o.retryPct = num(flag, value(), 0, 1000); break;
      case '--help':
      case '-h':
        process.stdout.write(
          'usage: npx tsx bench/run.ts [--duration s] [--soak s] [--rounds n] [--warmup s] [--log-level warn|info]\n' +
            '                            [--sse-delay ms] [--sse-samples n] [--profile] [--inspect] [--baseline] [--no-build]\n' +
            '                            [--proxy-root DIR] [--compare-root DIR] [--proxy-node-args "--max-semi-space-size=4 ..."]\n' +
            '                            [--proxy-env NAME=VALUE]...\n' +
            '                            [--max-wait-quiet s] [--quiet-pct %] [--phase-wait s] [--retry-pct %] [--settle s]\n',
        );
        return process.exit(0);
      default:
        throw new Error(`unknown argument ${arg} (try --help)`);
    }
  }
  return o;
}

// ---------------------------------------------------------------------------------------------
// Small utilities

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const log = (msg: string) => process.stdout.write(`[bench] ${msg}\n`);

function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx]!;
}

function median(values: number[]): number {
  return percentile(Float64Array.from(values).sort(), 50);
}

const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;

function fmt(n: number, digits = 2): string {
  return Number.isFinite(n) ? n.toFixed(digits) : '-';
}

function table(headers: string[], rows: (string | number)[][]): string {
  const cells = [headers, ...rows.map((r) => r.map(String))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(cells[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n');
}

/** Newest modification time (ms) of any file under dir. */
function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

function gitDescription(root: string): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: root, encoding: 'utf8' }).trim();
    return dirty ? `${head} + uncommitted changes in src/ (${dirty.split('\n').length} files)` : head;
  } catch {
    return 'unknown (not a git checkout)';
  }
}

/** Builds dist/ when it is missing or older than src/. A failed build with an existing dist/ only warns. */
function ensureBuild(root: string, build: boolean): void {
  const main = join(root, 'dist', 'main.js');
  const src = join(root, 'src');
  // A --proxy-root without src/ (a copy of a build) is measured as it is.
  const stale = !existsSync(main) || (existsSync(src) && newestMtime(src) > statSync(main).mtimeMs);
  if (!stale) return;
  if (!build) {
    if (!existsSync(main)) throw new Error('dist/ is missing and --no-build was given');
    log('WARNING: dist/ is older than src/ (--no-build given): measuring the existing build');
    return;
  }
  log('dist/ is missing or older than src/: running `npm run build`');
  const r = spawnSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    if (!existsSync(main)) throw new Error('`npm run build` failed and there is no dist/ to measure');
    log('WARNING: `npm run build` failed (src/ may be mid-edit); measuring the existing dist/');
  }
}

// ---------------------------------------------------------------------------------------------
// Processes and memory

function statusKb(pid: number, field: 'VmRSS' | 'RssAnon'): number | undefined {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** VmRSS: what the targets are about. It includes file-backed pages (the node binary's code, shared with every node process). */
const rssKb = (pid: number) => statusKb(pid, 'VmRSS');
/** RssAnon: the process's own memory (heaps, buffers), without the shared file-backed pages. */
const anonKb = (pid: number) => statusKb(pid, 'RssAnon');

/** Direct children of pid (from /proc/<pid>/task/<tid>/children, or by scanning /proc/<n>/stat). */
function childPids(pid: number): number[] {
  const found = new Set<number>();
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const text = readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim();
      for (const c of text.split(/\s+/).filter(Boolean)) found.add(Number(c));
    }
  } catch {
    // fall through to the scan
  }
  if (found.size > 0) return [...found];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // pid (comm) state ppid ...: comm may hold spaces, so split after the last ')'.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) found.add(Number(name));
    } catch {
      // the process went away
    }
  }
  return [...found];
}

// CPU accounting from /proc, so contention from other work on the machine is visible per phase.
const CLK_TCK = 100; // getconf CLK_TCK on Linux

function cpuTicksOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]); // utime + stime
  } catch {
    return 0;
  }
}

/** Busy ticks of the whole machine (all CPUs), from the first line of /proc/stat. */
function machineBusyTicks(): number {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0); // user..steal (guest is inside user)
  return total - (f[3] ?? 0) - (f[4] ?? 0); // minus idle and iowait
}

/** This process and every descendant (the proxy, its MCP server child, Redis). */
function ownTree(): number[] {
  const all: number[] = [];
  const queue = [process.pid];
  while (queue.length > 0 && all.length < 64) {
    const pid = queue.shift()!;
    all.push(pid);
    queue.push(...childPids(pid));
  }
  return all;
}

interface CpuSnapshot {
  t: number;
  machine: number;
  proxy: number;
  child: number;
  self: number;
  own: number;
}

function cpuSnapshot(proxyPid: number, childPid: number | undefined): CpuSnapshot {
  return {
    t: performance.now(),
    machine: machineBusyTicks(),
    proxy: cpuTicksOf(proxyPid),
    child: childPid ? cpuTicksOf(childPid) : 0,
    self: cpuTicksOf(process.pid),
    own: ownTree().reduce((sum, pid) => sum + cpuTicksOf(pid), 0),
  };
}

/** CPU use between two snapshots, in % of one core; `other` is everything outside this benchmark. */
interface CpuUse {
  proxy: number;
  child: number;
  loadgen: number;
  other: number;
  /** CPU ms the proxy process spent. */
  proxyMs: number;
}

function cpuBetween(a: CpuSnapshot, b: CpuSnapshot): CpuUse {
  const seconds = (b.t - a.t) / 1000;
  const pct = (ticks: number) => (100 * ticks) / CLK_TCK / seconds;
  return {
    proxy: pct(b.proxy - a.proxy),
    child: pct(b.child - a.child),
    loadgen: pct(b.self - a.self),
    other: Math.max(0, pct(b.machine - a.machine - (b.own - a.own))),
    proxyMs: ((b.proxy - a.proxy) * 1000) / CLK_TCK,
  };
}

/** Waits (bounded) until the rest of the machine uses less than maxPct of one core over 2 s. */
async function waitForQuiet(maxPct: number, maxWaitS: number, proxyPid: number, childPid: number | undefined, windowMs = 2000): Promise<number> {
  const deadline = performance.now() + maxWaitS * 1000;
  let other = Infinity;
  for (let i = 0; i < 10_000; i++) {
    const a = cpuSnapshot(proxyPid, childPid);
    await sleep(windowMs);
    other = cpuBetween(a, cpuSnapshot(proxyPid, childPid)).other;
    if (other <= maxPct || performance.now() >= deadline) break;
    if (i === 0) log(`  other processes use ${fmt(other, 0)}% CPU: waiting up to ${maxWaitS} s for < ${maxPct}%`);
  }
  return other;
}

interface HeapProbe {
  label: string;
  usedMb: number;
  totalMb: number;
  rssMb: number;
}

interface IdleMb {
  proxy: number;
  anon: number;
  child: number;
}

interface RssSample {
  t: number;
  phase: string;
  proxyKb: number;
  proxyAnonKb: number;
  childKb: number;
}

/** Samples VmRSS of the proxy (and, separately, its MCP server child) every intervalMs. */
class RssSampler {
  readonly samples: RssSample[] = [];
  phase = 'idle';
  #timer: NodeJS.Timeout | undefined;
  // Bounded: 100 ms for at most ~4 hours.
  static readonly MAX_SAMPLES = 150_000;

  constructor(
    readonly proxyPid: number,
    readonly childPid: number | undefined,
    readonly intervalMs = 100,
  ) {}

  start(): void {
    this.#timer = setInterval(() => this.sample(), this.intervalMs);
  }

  sample(): RssSample | undefined {
    const proxyKb = rssKb(this.proxyPid);
    if (proxyKb === undefined || this.samples.length >= RssSampler.MAX_SAMPLES) return undefined;
    const s = {
      t: performance.now(),
      phase: this.phase,
      proxyKb,
      proxyAnonKb: anonKb(this.proxyPid) ?? 0,
      childKb: this.childPid ? (rssKb(this.childPid) ?? 0) : 0,
    };
    this.samples.push(s);
    return s;
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  where(pred: (s: RssSample) => boolean): RssSample[] {
    return this.samples.filter(pred);
  }

  /** Median proxy RSS over `ms` of idle sampling, in MB. */
  /**
   * Idles for `ms` and returns the median over its last `tailMs`. After load, V8 gives memory back
   * only once its memory reducer runs (some seconds after allocation stops), hence long windows.
   */
  async idleMb(ms: number, label: string, tailMs = ms): Promise<IdleMb> {
    this.phase = label;
    const from = performance.now() + ms - tailMs;
    await sleep(ms);
    const window = this.where((s) => s.phase === label && s.t >= from);
    this.phase = 'idle';
    return {
      proxy: median(window.map((s) => s.proxyKb)) / 1024,
      anon: median(window.map((s) => s.proxyAnonKb)) / 1024,
      child: median(window.map((s) => s.childKb)) / 1024,
    };
  }
}

interface ProxyProcess {
  proc: ChildProcess;
  pid: number;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  logFile: string;
  output(): string;
  /** The inspector's WebSocket URL, when started with --inspect. */
  inspectorUrl: Promise<string>;
}

function spawnProxy(root: string, env: Record<string, string>, nodeArgs: string[], logFile: string): ProxyProcess {
  const proc = spawn(process.execPath, [...nodeArgs, join(root, 'bin', 'mcp-auth-proxy.js'), 'start'], {
    cwd: root,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (proc.pid === undefined) throw new Error('could not spawn the proxy');
  const file = createWriteStream(logFile);
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

async function stopProxy(p: ProxyProcess, childPid: number | undefined): Promise<void> {
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

// ---------------------------------------------------------------------------------------------
// Load phases

const ECHO_BODY = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', arguments: { text: 'hello' } } });
const MCP_HEADERS: Record<string, string> = {
  'content-type': 'application/json',
  accept: 'application/json, text/event-stream',
  'mcp-protocol-version': '2025-06-18',
};

interface Target {
  name: 'proxy' | 'direct' | 'baseline' | 'proxyB';
  url: string;
  headers: Record<string, string>;
  /** The process that serves this path in front of the MCP server (none for direct). */
  pid?: number;
}

interface PhaseResult {
  label: string;
  target: Target['name'];
  connections: number;
  round: number;
  rps: number;
  p50: number;
  p99: number;
  /** Connection errors + timeouts + non-2xx responses. */
  errors: number;
  non2xx: number;
  total: number;
  cpu: CpuUse;
}

async function runLoad(target: Target, connections: number, seconds: number, label: string): Promise<{ result: autocannon.Result; latencies: Float64Array; ok: number; elapsed: number }> {
  // autocannon's own histogram has 1 ms resolution; keep every response time (fractional ms).
  const latencies: number[] = [];
  let ok = 0;
  const started = performance.now();
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url: target.url,
        method: 'POST',
        headers: target.headers,
        body: ECHO_BODY,
        connections,
        pipelining: 1,
        duration: seconds,
        timeout: 10,
        title: label,
      },
      (err, res) => (err ? reject(err) : resolve(res)),
    );
    instance.on('response', (_client, statusCode, _bytes, responseTime) => {
      if (statusCode >= 200 && statusCode < 300) {
        ok++;
        if (latencies.length < 5_000_000) latencies.push(responseTime);
      }
    });
  });
  const elapsed = (performance.now() - started) / 1000;
  return { result, latencies: Float64Array.from(latencies).sort(), ok, elapsed };
}

interface QuietPolicy {
  /** Wait up to this long before a phase for the rest of the machine to calm down. */
  waitS: number;
  /** "Quiet" is other processes using less than this % of one core. */
  pct: number;
  /** Run a phase again (once) when other processes used more than this % of one core during it. */
  retryPct: number;
}

/** A phase, run again once if other processes on the machine took too much CPU during it. */
async function phase(target: Target, connections: number, seconds: number, round: number, sampler: RssSampler, quiet: QuietPolicy): Promise<PhaseResult> {
  let best: PhaseResult | undefined;
  for (let attempt = 1; attempt <= 2; attempt++) {
    if (quiet.waitS > 0) await waitForQuiet(quiet.pct, quiet.waitS, sampler.proxyPid, sampler.childPid, 1000);
    const r = await phaseOnce(target, connections, seconds, round, sampler);
    // Keep the attempt the rest of the machine disturbed least.
    if (!best || r.cpu.other < best.cpu.other) best = r;
    if (r.cpu.other <= quiet.retryPct) break;
    if (attempt === 1) log(`  other processes used ${fmt(r.cpu.other, 0)}% CPU during ${r.label}: running it again`);
  }
  return best!;
}

async function phaseOnce(target: Target, connections: number, seconds: number, round: number, sampler: RssSampler): Promise<PhaseResult> {
  const label = `${target.name}-c${connections}-r${round}`;
  sampler.phase = label;
  const via = target.pid ?? sampler.proxyPid;
  const before = cpuSnapshot(via, sampler.childPid);
  const { result, latencies, ok, elapsed } = await runLoad(target, connections, seconds, label);
  const cpu = cpuBetween(before, cpuSnapshot(via, sampler.childPid));
  sampler.phase = 'idle';
  const r: PhaseResult = {
    label,
    target: target.name,
    connections,
    round,
    rps: ok / elapsed,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    errors: result.errors + result.timeouts + result.non2xx,
    non2xx: result.non2xx,
    total: result.requests.total,
    cpu,
  };
  log(
    `${label.padEnd(16)} ${fmt(r.rps, 0).padStart(6)} req/s  p50 ${fmt(r.p50)} ms  p99 ${fmt(r.p99)} ms  ` +
      `errors/non-2xx ${result.errors + result.timeouts}/${result.non2xx}  CPU% proxy ${fmt(cpu.proxy, 0)} mcp ${fmt(cpu.child, 0)} ` +
      `loadgen ${fmt(cpu.loadgen, 0)} other ${fmt(cpu.other, 0)}`,
  );
  return r;
}

/** One request, to check the path works before loading it. */
async function checkOnce(target: Target): Promise<void> {
  const res = await fetch(target.url, { method: 'POST', headers: target.headers, body: ECHO_BODY });
  const text = await res.text();
  if (res.status !== 200 || !text.includes('hello')) {
    throw new Error(`${target.name}: POST ${target.url} answered ${res.status} ${res.headers.get('content-type')}: ${text.slice(0, 300)}`);
  }
  log(`${target.name}: single tools/call echo -> ${res.status} (${res.headers.get('content-type')})`);
}

// ---------------------------------------------------------------------------------------------
// Time to SSE headers

interface HeaderTiming {
  headersMs: number;
  firstChunkMs: number;
  status: number;
  contentType: string;
}

function timeRequest(agent: http.Agent, url: string, method: string, headers: Record<string, string>, body?: string): Promise<HeaderTiming> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = http.request(url, { method, headers, agent }, (res) => {
      const headersMs = performance.now() - t0;
      let firstChunkMs = NaN;
      res.on('data', () => {
        if (Number.isNaN(firstChunkMs)) firstChunkMs = performance.now() - t0;
      });
      res.on('end', () => resolve({ headersMs, firstChunkMs, status: res.statusCode ?? 0, contentType: String(res.headers['content-type']) }));
      res.on('error', reject);
    });
    req.setTimeout(30_000, () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end(body);
  });
}

interface SseProbe {
  description: string;
  method: string;
  path: string;
  body?: string;
}

async function findSseProbe(directBase: string, delayMs: number): Promise<SseProbe | undefined> {
  const agent = new http.Agent({ keepAlive: false });
  try {
    const slow: SseProbe = { description: `GET /mcp/slow-sse?delayMs=${delayMs}`, method: 'GET', path: `/slow-sse?delayMs=${delayMs}` };
    const t = await timeRequest(agent, `${directBase}${slow.path}`, 'GET', { accept: 'text/event-stream' }).catch(() => undefined);
    if (t && t.status === 200 && t.contentType.startsWith('text/event-stream')) return slow;

    // Fallback: a `progress` tool, if the fixture has one (its response is an SSE stream).
    const list = await fetch(directBase, {
      method: 'POST',
      headers: MCP_HEADERS,
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} }),
    });
    const text = await list.text();
    if (/"name"\s*:\s*"progress"/.test(text)) {
      return {
        description: 'POST /mcp tools/call progress (with a progressToken)',
        method: 'POST',
        path: '',
        body: JSON.stringify({
          jsonrpc: '2.0',
          id: 1,
          method: 'tools/call',
          params: { name: 'progress', arguments: { steps: 2, intervalMs: delayMs }, _meta: { progressToken: 'bench' } },
        }),
      };
    }
    return undefined;
  } finally {
    agent.destroy();
  }
}

interface SseResult {
  probe: string;
  proxyHeaders: number;
  directHeaders: number;
  proxyFirstChunk: number;
  directFirstChunk: number;
  added: number;
  statuses: string;
}

async function measureSse(probe: SseProbe, proxy: Target, direct: Target, samples: number): Promise<SseResult> {
  // Keep-alive on both sides, so both paths pay the same (no) connection setup.
  const agents: Record<string, http.Agent> = { proxy: new http.Agent({ keepAlive: true, maxSockets: 1 }), direct: new http.Agent({ keepAlive: true, maxSockets: 1 }) };
  const timings: Record<string, HeaderTiming[]> = { proxy: [], direct: [] };
  const headersOf = (t: Target) => ({ ...t.headers, ...(probe.method === 'GET' ? { accept: 'text/event-stream' } : {}) });
  try {
    for (const t of [proxy, direct]) {
      for (let i = 0; i < 3; i++) await timeRequest(agents[t.name]!, `${t.url}${probe.path}`, probe.method, headersOf(t), probe.body); // warm-up
    }
    for (let i = 0; i < samples; i++) {
      // Interleaved, alternating which goes first.
      const order = i % 2 === 0 ? [proxy, direct] : [direct, proxy];
      for (const t of order) timings[t.name]!.push(await timeRequest(agents[t.name]!, `${t.url}${probe.path}`, probe.method, headersOf(t), probe.body));
    }
  } finally {
    for (const a of Object.values(agents)) a.destroy();
  }
  const med = (name: 'proxy' | 'direct', key: 'headersMs' | 'firstChunkMs') => median(timings[name]!.map((t) => t[key]).filter(Number.isFinite));
  const statuses = (['proxy', 'direct'] as const)
    .map((n) => `${n}: ${[...new Set(timings[n]!.map((t) => `${t.status} ${t.contentType.split(';')[0]}`))].join(', ')}`)
    .join('; ');
  return {
    probe: probe.description,
    proxyHeaders: med('proxy', 'headersMs'),
    directHeaders: med('direct', 'headersMs'),
    proxyFirstChunk: med('proxy', 'firstChunkMs'),
    directFirstChunk: med('direct', 'firstChunkMs'),
    added: med('proxy', 'headersMs') - med('direct', 'headersMs'),
    statuses,
  };
}

// ---------------------------------------------------------------------------------------------
// Main

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  mkdirSync(RESULTS, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const cleanups: (() => Promise<void>)[] = [];
  let profileFile: string | undefined;
  let interrupted = false;
  const onSignal = () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    log('interrupted: cleaning up (Ctrl-C again to exit at once)');
    void runCleanups().then(() => process.exit(130));
  };
  const runCleanups = async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch((e: unknown) => log(`cleanup failed: ${String(e)}`));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  try {
    ensureBuild(opts.proxyRoot, opts.build);
    const version = gitDescription(opts.proxyRoot);
    const cpus = availableParallelism();
    log(`node ${process.version}, ${cpus} CPUs, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}; proxy build: ${version}`);

    const redis: RedisServer = await startRedis();
    cleanups.push(() => redis.stop());
    const [port, mcpPort] = [await freePort(), await freePort()];
    const baseUrl = `http://127.0.0.1:${port}`;
    const idp: UpstreamIdp = await startUpstreamIdp({ redirectUris: [`${baseUrl}/interaction/identity/callback`] });
    cleanups.push(() => idp.stop());

    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const inherited = Object.fromEntries(
      ['PATH', 'HOME', 'TMPDIR', 'LANG', 'LC_ALL', 'TZ'].flatMap((k) => (process.env[k] ? [[k, process.env[k]!]] : [])),
    );
    const env: Record<string, string> = {
      ...inherited,
      NODE_ENV: 'production',
      LOG_LEVEL: opts.logLevel,
      PORT: String(port),
      MCP_AUTH_PROXY_LISTEN_HOST: '127.0.0.1',
      BASE_URL: baseUrl,
      LOCAL_INSECURE: 'true',
      OIDC_PROVIDER_JWKS: JSON.stringify([privateKey.export({ format: 'jwk' })]),
      MCP_SERVER_URL: `http://127.0.0.1:${mcpPort}/mcp`,
      MCP_SERVER_RUN_COMMAND: process.execPath,
      MCP_SERVER_RUN_ARGS_JSON: JSON.stringify(MCP_FIXTURE_ARGS),
      // Stateless, and no per-request token check at the IdP: the MCP server's own work stays minimal.
      MCP_SERVER_RUN_ENV_JSON: JSON.stringify({ MCP_FIXTURE_STATEFUL: 'false' }),
      MCP_AUTH_PROXY_REDIS_URL: redis.url,
      IDENTITY_SERVER_URL: idp.issuer,
      IDENTITY_CLIENT_ID: idp.clientId,
      IDENTITY_CLIENT_SECRET: idp.clientSecret,
      ...opts.proxyEnv,
    };
    // The inspector (no session attached until we connect) lets us profile only the load phases
    // and read the heap after a forced GC; without --inspect/--profile the proxy runs plain.
    const nodeArgs = [...opts.proxyNodeArgs, ...(opts.inspect ? ['--inspect=127.0.0.1:0'] : [])];
    const logFile = join(RESULTS, `proxy-${stamp}.log`);
    const proxy = spawnProxy(opts.proxyRoot, env, nodeArgs, logFile);
    let childPid: number | undefined;
    cleanups.push(() => stopProxy(proxy, childPid));
    log(`proxy pid ${proxy.pid} on ${baseUrl} (log: ${relative(ROOT, logFile)})`);

    const died = proxy.exited.then(({ code, signal }) => {
      throw new Error(`the proxy exited early (code ${code}, signal ${signal}):\n${proxy.output()}`);
    });
    died.catch(() => {});
    await Promise.race([waitForPort(port, '127.0.0.1', 90_000), died]);
    childPid = childPids(proxy.pid)[0];
    log(`proxy ready; MCP server child pid ${childPid ?? '(not found)'} on 127.0.0.1:${mcpPort}`);
    let inspector: InspectorSession | undefined;
    if (opts.inspect) {
      const url = await Promise.race([proxy.inspectorUrl, sleep(10_000).then(() => undefined)]);
      if (!url) throw new Error('the proxy printed no inspector URL');
      inspector = await InspectorSession.open(url);
      // Closed before the proxy is stopped (cleanups run in reverse), or it waits for the debugger.
      cleanups.push(async () => inspector?.close());
      log('connected to the proxy\'s inspector');
    }
    const heap = async (label: string): Promise<HeapProbe | undefined> => {
      if (!inspector) return undefined;
      await inspector.send('HeapProfiler.collectGarbage');
      await inspector.send('HeapProfiler.collectGarbage');
      const usage = await inspector.send<{ usedSize: number; totalSize: number }>('Runtime.getHeapUsage');
      await sleep(300);
      const probe = { label, usedMb: usage.usedSize / 2 ** 20, totalMb: usage.totalSize / 2 ** 20, rssMb: (rssKb(proxy.pid) ?? NaN) / 1024 };
      log(`heap after forced GC (${label}): used ${fmt(probe.usedMb, 1)} MB of ${fmt(probe.totalMb, 1)} MB; RSS ${fmt(probe.rssMb, 1)} MB`);
      return probe;
    };
    const heapProbes: HeapProbe[] = [];
    const addHeap = async (label: string) => {
      const p = await heap(label);
      if (p) heapProbes.push(p);
    };

    const sampler = new RssSampler(proxy.pid, childPid);
    sampler.start();
    cleanups.push(async () => sampler.stop());

    const startedMb = await sampler.idleMb(1000, 'boot-idle');

    // The OAuth flow with the official SDK client, for a real bearer token.
    const auth = new TestOAuthProvider();
    const client = await connectWithOAuth(`${baseUrl}/mcp`, auth);
    const token = auth.savedTokens?.access_token;
    await client.close();
    if (!token) throw new Error('the OAuth flow produced no access token');
    log('OAuth flow done: got a proxy bearer token');

    const proxyTarget: Target = { name: 'proxy', url: `${baseUrl}/mcp`, headers: { ...MCP_HEADERS, authorization: `Bearer ${token}` }, pid: proxy.pid };
    const directTarget: Target = { name: 'direct', url: `http://127.0.0.1:${mcpPort}/mcp`, headers: { ...MCP_HEADERS } };
    const targets: Target[] = [proxyTarget, directTarget];
    if (opts.baseline) {
      const basePort = await freePort();
      const base = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'bench', 'minimal-proxy.ts')], {
        cwd: ROOT,
        env: { ...inherited, PORT: String(basePort), TARGET: `http://127.0.0.1:${mcpPort}` },
        stdio: ['ignore', 'inherit', 'inherit'],
      });
      const baseExited = new Promise<void>((resolve) => base.once('close', () => resolve()));
      cleanups.push(async () => {
        if (base.exitCode === null && base.signalCode === null) base.kill('SIGTERM');
        await Promise.race([baseExited, sleep(5000).then(() => base.kill('SIGKILL'))]);
      });
      await waitForPort(basePort, '127.0.0.1', 30_000);
      targets.push({ name: 'baseline', url: `http://127.0.0.1:${basePort}/mcp`, headers: { ...MCP_HEADERS }, pid: base.pid });
      log(`baseline (bench/minimal-proxy.ts) pid ${base.pid} on 127.0.0.1:${basePort}`);
    }
    if (opts.compareRoot) {
      // A second build, interleaved with the first: same public BASE_URL (so the token's audience
      // matches), same Redis and keys, and the first proxy's MCP server (no child of its own).
      ensureBuild(opts.compareRoot, opts.build);
      const portB = await freePort();
      const envB: Record<string, string> = { ...env, PORT: String(portB) };
      for (const k of ['MCP_SERVER_RUN_COMMAND', 'MCP_SERVER_RUN_ARGS_JSON', 'MCP_SERVER_RUN_ENV_JSON']) delete envB[k];
      const proxyB = spawnProxy(opts.compareRoot, envB, opts.proxyNodeArgs, join(RESULTS, `proxyB-${stamp}.log`));
      cleanups.push(() => stopProxy(proxyB, undefined));
      const diedB = proxyB.exited.then(({ code, signal }) => {
        throw new Error(`the compared proxy exited early (code ${code}, signal ${signal}):\n${proxyB.output()}`);
      });
      diedB.catch(() => {});
      await Promise.race([waitForPort(portB, '127.0.0.1', 90_000), diedB]);
      targets.splice(1, 0, { name: 'proxyB', url: `http://127.0.0.1:${portB}/mcp`, headers: proxyTarget.headers, pid: proxyB.pid });
      log(`compared proxy (${opts.compareRoot}, ${gitDescription(opts.compareRoot)}) pid ${proxyB.pid} on 127.0.0.1:${portB}`);
    }
    for (const t of targets) await checkOnce(t);

    const idleAfterOAuth = await sampler.idleMb(5000, 'idle-after-oauth', 2000);
    log(`idle RSS after the OAuth flow: proxy ${fmt(idleAfterOAuth.proxy, 1)} MB (MCP server child ${fmt(idleAfterOAuth.child, 1)} MB)`);
    await addHeap('idle after the OAuth flow');

    const otherAtStart = await waitForQuiet(opts.quietPct, opts.maxWaitQuiet, proxy.pid, childPid);
    log(`CPU used by other processes before the phases: ${fmt(otherAtStart, 0)}% of one core`);

    // Warm-up (JIT, connection pools) on both paths.
    if (opts.warmup > 0) {
      log(`warm-up: ${opts.warmup} s each path at c=8`);
      for (const t of targets) await runLoad(t, 8, opts.warmup, `warmup-${t.name}`);
    }

    // Interleaved phases (the CPU profile, with --profile, covers exactly these).
    if (inspector && opts.profile) {
      await inspector.send('Profiler.enable');
      await inspector.send('Profiler.setSamplingInterval', { interval: 250 });
      await inspector.send('Profiler.start');
      log('CPU profiling the proxy during the phases (250 µs sampling)');
    }
    const results: PhaseResult[] = [];
    const quiet: QuietPolicy = { waitS: opts.phaseWait, pct: opts.quietPct, retryPct: opts.retryPct };
    for (let round = 1; round <= opts.rounds; round++) {
      for (const c of [1, 32]) {
        for (const t of targets) results.push(await phase(t, c, opts.duration, round, sampler, quiet));
      }
    }
    const peakC32 = Math.max(...sampler.where((s) => /^proxy-c32/.test(s.phase)).map((s) => s.proxyKb)) / 1024;
    const peakC32Anon = Math.max(...sampler.where((s) => /^proxy-c32/.test(s.phase)).map((s) => s.proxyAnonKb)) / 1024;
    const peakC32Child = Math.max(...sampler.where((s) => /^proxy-c32/.test(s.phase)).map((s) => s.childKb)) / 1024;
    if (inspector && opts.profile) {
      const { profile } = await inspector.send<{ profile: CpuProfile }>('Profiler.stop');
      profileFile = join(RESULTS, `proxy-${stamp}.cpuprofile`);
      writeFileSync(profileFile, JSON.stringify(profile));
      await inspector.send('Profiler.disable');
    }
    log(`settling for ${opts.settle} s`);
    const idleBeforeSoak = await sampler.idleMb(opts.settle * 1000, 'idle-before-soak', 3000);
    await addHeap('idle after the phases');

    // SSE time to headers.
    const probe = await findSseProbe(directTarget.url, opts.sseDelayMs);
    let sse: SseResult | undefined;
    if (probe) {
      log(`SSE: ${probe.description}, ${opts.sseSamples} samples per path, interleaved`);
      sse = await measureSse(probe, proxyTarget, directTarget, opts.sseSamples);
    } else {
      log('SSE: SKIPPED: the MCP fixture has neither GET /mcp/slow-sse nor a `progress` tool (yet)');
    }

    // Soak at c=32 through the proxy, then idle.
    let soak: { result: PhaseResult; quarters: number[]; idleAfter: IdleMb; peak: number; peakAnon: number } | undefined;
    if (opts.soak > 0) {
      await waitForQuiet(opts.quietPct, Math.min(opts.maxWaitQuiet, 60), proxy.pid, childPid);
      log(`soak: ${opts.soak} s through the proxy at c=32`);
      const soakStart = performance.now();
      const result = await phaseOnce(proxyTarget, 32, opts.soak, 0, sampler);
      const soakEnd = performance.now();
      const during = sampler.where((s) => s.t >= soakStart && s.t <= soakEnd);
      const quarters = [0, 1, 2, 3].map((q) => {
        const from = soakStart + ((soakEnd - soakStart) * q) / 4;
        const to = soakStart + ((soakEnd - soakStart) * (q + 1)) / 4;
        return mean(during.filter((s) => s.t >= from && s.t < to).map((s) => s.proxyKb)) / 1024;
      });
      const peak = Math.max(...during.map((s) => s.proxyKb)) / 1024;
      const peakAnon = Math.max(...during.map((s) => s.proxyAnonKb)) / 1024;
      log(`settling for ${opts.settle} s`);
      const idleAfter = await sampler.idleMb(opts.settle * 1000, 'idle-after-soak', 3000);
      await addHeap('idle after the soak');
      soak = { result: { ...result, label: 'soak-proxy-c32' }, quarters, idleAfter, peak, peakAnon };
    }
    sampler.stop();

    // ---- Report
    const out: string[] = [];
    const say = (s = '') => out.push(s);
    say('');
    say(`== Results (${new Date().toISOString()}, node ${process.version}, proxy build ${version}) ==`);
    if (opts.proxyNodeArgs.length > 0) say(`proxy node flags: ${opts.proxyNodeArgs.join(' ')}`);
    const extraEnv = Object.entries(opts.proxyEnv).map(([k, v]) => `${k}=${v}`);
    if (extraEnv.length > 0) say(`proxy env: ${extraEnv.join(' ')}`);
    say(`phases: ${opts.duration} s each, ${opts.rounds} rounds, interleaved proxy/direct; POST /mcp tools/call echo`);
    say(`CPU% columns: % of one core (${cpus} cores in all) for the proxy, its MCP server child, this load generator, and every other process on the machine`);
    say('');
    say(
      table(
        ['phase', 'req/s', 'p50 ms', 'p99 ms', 'errors/non-2xx', 'requests', 'CPU% proxy', 'mcp', 'loadgen', 'other', 'proxy CPU ms/req'],
        results.map((r) => [
          r.label,
          fmt(r.rps, 0),
          fmt(r.p50),
          fmt(r.p99),
          `${r.errors - r.non2xx}/${r.non2xx}`,
          r.total,
          fmt(r.cpu.proxy, 0),
          fmt(r.cpu.child, 0),
          fmt(r.cpu.loadgen, 0),
          fmt(r.cpu.other, 0),
          r.target !== 'direct' ? fmt(r.cpu.proxyMs / Math.max(1, r.total), 3) : '',
        ]),
      ),
    );
    say('');
    const pick = (t: Target['name'], c: number) => results.filter((r) => r.target === t && r.connections === c);
    const compare = (via: 'proxy' | 'baseline' | 'proxyB', c: number) => {
      const p = pick(via, c);
      const d = pick('direct', c);
      const pm = { rps: mean(p.map((r) => r.rps)), p50: mean(p.map((r) => r.p50)), p99: mean(p.map((r) => r.p99)) };
      const dm = { rps: mean(d.map((r) => r.rps)), p50: mean(d.map((r) => r.p50)), p99: mean(d.map((r) => r.p99)) };
      const perRound = p.map((r, i) => r.rps / d[i]!.rps);
      const addedPerRound = p.map((r, i) => r.p50 - d[i]!.p50);
      return {
        c,
        row: [
          `${via} c=${c}`,
          fmt(pm.rps, 0),
          fmt(dm.rps, 0),
          fmt(pm.rps / dm.rps, 3),
          `${fmt(Math.min(...perRound), 3)}..${fmt(Math.max(...perRound), 3)}`,
          fmt(pm.p50),
          fmt(dm.p50),
          fmt(pm.p50 - dm.p50, 3),
          `${fmt(Math.min(...addedPerRound), 2)}..${fmt(Math.max(...addedPerRound), 2)}`,
          fmt(pm.p99 - dm.p99, 2),
          fmt(mean(p.map((r) => r.cpu.proxyMs / Math.max(1, r.total))), 3),
        ],
        ratio: pm.rps / dm.rps,
        addedP50: pm.p50 - dm.p50,
      };
    };
    const summaryRows = [1, 32].map((c) => compare('proxy', c));
    const baselineRows = [
      ...(opts.compareRoot ? [1, 32].map((c) => compare('proxyB', c)) : []),
      ...(opts.baseline ? [1, 32].map((c) => compare('baseline', c)) : []),
    ];
    say('Proxy vs direct (mean of rounds; the per-round ratio range is shown too):');
    say(
      table(
        ['path', 'req/s', 'direct req/s', 'ratio', 'ratio/round', 'p50', 'direct p50', 'added p50 ms', 'added p50/round', 'added p99 ms', 'CPU ms/req'],
        [...summaryRows, ...baselineRows].map((r) => r.row),
      ),
    );
    if (opts.compareRoot) say(`(proxyB = the build in ${opts.compareRoot}, sharing Redis, keys and the MCP server with proxy = ${opts.proxyRoot})`);
    if (opts.baseline) say('(baseline = bench/minimal-proxy.ts: a bare keep-alive pipe proxy, no auth/logging/framework)');
    say('');
    const c1 = summaryRows[0]!;
    const c32 = summaryRows[1]!;
    const verdict = (ok: boolean) => (ok ? 'PASS' : 'MISS');
    const checks: [string, string, boolean][] = [
      ['throughput ratio c=1 >= 0.70', fmt(c1.ratio, 3), c1.ratio >= 0.7],
      ['throughput ratio c=32 >= 0.85', fmt(c32.ratio, 3), c32.ratio >= 0.85],
      ['added p50 at c=1 <= 0.5 ms', `${fmt(c1.addedP50, 3)} ms`, c1.addedP50 <= 0.5],
    ];
    if (sse) {
      say(`SSE time to headers (${sse.probe}; median of ${opts.sseSamples}, keep-alive connections):`);
      say(
        table(
          ['path', 'headers ms', 'first chunk ms'],
          [
            ['proxy', fmt(sse.proxyHeaders), fmt(sse.proxyFirstChunk)],
            ['direct', fmt(sse.directHeaders), fmt(sse.directFirstChunk)],
          ],
        ),
      );
      say(`responses: ${sse.statuses}`);
      say(`added by the proxy: ${fmt(sse.added)} ms`);
      say('');
      checks.push(['SSE headers <= 10 ms after the MCP server', `+${fmt(sse.added)} ms`, sse.added <= 10]);
    } else {
      say('SSE time to headers: skipped (no slow-sse route or progress tool in the fixture)');
      say('');
    }
    say('Proxy memory: VmRSS of the spawned node process only (RssAnon = VmRSS minus shared file-backed pages such as');
    say('the node binary); the MCP server child\'s VmRSS is shown for information:');
    const mb = (x: number) => `${fmt(x, 1)} MB`;
    const memRows: string[][] = [
      ['at boot (before any request)', mb(startedMb.proxy), mb(startedMb.anon), mb(startedMb.child)],
      ['idle after the OAuth flow', mb(idleAfterOAuth.proxy), mb(idleAfterOAuth.anon), mb(idleAfterOAuth.child)],
      ['peak during proxy c=32 phases', mb(peakC32), mb(peakC32Anon), mb(peakC32Child)],
      [`settled idle after the phases (${opts.settle} s)`, mb(idleBeforeSoak.proxy), mb(idleBeforeSoak.anon), mb(idleBeforeSoak.child)],
    ];
    if (soak) {
      memRows.push(
        [`soak ${opts.soak} s c=32, mean by quarter`, soak.quarters.map((q) => fmt(q, 1)).join(' / '), '', ''],
        ['soak peak', mb(soak.peak), mb(soak.peakAnon), ''],
        [`settled idle after the soak (${opts.settle} s)`, mb(soak.idleAfter.proxy), mb(soak.idleAfter.anon), mb(soak.idleAfter.child)],
      );
    }
    say(table(['when', 'proxy VmRSS', 'proxy RssAnon', 'MCP child VmRSS'], memRows));
    if (soak) {
      const r = soak.result;
      say(`soak load: ${fmt(r.rps, 0)} req/s, p50 ${fmt(r.p50)} ms, p99 ${fmt(r.p99)} ms, errors/non-2xx ${r.errors - r.non2xx}/${r.non2xx}, ${r.total} requests`);
      const growth = soak.idleAfter.proxy - idleBeforeSoak.proxy;
      const trend = soak.quarters[3]! - soak.quarters[1]!;
      say(
        `settled idle RSS after the soak vs before it: ${growth >= 0 ? '+' : ''}${fmt(growth, 1)} MB; ` +
          `under load, last soak quarter vs second: ${trend >= 0 ? '+' : ''}${fmt(trend, 1)} MB (the first quarter is the heap growing to its working size)`,
      );
      checks.push(['no RSS growth during the soak (mean of quarter 4 - quarter 2 <= 5 MB)', `${fmt(trend, 1)} MB`, trend <= 5]);
      checks.push(['no RSS growth across the soak (settled idle after - before <= 5 MB)', `${fmt(growth, 1)} MB`, growth <= 5]);
      const heapBefore = heapProbes.find((h) => h.label === 'idle after the phases');
      const heapAfter = heapProbes.find((h) => h.label === 'idle after the soak');
      if (heapBefore && heapAfter) {
        const heapGrowth = heapAfter.usedMb - heapBefore.usedMb;
        checks.push(['no heap growth across the soak (used after GC, after - before <= 1 MB)', `${fmt(heapGrowth, 2)} MB`, heapGrowth <= 1]);
      }
    }
    if (heapProbes.length > 0) {
      say('');
      say('V8 heap after a forced full GC (--inspect), and RSS right after:');
      say(table(['when', 'heap used', 'heap total', 'RSS'], heapProbes.map((h) => [h.label, `${fmt(h.usedMb, 1)} MB`, `${fmt(h.totalMb, 1)} MB`, `${fmt(h.rssMb, 1)} MB`])));
    }
    say('');
    checks.push(['RSS idle after OAuth <= 90 MB', `${fmt(idleAfterOAuth.proxy, 1)} MB`, idleAfterOAuth.proxy <= 90]);
    checks.push(['RSS peak under c=32 <= 160 MB', `${fmt(Math.max(peakC32, soak?.peak ?? 0), 1)} MB`, Math.max(peakC32, soak?.peak ?? 0) <= 160]);
    say('Targets:');
    say(table(['target', 'measured', ''], checks.map(([name, value, ok]) => [name, value, verdict(ok)])));
    process.stdout.write(`${out.join('\n')}\n`);
    const reportFile = join(RESULTS, `report-${stamp}.txt`);
    writeFileSync(reportFile, `${out.join('\n')}\n`);
    log(`report saved to ${relative(ROOT, reportFile)}`);
  } finally {
    await runCleanups();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }

  if (profileFile) {
    log(`CPU profile of the proxy during the phases: ${relative(ROOT, profileFile)}`);
    process.stdout.write(`${formatSummary(summarizeProfile(JSON.parse(readFileSync(profileFile, 'utf8')) as CpuProfile, 30), 30)}\n`);
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`[bench] FAILED: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
