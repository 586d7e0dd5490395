// Benchmark of the /mcp proxy path: throughput and latency through the proxy vs straight to the
// MCP server (interleaved), time to the first SSE headers, and the proxy process's memory; with
// --stdio (or --stdio-only), what stdio MCP servers cost (bench/stdio.ts); with --policy (or
// --policy-only), what MCP_AUTH_PROXY_POLICY costs (bench/policy.ts).
//
//   npx tsx bench/run.ts [--duration 10] [--soak 60] [--rounds 2] [--log-level warn]
//                        [--sse-delay 250] [--profile] [--no-build] [--proxy-root DIR] [--stdio] [--policy]
//
// The proxy runs in its own process (`node bin/mcp-auth-proxy.js start`, the compiled build) and
// spawns the MCP fixture server as its child, exactly as in production; only the load generator,
// the test Redis and the test upstream IdP live here (the last two are idle during the load).
// This file only orchestrates: start the parts, measure, report, clean up.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join, relative } from 'node:path';
import { performance } from 'node:perf_hooks';
import { connectWithOAuth, TestOAuthProvider } from '../test/helpers/mcp-client.js';
import { freePort, waitForPort } from '../test/helpers/ports.js';
import type { Env } from '../test/helpers/processes.js';
import { proxyEnvironment, type ProxyEnvironment } from '../test/helpers/proxy-environment.js';
import { startRedis } from '../test/helpers/redis.js';
import { startUpstreamIdp } from '../test/helpers/upstream-idp.js';
import { ensureBuild, gitDescription } from './build.js';
import { Cleanups } from './cleanups.js';
import { InspectorSession } from './inspector.js';
import { checkOnce, MCP_HEADERS, phase, phaseOnce, runLoad, type PhaseResult, type QuietPolicy, type Target } from './load.js';
import { HeapProbes, peakMb, quarterMeansMb, RssSampler, type IdleMb } from './memory.js';
import { parseArgs, ROOT, type Options } from './options.js';
import { childPids, waitForQuiet } from './proc.js';
import { spawnBaseline, spawnProxy, startSecondProxy, stopProxy, waitForProxy, type ProxyProcess } from './processes.js';
import { measurePolicy, type PolicyResult } from './policy.js';
import { buildExtrasReport, buildReport, type Measurements, type SoakResult } from './report.js';
import { findSseProbe, measureSse, type SseResult } from './sse.js';
import { measureStdio, type StdioResult } from './stdio.js';
import { fmt, log, sleep } from './stats.js';
import { formatSummary, summarizeProfile, type CpuProfile } from './summarize-profile.js';

// Always this checkout's fixture (also with --proxy-root), so every build is measured against the same server.
const MCP_FIXTURE_ARGS = ['--import', 'tsx', join(ROOT, 'test', 'fixtures', 'mcp-server.ts')];
const RESULTS = join(ROOT, 'bench', 'results');

/** One run: its options, the timestamp in its file names, and what to stop at the end. */
interface Run {
  opts: Options;
  stamp: string;
  cleanups: Cleanups;
}

/** The parts up and checked: the proxy under test, its memory watchers, and the paths to load. */
interface Stack {
  /** The proxy's environment (the stdio proxy of --stdio and the policy proxy of --policy start from it). */
  env: Env;
  proxy: ProxyProcess;
  childPid: number | undefined;
  inspector: InspectorSession | undefined;
  sampler: RssSampler;
  heap: HeapProbes;
  startedMb: IdleMb;
  proxyTarget: Target;
  directTarget: Target;
  targets: Target[];
}

