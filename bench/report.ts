// The report: the measurements as text tables (phases, proxy vs direct, SSE, memory, heap, and the
// stdio and policy lines) and the targets checked against them. Only text; writing it out
// is the caller's business.
import type { PhaseResult, Target } from './load.js';
import type { HeapProbe, IdleMb } from './memory.js';
import type { Options } from './options.js';
import type { PolicyResult } from './policy.js';
import type { SseResult } from './sse.js';
import { fmt, mean, median, percentile, table } from './stats.js';
import type { CallRow, StdioResult } from './stdio.js';

export interface SoakResult {
  result: PhaseResult;
  /** Mean proxy VmRSS (MB) in each quarter of the soak. */
  quarters: number[];
  idleAfter: IdleMb;
  peak: IdleMb;
}

export interface Measurements {
  /** The proxy build (gitDescription). */
  version: string;
  cpus: number;
  results: PhaseResult[];
  startedMb: IdleMb;
  idleAfterOAuth: IdleMb;
  peakC32: IdleMb;
  idleBeforeSoak: IdleMb;
  sse?: SseResult;
  soak?: SoakResult;
  heapProbes: HeapProbe[];
  /** --stdio. */
  stdio?: StdioResult;
  /** --policy. */
  policy?: PolicyResult;
}

/** One line of the proxy-vs-direct table, and the two numbers the targets are about. */
interface Comparison {
  row: string[];
  ratio: number;
  addedP50: number;
}

type Check = [name: string, measured: string, ok: boolean];

export function buildReport(opts: Options, m: Measurements): string {
  const summaryRows = [1, 32].map((c) => compare(m.results, 'proxy', c));
  return [
    ...heading(opts, m),
    table(PHASE_HEADERS, m.results.map(phaseRow)),
    '',
    ...comparisonSection(opts, m.results, summaryRows),
    ...sseSection(opts, m.sse),
    ...memorySection(opts, m),
    ...heapSection(m.heapProbes),
    '',
    'Targets:',
    table(['target', 'measured', ''], targetChecks(m, summaryRows).map(([name, value, ok]) => [name, value, ok ? 'PASS' : 'MISS'])),
    ...(m.stdio ? ['', ...stdioSection(opts, m.stdio)] : []),
    ...(m.policy ? ['', ...policySection(opts, m.policy)] : []),
  ].join('\n');
}

/** --stdio-only, --policy-only: their sections alone. */
export function buildExtrasReport(opts: Options, m: { version: string; cpus: number; stdio?: StdioResult | undefined; policy?: PolicyResult | undefined }): string {
  return [
    '',
    `== ${[m.stdio && 'stdio', m.policy && 'policy'].filter(Boolean).join(' and ')} results (${new Date().toISOString()}, node ${process.version}, proxy build ${m.version}) ==`,
    ...proxySettings(opts),
    `CPU% columns: % of one core (${m.cpus} cores in all)`,
    ...(m.stdio ? ['', ...stdioSection(opts, m.stdio)] : []),
    ...(m.policy ? ['', ...policySection(opts, m.policy)] : []),
  ].join('\n');
}

/** --proxy-node-args and --proxy-env, when given. */
function proxySettings(opts: Options): string[] {
  const extraEnv = Object.entries(opts.proxyEnv).map(([k, v]) => `${k}=${v}`);
  return [
    ...(opts.proxyNodeArgs.length > 0 ? [`proxy node flags: ${opts.proxyNodeArgs.join(' ')}`] : []),
    ...(extraEnv.length > 0 ? [`proxy env: ${extraEnv.join(' ')}`] : []),
  ];
}

function heading(opts: Options, m: Measurements): string[] {
  return [
    '',
    `== Results (${new Date().toISOString()}, node ${process.version}, proxy build ${m.version}) ==`,
    ...proxySettings(opts),
    `phases: ${opts.duration} s each, ${opts.rounds} rounds, interleaved proxy/direct; POST /mcp tools/call echo`,
    `CPU% columns: % of one core (${m.cpus} cores in all) for the proxy, its MCP server child, this load generator, and every other process on the machine`,
    '',
  ];
}

