// What the kernel knows about the processes under test, read from /proc (Linux): memory of one
// process, its children, and CPU time per process and for the whole machine, so that contention
// from other work on the machine is visible per phase (and can be waited out).
import { readdirSync, readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { fmt, log, sleep } from './stats.js';

function statusKb(pid: number, field: 'VmRSS' | 'RssAnon'): number | undefined {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** VmRSS: what the targets are about. It includes file-backed pages (the node binary's code, shared with every node process). */
export const rssKb = (pid: number) => statusKb(pid, 'VmRSS');
/** RssAnon: the process's own memory (heaps, buffers), without the shared file-backed pages. */
export const anonKb = (pid: number) => statusKb(pid, 'RssAnon');

/** Direct children of pid (from /proc/<pid>/task/<tid>/children, or by scanning /proc/<n>/stat). */
export function childPids(pid: number): number[] {
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

/**
 * The processes of process group pgid (from the pgrp field of /proc/<n>/stat): a stdio MCP server
 * leads a group of its own, and a wrapper (npx, sh) would leave the real server below it there.
 */
export function groupPids(pgid: number): number[] {
  const found: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // After the comm: state ppid pgrp ...
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]) === pgid) found.push(Number(name));
    } catch {
      // the process went away
    }
  }
  return found;
}

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

export interface CpuSnapshot {
  t: number;
  machine: number;
  proxy: number;
  child: number;
  self: number;
  own: number;
}

export function cpuSnapshot(proxyPid: number, childPid: number | undefined): CpuSnapshot {
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
export interface CpuUse {
  proxy: number;
  child: number;
  loadgen: number;
  other: number;
  /** CPU ms the proxy process spent. */
  proxyMs: number;
}

export function cpuBetween(a: CpuSnapshot, b: CpuSnapshot): CpuUse {
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
export async function waitForQuiet(maxPct: number, maxWaitS: number, proxyPid: number, childPid: number | undefined, windowMs = 2000): Promise<number> {
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