type Measured = Omit<Measurements, 'version' | 'cpus'> & { profileFile?: string };

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  mkdirSync(RESULTS, { recursive: true });
  const run: Run = { opts, stamp: new Date().toISOString().replace(/[:.]/g, '-'), cleanups: new Cleanups() };
  let profileFile: string | undefined;
  try {
    ensureBuild(opts.proxyRoot, opts.build);
    const version = gitDescription(opts.proxyRoot);
    const cpus = availableParallelism();
    log(`node ${process.version}, ${cpus} CPUs, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}; proxy build: ${version}`);
    const stack = await startStack(run);
    const measured = opts.stdioOnly || opts.policyOnly ? undefined : await measure(run, stack);
    profileFile = measured?.profileFile;
    const stdio = opts.stdio ? await stdioLine(run, stack) : undefined;
    const policy = opts.policy ? await policyLine(run, stack) : undefined;
    if (measured) writeReport(run, buildReport(opts, { version, cpus, ...measured, stdio, policy }));
    else writeReport(run, buildExtrasReport(opts, { version, cpus, stdio, policy }));
  } finally {
    await run.cleanups.close();
  }
  if (profileFile) {
    log(`CPU profile of the proxy during the phases: ${relative(ROOT, profileFile)}`);
    process.stdout.write(`${formatSummary(summarizeProfile(JSON.parse(readFileSync(profileFile, 'utf8')) as CpuProfile, 30), 30)}\n`);
  }
}

// ---------------------------------------------------------------------------------------------
// Starting the parts

/** Redis, the upstream IdP, the proxy with its MCP server child, a bearer token, and every target. */
async function startStack(run: Run): Promise<Stack> {
  const { opts, cleanups } = run;
  const redis = await startRedis();
  cleanups.push(() => redis.stop());
  // The port first: the IdP must know the proxy's redirect URI.
  const port = await freePort();
  const idp = await startUpstreamIdp({ redirectUris: [`http://127.0.0.1:${port}/interaction/identity/callback`] });
  cleanups.push(() => idp.stop());
  const environment = await proxyEnvironment({
    redisUrl: redis.url,
    idp,
    port,
    mcpArgs: MCP_FIXTURE_ARGS,
    // Stateless, and no per-request token check at the IdP: the MCP server's own work stays minimal.
    mcpEnv: { MCP_FIXTURE_STATEFUL: 'false' },
    overrides: { LOG_LEVEL: opts.logLevel, ...opts.proxyEnv },
  });
  const { proxy, childPid, inspector } = await startProxy(run, environment);

  const sampler = new RssSampler(proxy.pid, childPid);
  sampler.start();
  cleanups.push(async () => sampler.stop());
  const startedMb = await sampler.idleMb(1000, 'boot-idle');

  const token = await oauthToken(environment.mcpUrl);
  const proxyTarget: Target = { name: 'proxy', url: environment.mcpUrl, headers: { ...MCP_HEADERS, authorization: `Bearer ${token}` }, pid: proxy.pid };
  const directTarget: Target = { name: 'direct', url: `http://127.0.0.1:${environment.mcpPort}/mcp`, headers: { ...MCP_HEADERS } };
  const targets: Target[] = [proxyTarget, directTarget];
  if (opts.baseline) targets.push(await startBaseline(run, environment.mcpPort));
  if (opts.compareRoot) targets.splice(1, 0, await startCompared(run, opts.compareRoot, environment, proxyTarget.headers));
  for (const t of targets) await checkOnce(t);
  return { env: environment.env, proxy, childPid, inspector, sampler, heap: new HeapProbes(inspector, proxy.pid), startedMb, proxyTarget, directTarget, targets };
}

/** The proxy under test, listening, with its MCP server child's pid and (with --inspect) its inspector. */
async function startProxy(run: Run, environment: ProxyEnvironment): Promise<{ proxy: ProxyProcess; childPid: number | undefined; inspector: InspectorSession | undefined }> {
  const { opts, stamp, cleanups } = run;
  // The inspector (no session attached until we connect) lets us profile only the load phases
  // and read the heap after a forced GC; without --inspect/--profile the proxy runs plain.
  const nodeArgs = [...opts.proxyNodeArgs, ...(opts.inspect ? ['--inspect=127.0.0.1:0'] : [])];
  const logFile = join(RESULTS, `proxy-${stamp}.log`);
  const proxy = spawnProxy(opts.proxyRoot, environment.env, nodeArgs, logFile);
  let childPid: number | undefined;
  cleanups.push(() => stopProxy(proxy, childPid));
  log(`proxy pid ${proxy.pid} on ${environment.baseUrl} (log: ${relative(ROOT, logFile)})`);

  await waitForProxy(proxy, environment.port, 'the proxy');
  childPid = childPids(proxy.pid)[0];
  log(`proxy ready; MCP server child pid ${childPid ?? '(not found)'} on 127.0.0.1:${environment.mcpPort}`);
  if (!opts.inspect) return { proxy, childPid, inspector: undefined };
  const url = await Promise.race([proxy.inspectorUrl, sleep(10_000).then(() => undefined)]);
  if (!url) throw new Error('the proxy printed no inspector URL');
  const inspector = await InspectorSession.open(url);
  // Closed before the proxy is stopped (cleanups run in reverse), or it waits for the debugger.
  cleanups.push(async () => inspector.close());
  log('connected to the proxy\'s inspector');
  return { proxy, childPid, inspector };
}