/** The CPU time the proxy (or whatever stands in front of the MCP server) spent per request of a phase. */
const cpuMsPerReq = (r: PhaseResult) => r.cpu.proxyMs / Math.max(1, r.total);

const PHASE_HEADERS = ['phase', 'req/s', 'p50 ms', 'p99 ms', 'errors/non-2xx', 'requests', 'CPU% proxy', 'mcp', 'loadgen', 'other', 'proxy CPU ms/req'];

function phaseRow(r: PhaseResult): (string | number)[] {
  return [
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
    r.target !== 'direct' ? fmt(cpuMsPerReq(r), 3) : '',
  ];
}

/** A path in front of the MCP server vs direct at concurrency c: means of the rounds, and their range. */
function compare(results: PhaseResult[], via: 'proxy' | 'baseline' | 'proxyB', c: number): Comparison {
  const pick = (t: Target['name']) => results.filter((r) => r.target === t && r.connections === c);
  const p = pick(via);
  const d = pick('direct');
  const [pm, dm] = [means(p), means(d)];
  // Phases of a round are interleaved, so the i-th of each path ran side by side.
  const perRound = p.map((r, i) => r.rps / d[i]!.rps);
  const addedPerRound = p.map((r, i) => r.p50 - d[i]!.p50);
  return {
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
      fmt(pm.cpuMsPerReq, 3),
    ],
    ratio: pm.rps / dm.rps,
    addedP50: pm.p50 - dm.p50,
  };
}

/** The means over the rounds of one path at one concurrency. */
function means(rounds: PhaseResult[]): { rps: number; p50: number; p99: number; cpuMsPerReq: number } {
  const of = (f: (r: PhaseResult) => number) => mean(rounds.map(f));
  return { rps: of((r) => r.rps), p50: of((r) => r.p50), p99: of((r) => r.p99), cpuMsPerReq: of(cpuMsPerReq) };
}

function comparisonSection(opts: Options, results: PhaseResult[], summaryRows: Comparison[]): string[] {
  const baselineRows = [
    ...(opts.compareRoot ? [1, 32].map((c) => compare(results, 'proxyB', c)) : []),
    ...(opts.baseline ? [1, 32].map((c) => compare(results, 'baseline', c)) : []),
  ];
  return [
    'Proxy vs direct (mean of rounds; the per-round ratio range is shown too):',
    table(
      ['path', 'req/s', 'direct req/s', 'ratio', 'ratio/round', 'p50', 'direct p50', 'added p50 ms', 'added p50/round', 'added p99 ms', 'CPU ms/req'],
      [...summaryRows, ...baselineRows].map((r) => r.row),
    ),
    ...(opts.compareRoot ? [`(proxyB = the build in ${opts.compareRoot}, sharing Redis, keys and the MCP server with proxy = ${opts.proxyRoot})`] : []),
    ...(opts.baseline ? ['(baseline = bench/minimal-proxy.ts: a bare keep-alive pipe proxy, no auth/logging/framework)'] : []),
    '',
  ];
}

function sseSection(opts: Options, sse: SseResult | undefined): string[] {
  if (!sse) return ['SSE time to headers: skipped (no slow-sse route or progress tool in the fixture)', ''];
  return [
    `SSE time to headers (${sse.probe}; median of ${opts.sseSamples}, keep-alive connections):`,
    table(
      ['path', 'headers ms', 'first chunk ms'],
      [
        ['proxy', fmt(sse.proxyHeaders), fmt(sse.proxyFirstChunk)],
        ['direct', fmt(sse.directHeaders), fmt(sse.directFirstChunk)],
      ],
    ),
    `responses: ${sse.statuses}`,
    `added by the proxy: ${fmt(sse.added)} ms`,
    '',
  ];
}

/** RSS change (MB) across the soak (settled idle after - before) and under it (quarter 4 - quarter 2). */
function soakGrowth(soak: SoakResult, idleBeforeSoak: IdleMb): { growth: number; trend: number } {
  return { growth: soak.idleAfter.proxy - idleBeforeSoak.proxy, trend: soak.quarters[3]! - soak.quarters[1]! };
}

