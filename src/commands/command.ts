// What every command of the command-line tool is: its help, its options (node:util parseArgs
// syntax) and a run function that gets parsed arguments and its input/output, and answers with an
// exit code scripts can rely on.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { Environment } from '../config/types.js';

/** Exit codes, the same for every command. */
export const EXIT = {
  ok: 0,
  /** The command could not do its job: bad configuration, store unreachable, problems found. */
  failed: 1,
  /** The command line itself is wrong (unknown command or option, missing argument). */
  usage: 2,
  /** The command ran but found nothing to act on, or left something undone it reports. */
  incomplete: 3,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export interface CommandIO {
  /** The process environment (commands read `.env` through the configuration loader). */
  env: Environment;
  /** Results: what scripts capture. */
  out(text: string): void;
  /** Advice, progress and errors. */
  err(text: string): void;
  /** All of standard input. */
  readStdin(): Promise<string>;
  /**
   * How this tool was run, for help and advice to show commands that work where the operator
   * is (`node mcp-auth-proxy/index.js` in the buildpack layout, `node bin/mcp-auth-proxy.js` in
   * the repository); `<cli>` in help texts and messages stands for it.
   */
  invocation?: string;
}

/** What `<cli>` in help texts and messages stands for when the invocation is not known. */
export const DEFAULT_INVOCATION = 'node bin/mcp-auth-proxy.js';

export type Options = NonNullable<ParseArgsConfig['options']>;

export interface ParsedArgs {
  values: Record<string, string | boolean | undefined>;
  /** Every argument that is not an option (after `--` too). */
  positionals: string[];
  /** Everything after `--`, as given (a command line of its own: `start -- <command> …`); absent without `--`. */
  rest?: string[];
}

export interface Command {
  /** Full help text: usage line, what it does, options, examples. */
  help: string;
  options: Options;
  /** Undefined: the command keeps running (the proxy) and ends the process itself. */
  run(args: ParsedArgs, io: CommandIO): Promise<number | undefined>;
}

/** A wrong command line; the dispatcher prints the message and the usage, and exits 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** Strict parsing: unknown options, missing option values and bad combinations are usage errors. */
export function parseCommandLine(argv: readonly string[], options: Options): ParsedArgs {
  try {
    const dashes = argv.indexOf('--');
    const { values, positionals } = parseArgs({ args: [...argv], options, strict: true, allowPositionals: true });
    return { values: { ...values } as ParsedArgs['values'], positionals, ...(dashes < 0 ? {} : { rest: argv.slice(dashes + 1) }) };
  } catch (err) {
    // parseArgs' messages already name the option; drop its advice about "--" for positionals.
    throw new UsageError((err as Error).message.replace(/\. To specify a positional argument.*$/s, ''));
  }
}

export function positiveIntegerOption(name: string, raw: string | boolean | undefined): number | undefined {
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string' || !/^[1-9]\d*$/.test(raw)) throw new UsageError(`--${name} must be a positive whole number, got "${raw}"`);
  return Number(raw);
}
