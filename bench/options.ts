// The benchmark's command line: every option with its default and its bounds, and --help.
// Bounds are checked here, so a typo fails at once instead of after minutes of measuring.
import { fileURLToPath } from 'node:url';

/** This checkout: the default --proxy-root, and where the MCP fixture and bench/results/ are. */
export const ROOT = fileURLToPath(new URL('..', import.meta.url));

export interface Options {
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
  /** The stdio line (bench/stdio.ts) after the HTTP measurements; stdioOnly: instead of them. */
  stdio: boolean;
  stdioOnly: boolean;
  stdioStarts: number;
  stdioSessions: number;
  /** The policy line (bench/policy.ts) after the HTTP measurements; policyOnly: instead of them. */
  policy: boolean;
  policyOnly: boolean;
}

const USAGE =
  'usage: npx tsx bench/run.ts [--duration s] [--soak s] [--rounds n] [--warmup s] [--log-level warn|info]\n' +
  '                            [--sse-delay ms] [--sse-samples n] [--profile] [--inspect] [--baseline] [--no-build]\n' +
  '                            [--proxy-root DIR] [--compare-root DIR] [--proxy-node-args "--max-semi-space-size=4 ..."]\n' +
  '                            [--proxy-env NAME=VALUE]...\n' +
  '                            [--max-wait-quiet s] [--quiet-pct %] [--phase-wait s] [--retry-pct %] [--settle s]\n' +
  '                            [--stdio | --stdio-only] [--stdio-starts n] [--stdio-sessions n] [--policy | --policy-only]\n';

function defaults(): Options {
  return {
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
    stdio: false,
    stdioOnly: false,
    stdioStarts: 20,
    stdioSessions: 5,
    policy: false,
    policyOnly: false,
  };
}

function num(name: string, raw: string | undefined, min: number, max: number): number {
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min || n > max) throw new Error(`${name}: expected a number in [${min}, ${max}], got ${raw}`);
  return n;
}

/** Parses argv (without node and the script); --help prints the usage and exits. */
export function parseArgs(argv: string[]): Options {
  const o = defaults();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    // Both `--flag value` and `--flag=value`.
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
      case '--stdio': o.stdio = true; break;
      case '--stdio-only': o.stdio = o.stdioOnly = true; break;
      case '--stdio-starts': o.stdioStarts = Math.round(num(flag, value(), 1, 500)); break;
      // Below MCP_SERVER_STDIO_MAX_PROCESSES (50): they are open at once.
      case '--stdio-sessions': o.stdioSessions = Math.round(num(flag, value(), 1, 40)); break;
      case '--policy': o.policy = true; break;
      case '--policy-only': o.policy = o.policyOnly = true; break;
      case '--help':
      case '-h':
        process.stdout.write(USAGE);
        return process.exit(0);
      default:
        throw new Error(`unknown argument ${arg} (try --help)`);
    }
  }
  return o;
}