function memorySection(opts: Options, m: Measurements): string[] {
  const mb = (x: number) => `${fmt(x, 1)} MB`;
  const row = (when: string, x: IdleMb) => [when, mb(x.proxy), mb(x.anon), mb(x.child)];
  const rows: string[][] = [
    row('at boot (before any request)', m.startedMb),
    row('idle after the OAuth flow', m.idleAfterOAuth),
    row('peak during proxy c=32 phases', m.peakC32),
    row(`settled idle after the phases (${opts.settle} s)`, m.idleBeforeSoak),
  ];
  const lines = [
    'Proxy memory: VmRSS of the spawned node process only (RssAnon = VmRSS minus shared file-backed pages such as',
    'the node binary); the MCP server child\'s VmRSS is shown for information:',
  ];
  const { soak } = m;
  if (!soak) return [...lines, table(['when', 'proxy VmRSS', 'proxy RssAnon', 'MCP child VmRSS'], rows)];
  rows.push(
    [`soak ${opts.soak} s c=32, mean by quarter`, soak.quarters.map((q) => fmt(q, 1)).join(' / '), '', ''],
    ['soak peak', mb(soak.peak.proxy), mb(soak.peak.anon), ''],
    row(`settled idle after the soak (${opts.settle} s)`, soak.idleAfter),
  );
  const r = soak.result;
  const { growth, trend } = soakGrowth(soak, m.idleBeforeSoak);
  return [
    ...lines,
    table(['when', 'proxy VmRSS', 'proxy RssAnon', 'MCP child VmRSS'], rows),
    `soak load: ${fmt(r.rps, 0)} req/s, p50 ${fmt(r.p50)} ms, p99 ${fmt(r.p99)} ms, errors/non-2xx ${r.errors - r.non2xx}/${r.non2xx}, ${r.total} requests`,
    `settled idle RSS after the soak vs before it: ${growth >= 0 ? '+' : ''}${fmt(growth, 1)} MB; ` +
      `under load, last soak quarter vs second: ${trend >= 0 ? '+' : ''}${fmt(trend, 1)} MB (the first quarter is the heap growing to its working size)`,
  ];
}

function heapSection(heapProbes: HeapProbe[]): string[] {
  if (heapProbes.length === 0) return [];
  return [
    '',
    'V8 heap after a forced full GC (--inspect), and RSS right after:',
    table(['when', 'heap used', 'heap total', 'RSS'], heapProbes.map((h) => [h.label, `${fmt(h.usedMb, 1)} MB`, `${fmt(h.totalMb, 1)} MB`, `${fmt(h.rssMb, 1)} MB`])),
  ];
}

/** The targets, in the report's order; the SSE, soak and heap ones only when measured. */
function targetChecks(m: Measurements, summaryRows: Comparison[]): Check[] {
  const [c1, c32] = [summaryRows[0]!, summaryRows[1]!];
  const checks: Check[] = [
    ['throughput ratio c=1 >= 0.70', fmt(c1.ratio, 3), c1.ratio >= 0.7],
    ['throughput ratio c=32 >= 0.85', fmt(c32.ratio, 3), c32.ratio >= 0.85],
    ['added p50 at c=1 <= 0.5 ms', `${fmt(c1.addedP50, 3)} ms`, c1.addedP50 <= 0.5],
  ];
  if (m.sse) checks.push(['SSE headers <= 10 ms after the MCP server', `+${fmt(m.sse.added)} ms`, m.sse.added <= 10]);
  if (m.soak) {
    const { growth, trend } = soakGrowth(m.soak, m.idleBeforeSoak);
    checks.push(['no RSS growth during the soak (mean of quarter 4 - quarter 2 <= 5 MB)', `${fmt(trend, 1)} MB`, trend <= 5]);
    checks.push(['no RSS growth across the soak (settled idle after - before <= 5 MB)', `${fmt(growth, 1)} MB`, growth <= 5]);
    const heapBefore = m.heapProbes.find((h) => h.label === 'idle after the phases');
    const heapAfter = m.heapProbes.find((h) => h.label === 'idle after the soak');
    if (heapBefore && heapAfter) {
      const heapGrowth = heapAfter.usedMb - heapBefore.usedMb;
      checks.push(['no heap growth across the soak (used after GC, after - before <= 1 MB)', `${fmt(heapGrowth, 2)} MB`, heapGrowth <= 1]);
    }
  }
  const peak = Math.max(m.peakC32.proxy, m.soak?.peak.proxy ?? 0);
  checks.push(['RSS idle after OAuth <= 90 MB', `${fmt(m.idleAfterOAuth.proxy, 1)} MB`, m.idleAfterOAuth.proxy <= 90]);
  checks.push(['RSS peak under c=32 <= 160 MB', `${fmt(peak, 1)} MB`, peak <= 160]);
  return checks;
}

