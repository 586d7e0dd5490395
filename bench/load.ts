// The load itself: `POST /mcp` `tools/call echo` at a fixed concurrency with autocannon, one
// phase per target and concurrency, each with the CPU used meanwhile by the proxy, its MCP server,
// the load generator and the rest of the machine (a disturbed phase is run again once).
import { performance } from 'node:perf_hooks';
import autocannon from 'autocannon';
import type { RssSampler } from './memory.js';
import { cpuBetween, cpuSnapshot, waitForQuiet, type CpuUse } from './proc.js';
import { fmt, log, percentile } from './stats.js';

export const ECHO_BODY = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', arguments: { text: 'hello' } } });
export const MCP_HEADERS: Record<string, string> = {
  'content-type': 'application/json',
  accept: 'application/json, text/event-stream',
  'mcp-protocol-version': '2025-06-18',
};

export interface Target {
  /** With --policy: `policy` (the proxy with a policy), and `-list` for tools/list instead of tools/call echo. */
  name: 'proxy' | 'direct' | 'baseline' | 'proxyB' | 'stdio' | 'policy' | 'proxy-list' | 'policy-list';
  url: string;
  headers: Record<string, string>;
  /** The process that serves this path in front of the MCP server (none for direct). */
  pid?: number;
  /** ECHO_BODY unless given. */
  body?: string;
  /** Give each request a JSON-RPC id of its own: a session may not have two requests with one id in flight. */
  uniqueIds?: boolean;
}

export interface PhaseResult {
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

interface LoadResult {
  result: autocannon.Result;
  /** Response times (ms) of the 2xx responses, ascending. */
  latencies: Float64Array;
  ok: number;
  /** Seconds. */
  elapsed: number;
}

export async function runLoad(target: Target, connections: number, seconds: number, label: string): Promise<LoadResult> {
  // autocannon's own histogram has 1 ms resolution; keep every response time (fractional ms).
  const latencies: number[] = [];
  let ok = 0;
  const body = target.body ?? ECHO_BODY;
  const requests = target.uniqueIds ? withUniqueIds(body) : undefined;
  const started = performance.now();
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url: target.url,
        method: 'POST',
        headers: target.headers,
        body,
        ...(requests ? { requests } : {}),
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

/**
 * autocannon requests whose body is `body` with a JSON-RPC id of its own each, rebuilt per request
 * (autocannon's idReplacement announces one Content-Length for ids whose length varies: the
 * server then waits for bytes that never come).
 */
function withUniqueIds(body: string): autocannon.Request[] {
  const message = JSON.parse(body) as Record<string, unknown>;
  let nextId = 0;
  return [{ setupRequest: (req: autocannon.Request) => ({ ...req, body: JSON.stringify({ ...message, id: ++nextId }) }) }];
}

export interface QuietPolicy {
  /** Wait up to this long before a phase for the rest of the machine to calm down. */
  waitS: number;
  /** "Quiet" is other processes using less than this % of one core. */
  pct: number;
  /** Run a phase again (once) when other processes used more than this % of one core during it. */
  retryPct: number;
}

/** A phase, run again once if other processes on the machine took too much CPU during it. */
export async function phase(target: Target, connections: number, seconds: number, round: number, sampler: RssSampler, quiet: QuietPolicy): Promise<PhaseResult> {
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

/** One phase, its memory samples tagged with its label; logs its line. */
export async function phaseOnce(target: Target, connections: number, seconds: number, round: number, sampler: RssSampler): Promise<PhaseResult> {
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
export async function checkOnce(target: Target): Promise<void> {
  const res = await fetch(target.url, { method: 'POST', headers: target.headers, body: target.body ?? ECHO_BODY });
  const text = await res.text();
  if (res.status !== 200 || !text.includes('hello')) {
    throw new Error(`${target.name}: POST ${target.url} answered ${res.status} ${res.headers.get('content-type')}: ${text.slice(0, 300)}`);
  }
  log(`${target.name}: single tools/call echo -> ${res.status} (${res.headers.get('content-type')})`);
}
