// The proxy's memory over the run: VmRSS/RssAnon sampled every 100 ms and tagged with the phase
// running at the time (for peaks and idle medians), and, with --inspect, the V8 heap after a
// forced full GC, which tells a leak from garbage an idle process has not collected yet.
import { performance } from 'node:perf_hooks';
import type { InspectorSession } from './inspector.js';
import { anonKb, rssKb } from './proc.js';
import { fmt, log, mean, median, sleep } from './stats.js';

export interface RssSample {
  t: number;
  phase: string;
  proxyKb: number;
  proxyAnonKb: number;
  childKb: number;
}

/** Memory in MB: the proxy's VmRSS, its RssAnon, and its MCP server child's VmRSS. */
export interface IdleMb {
  proxy: number;
  anon: number;
  child: number;
}

/** The highest of each column over samples, in MB (-Infinity when there are none). */
export function peakMb(samples: RssSample[]): IdleMb {
  return {
    proxy: Math.max(...samples.map((s) => s.proxyKb)) / 1024,
    anon: Math.max(...samples.map((s) => s.proxyAnonKb)) / 1024,
    child: Math.max(...samples.map((s) => s.childKb)) / 1024,
  };
}

/** Mean proxy VmRSS (MB) in each quarter of [from, to] (performance.now() times). */
export function quarterMeansMb(samples: RssSample[], from: number, to: number): number[] {
  return [0, 1, 2, 3].map((q) => {
    const start = from + ((to - from) * q) / 4;
    const end = from + ((to - from) * (q + 1)) / 4;
    return mean(samples.filter((s) => s.t >= start && s.t < end).map((s) => s.proxyKb)) / 1024;
  });
}

/** Samples VmRSS of the proxy (and, separately, its MCP server child) every intervalMs. */
export class RssSampler {
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

export interface HeapProbe {
  label: string;
  usedMb: number;
  totalMb: number;
  rssMb: number;
}

/** Heap readings through the proxy's inspector; without one (no --inspect) it records nothing. */
export class HeapProbes {
  readonly probes: HeapProbe[] = [];

  constructor(
    readonly inspector: InspectorSession | undefined,
    readonly proxyPid: number,
  ) {}

  async add(label: string): Promise<void> {
    if (!this.inspector) return;
    // Twice: the first full GC can leave garbage that only its finalizers released.
    await this.inspector.send('HeapProfiler.collectGarbage');
    await this.inspector.send('HeapProfiler.collectGarbage');
    const usage = await this.inspector.send<{ usedSize: number; totalSize: number }>('Runtime.getHeapUsage');
    await sleep(300);
    const probe = { label, usedMb: usage.usedSize / 2 ** 20, totalMb: usage.totalSize / 2 ** 20, rssMb: (rssKb(this.proxyPid) ?? NaN) / 1024 };
    log(`heap after forced GC (${label}): used ${fmt(probe.usedMb, 1)} MB of ${fmt(probe.totalMb, 1)} MB; RSS ${fmt(probe.rssMb, 1)} MB`);
    this.probes.push(probe);
  }
}
