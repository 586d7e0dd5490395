// The policy line (--policy, --policy-only): what MCP_AUTH_PROXY_POLICY costs on the HTTP path.
// Without a policy /mcp is the plain forwarder (the body is not read); with one, each POST body
// is read whole, parsed and decided on, and tools/list answers are filtered. So two proxies are
// loaded phase by phase, interleaved: the first proxy of the run (no policy: the default path,
// the very process the HTTP line measures) and a second one with a small policy, sharing its
// BASE_URL, Redis, keys and MCP server (the same bearer token is valid on both), each with
// `tools/call echo` (allowed: read, decided on, the answer streamed through) and `tools/list`
// (the answer rewritten: whoami is hidden from this user). MCP_AUTH_PROXY_AUDIT_TOOL_CALLS=auto
// (the default) turns the tool-call audit on with a policy, so it is measured too, as operators
// get it; `--proxy-env MCP_AUTH_PROXY_AUDIT_TOOL_CALLS=false` leaves the policy alone.
import { TEST_USER } from '../test/helpers/upstream-idp.js';
import type { Env } from '../test/helpers/processes.js';
import type { Cleanups } from './cleanups.js';
import { checkOnce, phase, runLoad, type PhaseResult, type QuietPolicy, type Target } from './load.js';
import type { RssSampler } from './memory.js';
import type { Options } from './options.js';
import { startSecondProxy } from './processes.js';
import { log } from './stats.js';

/**
 * A policy as an operator would write one: default allow, a glob denied to a group (no match
 * here: the rule is read and passed over), a glob allowed to a group (staff: this user's), and a
 * tool this user may not use. The benchmark never calls whoami: it only disappears from tools/list.
 */
export const BENCH_POLICY = {
  default: 'allow',
  rules: [
    { name: 'no destructive tools for contractors', effect: 'deny', tools: ['delete_*', 'drop_*'], groups: ['contractors'] },
    { name: 'staff use every tool', effect: 'allow', tools: ['*'], groups: ['staff'] },
    { name: 'whoami is not for this user', effect: 'deny', tools: ['whoami'], users: [TEST_USER.sub] },
  ],
} as const;

const TOOLS_LIST_BODY = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} });
const CONCURRENCY = [1, 32];

export interface PolicyContext {
  opts: Options;
  cleanups: Cleanups;
  /** The first proxy's environment: the policy proxy adds only its port and the policy. */
  env: Env;
  logFile: string;
  /** The first proxy's /mcp (no policy), with the bearer token; its sampler gives the MCP server's pid. */
  proxy: Target;
  sampler: RssSampler;
}

export interface PolicyResult {
  /** MCP_AUTH_PROXY_POLICY as the policy proxy got it. */
  policy: string;
  /** The tools each proxy listed to this user: the filter at work. */
  listed: { none: string[]; policy: string[] };
  /** Every phase, in the order run (targets proxy, policy, proxy-list, policy-list). */
  results: PhaseResult[];
}

export async function measurePolicy(ctx: PolicyContext): Promise<PolicyResult> {
  const { opts } = ctx;
  // The comparison is against the default path: the first proxy must not read bodies (no policy,
  // no tool-call audit forced on; `auto`, the default, turns the audit on with the policy only).
  if (ctx.env.MCP_AUTH_PROXY_POLICY || ctx.env.MCP_AUTH_PROXY_AUDIT_TOOL_CALLS === 'true') {
    throw new Error('--policy: the first proxy must run the default path (no MCP_AUTH_PROXY_POLICY, MCP_AUTH_PROXY_AUDIT_TOOL_CALLS not true)');
  }
  const policy = JSON.stringify(BENCH_POLICY);
  const second = await startSecondProxy({
    root: opts.proxyRoot,
    env: ctx.env,
    extraEnv: { MCP_AUTH_PROXY_POLICY: policy },
    nodeArgs: opts.proxyNodeArgs,
    logFile: ctx.logFile,
    cleanups: ctx.cleanups,
    name: 'the policy proxy',
  });
  log(`policy proxy pid ${second.pid} on ${second.url}, MCP_AUTH_PROXY_POLICY=${policy}`);
  const withPolicy: Target = { ...ctx.proxy, name: 'policy', url: second.url, pid: second.pid };
  const targets: Target[] = [
    ctx.proxy,
    withPolicy,
    { ...ctx.proxy, name: 'proxy-list', body: TOOLS_LIST_BODY },
    { ...withPolicy, name: 'policy-list', body: TOOLS_LIST_BODY },
  ];
  await checkOnce(withPolicy);
  const listed = { none: await listedTools(ctx.proxy), policy: await listedTools(withPolicy) };
  log(`tools/list: without a policy [${listed.none.join(', ')}], with it [${listed.policy.join(', ')}]`);
  // Otherwise the policy line would measure a policy that does nothing.
  if (!listed.none.includes('whoami') || listed.policy.includes('whoami') || !listed.policy.includes('echo')) {
    throw new Error('--policy: the policy proxy does not filter tools/list as expected (is dist/ built with the policy code?)');
  }

  if (opts.warmup > 0) {
    log(`policy warm-up: ${opts.warmup} s each path at c=8`);
    for (const t of targets) await runLoad(t, 8, opts.warmup, `warmup-${t.name}`);
  }
  const quiet: QuietPolicy = { waitS: opts.phaseWait, pct: opts.quietPct, retryPct: opts.retryPct };
  const results: PhaseResult[] = [];
  for (let round = 1; round <= opts.rounds; round++) {
    for (const c of CONCURRENCY) {
      for (const t of targets) results.push(await phase(t, c, opts.duration, round, ctx.sampler, quiet));
    }
  }
  return { policy, listed, results };
}

/** The tool names of one tools/list through a proxy (the answer is an SSE event or plain JSON). */
async function listedTools(target: Target): Promise<string[]> {
  const res = await fetch(target.url, { method: 'POST', headers: target.headers, body: TOOLS_LIST_BODY });
  const text = await res.text();
  const data = text.split(/\r?\n/).filter((l) => l.startsWith('data:'));
  const json = data.length > 0 ? data.map((l) => l.slice(5).trim()).join('\n') : text;
  let tools: unknown;
  try {
    tools = (JSON.parse(json) as { result?: { tools?: unknown } }).result?.tools;
  } catch {
    tools = undefined;
  }
  if (res.status !== 200 || !Array.isArray(tools)) throw new Error(`${target.name}: tools/list answered ${res.status}: ${text.slice(0, 300)}`);
  return tools.map((t: { name?: unknown }) => String(t.name));
}