function stdioSection(opts: Options, s: StdioResult): string[] {
  const spread = (ms: number[]) => {
    const sorted = Float64Array.from(ms).sort();
    return [fmt(percentile(sorted, 50), 1), fmt(percentile(sorted, 90), 1), fmt(sorted[0] ?? NaN, 1), fmt(sorted[sorted.length - 1] ?? NaN, 1)];
  };
  const mem = s.memory;
  const mb = (x: number) => `${fmt(x, 1)} MB`;
  const perSessionKb = (f: 'usedMb' | 'rssMb') => `${fmt(((mem.proxyOpen[f] - mem.proxyIdle[f]) * 1024) / mem.sessions, 0)} kB`;
  const range = (xs: number[]) => `${fmt(Math.min(...xs), 1)}..${fmt(Math.max(...xs), 1)}`;
  return [
    `stdio MCP servers: MCP_SERVER_TRANSPORT=stdio, isolation session, ${s.server} (node, stdio), one process per session:`,
    '',
    `Session start (${s.starts.proxy.length} of each, interleaved; each session DELETEd and its process gone before the next):`,
    table(
      ['path', 'median ms', 'p90 ms', 'min ms', 'max ms'],
      [
        ['proxy: POST initialize -> answer (spawn + initialize)', ...spread(s.starts.proxy)],
        ['direct: spawn -> initialize answered on stdout', ...spread(s.starts.direct)],
      ],
    ),
    `added by the proxy (medians): ${fmt(median(s.starts.proxy) - median(s.starts.direct), 1)} ms`,
    '',
    `tools/call echo over one open session (${opts.duration} s phases, interleaved; http proxy = the HTTP line above, its stateless fixture server):`,
    table(
      ['path', 'req/s', 'p50 ms', 'p99 ms', 'errors', 'requests', 'CPU% proxy', 'server', 'other', 'proxy CPU ms/req'],
      s.calls.map((r) => [
        `${r.path} c=${r.connections}`,
        fmt(r.rps, 0),
        fmt(r.p50),
        fmt(r.p99),
        r.errors,
        r.total,
        r.cpuProxy === undefined ? '' : fmt(r.cpuProxy, 0),
        fmt(r.cpuServer, 0),
        fmt(r.cpuOther, 0),
        r.proxyMsPerReq === undefined ? '' : fmt(r.proxyMsPerReq, 3),
      ]),
    ),
    ...[...new Set(s.calls.map((r) => r.connections))].map((c) => stdioComparison(s.calls, c)),
    '',
    `Memory of a stdio server process, ${mem.sessions} sessions open and idle (its process group; RssAnon = without the shared file-backed pages such as the node binary):`,
    table(
      ['what', 'VmRSS', 'RssAnon'],
      [
        [`one server process after initialize, median of ${mem.sessions}`, mb(median(mem.serverRssMb)), mb(median(mem.serverAnonMb))],
        ['  range', range(mem.serverRssMb), range(mem.serverAnonMb)],
      ],
    ),
    '',
    'Memory of the stdio proxy (a proxy of its own with the inspector, read after a forced full GC):',
    table(
      ['when', 'V8 heap used', 'VmRSS'],
      [
        [mem.proxyIdle.label, mb(mem.proxyIdle.usedMb), mb(mem.proxyIdle.rssMb)],
        [mem.proxyOpen.label, mb(mem.proxyOpen.usedMb), mb(mem.proxyOpen.rssMb)],
        ['growth per open session', perSessionKb('usedMb'), perSessionKb('rssMb')],
      ],
    ),
  ];
}