/** The OAuth flow with the official SDK client, for a real bearer token. */
async function oauthToken(mcpUrl: string): Promise<string> {
  const auth = new TestOAuthProvider();
  const client = await connectWithOAuth(mcpUrl, auth);
  const token = auth.savedTokens?.access_token;
  await client.close();
  if (!token) throw new Error('the OAuth flow produced no access token');
  log('OAuth flow done: got a proxy bearer token');
  return token;
}

/** --baseline: bench/minimal-proxy.ts in front of the same MCP server. */
async function startBaseline(run: Run, mcpPort: number): Promise<Target> {
  const basePort = await freePort();
  const base = spawnBaseline(ROOT, basePort, `http://127.0.0.1:${mcpPort}`);
  run.cleanups.push(() => base.stop());
  await waitForPort(basePort, '127.0.0.1', 30_000);
  log(`baseline (bench/minimal-proxy.ts) pid ${base.pid} on 127.0.0.1:${basePort}`);
  return { name: 'baseline', url: `http://127.0.0.1:${basePort}/mcp`, headers: { ...MCP_HEADERS }, pid: base.pid };
}

/** --compare-root: a second build, interleaved with the first, sharing its Redis, keys and MCP server. */
async function startCompared(run: Run, root: string, environment: ProxyEnvironment, headers: Record<string, string>): Promise<Target> {
  const { opts, stamp, cleanups } = run;
  ensureBuild(root, opts.build);
  const logFile = join(RESULTS, `proxyB-${stamp}.log`);
  const proxyB = await startSecondProxy({ root, env: environment.env, nodeArgs: opts.proxyNodeArgs, logFile, cleanups, name: 'the compared proxy' });
  log(`compared proxy (${root}, ${gitDescription(root)}) pid ${proxyB.pid} on ${proxyB.url}`);
  return { name: 'proxyB', url: proxyB.url, headers, pid: proxyB.pid };
}

// ---------------------------------------------------------------------------------------------
// Measuring

/** Idle memory, warm-up, the interleaved phases, settled memory, SSE, and the soak, in that order. */
async function measure(run: Run, stack: Stack): Promise<Measured> {
  const { opts } = run;
  const { sampler, heap } = stack;
  const idleAfterOAuth = await sampler.idleMb(5000, 'idle-after-oauth', 2000);
  log(`idle RSS after the OAuth flow: proxy ${fmt(idleAfterOAuth.proxy, 1)} MB (MCP server child ${fmt(idleAfterOAuth.child, 1)} MB)`);
  await heap.add('idle after the OAuth flow');

  const otherAtStart = await waitForQuiet(opts.quietPct, opts.maxWaitQuiet, stack.proxy.pid, stack.childPid);
  log(`CPU used by other processes before the phases: ${fmt(otherAtStart, 0)}% of one core`);

  // Warm-up (JIT, connection pools) on both paths.
  if (opts.warmup > 0) {
    log(`warm-up: ${opts.warmup} s each path at c=8`);
    for (const t of stack.targets) await runLoad(t, 8, opts.warmup, `warmup-${t.name}`);
  }

  const { results, profileFile } = await interleavedPhases(run, stack);
  const peakC32 = peakMb(sampler.where((s) => /^proxy-c32/.test(s.phase)));
  log(`settling for ${opts.settle} s`);
  const idleBeforeSoak = await sampler.idleMb(opts.settle * 1000, 'idle-before-soak', 3000);
  await heap.add('idle after the phases');

  const sse = await sseTiming(opts, stack);
  const soak = opts.soak > 0 ? await soakPhase(opts, stack) : undefined;
  sampler.stop();
  return { results, startedMb: stack.startedMb, idleAfterOAuth, peakC32, idleBeforeSoak, sse, soak, heapProbes: heap.probes, profileFile };
}

