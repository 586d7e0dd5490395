// Summarizes a V8 .cpuprofile (node --cpu-prof): where the busy (non-idle) time went, by
// function (self and inclusive time) and by package.
//
//   npx tsx bench/summarize-profile.ts bench/results/proxy-*.cpuprofile [--top 30] [--focus 'checkBearer|forward']
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

export interface CpuProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number; scriptId?: string | number };
  hitCount?: number;
  children?: number[];
}

export interface CpuProfile {
  nodes: CpuProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface Row {
  name: string;
  where: string;
  ms: number;
  /** Share of the busy (non-idle) time. */
  share: number;
}

export interface ProfileSummary {
  totalMs: number;
  idleMs: number;
  busyMs: number;
  gcMs: number;
  programMs: number;
  self: Row[];
  inclusive: Row[];
  packages: Row[];
  /** Inclusive time of every function whose name or script matches `focus`. */
  focus: Row[];
}

const SPECIAL = new Set(['(root)', '(program)', '(idle)', '(garbage collector)']);

/** Which package (or part of node, or of the proxy) a script URL belongs to. */
export function packageOf(url: string): string {
  if (!url) return '(native/V8)';
  if (url.startsWith('node:')) return `node:${url.slice(5).split('/')[0]}`;
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + '/node_modules/'.length).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  const dist = /\/(dist|src)\/(.+)$/.exec(url);
  if (dist) return `proxy: ${dist[1]}/${dist[2]}`;
  return url.replace(/^file:\/\//, '');
}

function shortWhere(url: string, line: number): string {
  if (!url) return '';
  const nm = url.lastIndexOf('/node_modules/');
  const short = nm >= 0 ? url.slice(nm + '/node_modules/'.length) : url.replace(/^file:\/\/.*?\/(dist|src|bin)\//, '$1/');
  return `${short}:${line + 1}`;
}

export function summarizeProfile(profile: CpuProfile, top = 25, focus?: RegExp): ProfileSummary {
  const byId = new Map<number, CpuProfileNode>();
  const parent = new Map<number, number>();
  for (const node of profile.nodes) {
    byId.set(node.id, node);
    for (const child of node.children ?? []) parent.set(child, node.id);
  }
  const keyOf = (n: CpuProfileNode) => `${n.callFrame.functionName || '(anonymous)'}\u0000${n.callFrame.url}\u0000${n.callFrame.lineNumber}`;

  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  const packages = new Map<string, number>();
  let totalMs = 0;
  let idleMs = 0;
  let gcMs = 0;
  let programMs = 0;

  for (let i = 0; i < profile.samples.length; i++) {
    const ms = (profile.timeDeltas[i] ?? 0) / 1000;
    totalMs += ms;
    const node = byId.get(profile.samples[i]!);
    if (!node) continue;
    const fn = node.callFrame.functionName;
    if (fn === '(idle)') {
      idleMs += ms;
      continue;
    }
    if (fn === '(garbage collector)') gcMs += ms;
    if (fn === '(program)') programMs += ms;
    const key = keyOf(node);
    self.set(key, (self.get(key) ?? 0) + ms);
    const pkg = SPECIAL.has(fn) ? fn : packageOf(node.callFrame.url);
    packages.set(pkg, (packages.get(pkg) ?? 0) + ms);
    // Inclusive: every distinct function on the stack (recursion counted once).
    const seen = new Set<string>();
    for (let id: number | undefined = node.id, depth = 0; id !== undefined && depth < 10_000; id = parent.get(id), depth++) {
      const n = byId.get(id)!;
      if (n.callFrame.functionName === '(root)') break;
      const k = keyOf(n);
      if (seen.has(k)) continue;
      seen.add(k);
      inclusive.set(k, (inclusive.get(k) ?? 0) + ms);
    }
  }

  const busyMs = totalMs - idleMs;
  const rows = (m: Map<string, number>, split: boolean, limit = top): Row[] =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, limit)
      .map(([k, ms]) => {
        const [name, url, line] = split ? k.split('\u0000') : [k, '', '0'];
        return { name: name!, where: split ? shortWhere(url!, Number(line)) : '', ms, share: busyMs > 0 ? ms / busyMs : 0 };
      });
  return {
    totalMs,
    idleMs,
    busyMs,
    gcMs,
    programMs,
    self: rows(self, true),
    inclusive: rows(inclusive, true),
    packages: rows(packages, false),
    // eslint-disable-next-line no-control-regex -- the NUL that joins a frame's parts in the keys
    focus: focus ? rows(new Map([...inclusive].filter(([k]) => focus.test(k.replace(/\u0000/g, ' ')))), true, 200) : [],
  };
}

export function formatSummary(s: ProfileSummary, top = 25): string {
  const pct = (x: number) => `${(x * 100).toFixed(1).padStart(5)}%`;
  const ms = (x: number) => `${x.toFixed(0).padStart(7)} ms`;
  const lines: string[] = [];
  lines.push(
    `profile: ${(s.totalMs / 1000).toFixed(1)} s sampled, busy ${(s.busyMs / 1000).toFixed(1)} s ` +
      `(idle ${(s.idleMs / 1000).toFixed(1)} s); of busy: GC ${pct(s.busyMs ? s.gcMs / s.busyMs : 0)}, (program) ${pct(s.busyMs ? s.programMs / s.busyMs : 0)}`,
  );
  lines.push('', `Top ${top} by self time (share of busy time):`);
  for (const r of s.self.slice(0, top)) lines.push(`${ms(r.ms)} ${pct(r.share)}  ${r.name}  ${r.where}`);
  lines.push('', 'By package / area (self time):');
  for (const r of s.packages.slice(0, top)) lines.push(`${ms(r.ms)} ${pct(r.share)}  ${r.name}`);
  lines.push('', `Top ${top} by inclusive time:`);
  for (const r of s.inclusive.slice(0, top)) lines.push(`${ms(r.ms)} ${pct(r.share)}  ${r.name}  ${r.where}`);
  if (s.focus.length > 0) {
    lines.push('', 'Focus (inclusive time):');
    for (const r of s.focus) lines.push(`${ms(r.ms)} ${pct(r.share)}  ${r.name}  ${r.where}`);
  }
  return lines.join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const args = process.argv.slice(2);
  const topAt = args.indexOf('--top');
  const top = topAt >= 0 ? Number(args.splice(topAt, 2)[1]) || 25 : 25;
  const focusAt = args.indexOf('--focus');
  const focus = focusAt >= 0 ? new RegExp(args.splice(focusAt, 2)[1] ?? '.') : undefined;
  if (args.length === 0) {
    process.stderr.write('usage: npx tsx bench/summarize-profile.ts FILE.cpuprofile [--top N] [--focus REGEX]\n');
    process.exit(2);
  }
  for (const file of args) {
    process.stdout.write(`== ${file}\n${formatSummary(summarizeProfile(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile, top, focus), top)}\n\n`);
  }
}