/** At concurrency c: what the proxy adds to a stdio call, and stdio against the HTTP line. */
function stdioComparison(calls: CallRow[], c: number): string {
  const at = (path: CallRow['path']) => calls.find((r) => r.path === path && r.connections === c);
  const [http, stdio, direct] = [at('http proxy'), at('stdio proxy'), at('stdio direct')];
  if (!http || !stdio || !direct) return '';
  return (
    `c=${c}: stdio through the proxy adds ${fmt(stdio.p50 - direct.p50, 2)} ms p50 to a direct stdio call (${fmt(stdio.rps / direct.rps, 2)} of its req/s); ` +
    `against the HTTP line: ${fmt(stdio.rps / http.rps, 2)} of its req/s, proxy CPU ${fmt(stdio.proxyMsPerReq ?? NaN, 3)} vs ${fmt(http.proxyMsPerReq ?? NaN, 3)} ms/req`
  );
}

/** --policy: every phase, then each request and concurrency with the policy against without (the default path). */
function policySection(opts: Options, p: PolicyResult): string[] {
  const requests = [
    { request: 'tools/call echo', none: 'proxy', policy: 'policy' },
    { request: 'tools/list', none: 'proxy-list', policy: 'policy-list' },
  ] as const;
  const concurrencies = [...new Set(p.results.map((r) => r.connections))];
  const rows = requests.flatMap(({ request, none, policy }) =>
    concurrencies.map((c) => {
      const pick = (t: Target['name']) => p.results.filter((r) => r.target === t && r.connections === c);
      // Phases of a round are interleaved: the i-th of each ran side by side, a pair. On a shared
      // machine a pair with a phase that other processes disturbed (beyond --retry-pct, even
      // after its rerun) is left out when an undisturbed pair remains.
      const withPolicy = pick(policy);
      const all = pick(none).map((r, i) => ({ n: r, w: withPolicy[i]! }));
      const clean = all.filter(({ n, w }) => Math.max(n.cpu.other, w.cpu.other) <= opts.retryPct);
      const pairs = clean.length > 0 ? clean : all;
      const [nm, wm] = [means(pairs.map((x) => x.n)), means(pairs.map((x) => x.w))];
      // The ratio of each pair, which saw the same moment of the machine: median (range).
      const perRound = (f: (r: PhaseResult) => number) => {
        const ratios = pairs.map(({ n, w }) => f(w) / f(n));
        return `${fmt(median(ratios), 3)} (${fmt(Math.min(...ratios), 2)}..${fmt(Math.max(...ratios), 2)})`;
      };
      return [
        `${request} c=${c}`,
        `${pairs.length}/${all.length}`,
        `${fmt(nm.rps, 0)} / ${fmt(wm.rps, 0)}`,
        fmt(wm.rps / nm.rps, 3),
        perRound((r) => r.rps),
        `${fmt(nm.p50)} / ${fmt(wm.p50)}`,
        `${fmt(nm.p99)} / ${fmt(wm.p99)}`,
        `${fmt(nm.cpuMsPerReq, 3)} / ${fmt(wm.cpuMsPerReq, 3)}`,
        fmt(wm.cpuMsPerReq / nm.cpuMsPerReq, 3),
        perRound(cpuMsPerReq),
      ];
    }),
  );
  return [
    'MCP_AUTH_PROXY_POLICY: the proxy above, without a policy (the default path: the plain forwarder, the body not read), against a second',
    `proxy with the same Redis, keys, token and MCP server and MCP_AUTH_PROXY_POLICY=${p.policy}`,
    `(${opts.duration} s phases, ${opts.rounds} rounds, interleaved; proxy* = without, policy* = with; *-list = tools/list, the others tools/call echo):`,
    table(PHASE_HEADERS, p.results.map(phaseRow)),
    `tools/list shows [${p.listed.none.join(', ')}] without the policy, [${p.listed.policy.join(', ')}] with it`,
    '',
    `With the policy / without: means of the rounds kept (those whose two phases had other processes <= ${opts.retryPct}% of a core), and the ratio of each round's pair, median (range):`,
    table(
      ['request', 'rounds kept', 'req/s without / with', 'ratio', 'per round', 'p50 ms without / with', 'p99 ms without / with', 'proxy CPU ms/req without / with', 'CPU ratio', 'per round'],
      rows,
    ),
  ];
}