/** Every target at c=1 and c=32, round after round (the CPU profile, with --profile, covers exactly these). */
async function interleavedPhases(run: Run, stack: Stack): Promise<{ results: PhaseResult[]; profileFile?: string }> {
  const { opts } = run;
  const profiler = opts.profile ? stack.inspector : undefined;
  if (profiler) {
    await profiler.send('Profiler.enable');
    await profiler.send('Profiler.setSamplingInterval', { interval: 250 });
    await profiler.send('Profiler.start');
    log('CPU profiling the proxy during the phases (250 µs sampling)');
  }
  const results: PhaseResult[] = [];
  const quiet: QuietPolicy = { waitS: opts.phaseWait, pct: opts.quietPct, retryPct: opts.retryPct };
  for (let round = 1; round <= opts.rounds; round++) {
    for (const c of [1, 32]) {
      for (const t of stack.targets) results.push(await phase(t, c, opts.duration, round, stack.sampler, quiet));
    }
  }
  if (!profiler) return { results };
  const { profile } = await profiler.send<{ profile: CpuProfile }>('Profiler.stop');
  const profileFile = join(RESULTS, `proxy-${run.stamp}.cpuprofile`);
  writeFileSync(profileFile, JSON.stringify(profile));
  await profiler.send('Profiler.disable');
  return { results, profileFile };
}

/** SSE time to headers, when the fixture offers a slow stream. */
async function sseTiming(opts: Options, stack: Stack): Promise<SseResult | undefined> {
  const probe = await findSseProbe(stack.directTarget.url, opts.sseDelayMs);
  if (!probe) {
    log('SSE: SKIPPED: the MCP fixture has neither GET /mcp/slow-sse nor a `progress` tool (yet)');
    return undefined;
  }
  log(`SSE: ${probe.description}, ${opts.sseSamples} samples per path, interleaved`);
  return measureSse(probe, stack.proxyTarget, stack.directTarget, opts.sseSamples);
}

/** Soak at c=32 through the proxy, then idle. */
async function soakPhase(opts: Options, stack: Stack): Promise<SoakResult> {
  const { sampler } = stack;
  await waitForQuiet(opts.quietPct, Math.min(opts.maxWaitQuiet, 60), stack.proxy.pid, stack.childPid);
  log(`soak: ${opts.soak} s through the proxy at c=32`);
  const soakStart = performance.now();
  const result = await phaseOnce(stack.proxyTarget, 32, opts.soak, 0, sampler);
  const soakEnd = performance.now();
  const during = sampler.where((s) => s.t >= soakStart && s.t <= soakEnd);
  log(`settling for ${opts.settle} s`);
  const idleAfter = await sampler.idleMb(opts.settle * 1000, 'idle-after-soak', 3000);
  await stack.heap.add('idle after the soak');
  return { result: { ...result, label: 'soak-proxy-c32' }, quarters: quarterMeansMb(during, soakStart, soakEnd), idleAfter, peak: peakMb(during) };
}

/** --stdio: a stdio proxy next to this one, measured against its HTTP path (bench/stdio.ts). */
function stdioLine(run: Run, stack: Stack): Promise<StdioResult> {
  return measureStdio({
    opts: run.opts,
    cleanups: run.cleanups,
    env: stack.env,
    logPrefix: join(RESULTS, `proxy-stdio-${run.stamp}`),
    http: stack.proxyTarget,
    httpSampler: stack.sampler,
  });
}

/** --policy: a proxy with MCP_AUTH_PROXY_POLICY next to this one (which has none), interleaved (bench/policy.ts). */
function policyLine(run: Run, stack: Stack): Promise<PolicyResult> {
  return measurePolicy({
    opts: run.opts,
    cleanups: run.cleanups,
    env: stack.env,
    logFile: join(RESULTS, `proxy-policy-${run.stamp}.log`),
    proxy: stack.proxyTarget,
    sampler: stack.sampler,
  });
}

// ---------------------------------------------------------------------------------------------
// Reporting

function writeReport(run: Run, text: string): void {
  process.stdout.write(`${text}\n`);
  const reportFile = join(RESULTS, `report-${run.stamp}.txt`);
  writeFileSync(reportFile, `${text}\n`);
  log(`report saved to ${relative(ROOT, reportFile)}`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`[bench] FAILED: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
