// The command-line tool (`node bin/mcp-auth-proxy.js`, or `node mcp-auth-proxy/index.js` in the
// buildpack layout): finds the command, answers --help, turns a wrong command line into a usage
// message and exit status 2, and any other failure into one line on stderr and exit status 1
// (never a stack trace). Help and advice name the command as it was run (`<cli>` in their texts).
import { readFileSync } from 'node:fs';
import { isAbsolute, relative } from 'node:path';
import { COMMANDS } from './commands/index.js';
import { DEFAULT_INVOCATION, EXIT, parseCommandLine, UsageError, type Command, type CommandIO } from './commands/command.js';

const TOOL = 'mcp-auth-proxy';
const HELP_FLAGS = new Set(['-h', '--help']);

function toolHelp(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((name) => name.length));
  const commands = Object.entries(COMMANDS).map(([name, { summary }]) => `  ${name.padEnd(width)}  ${summary}`);
  return `Usage: <cli> [command] [options]

An OAuth 2.1 authorization server and reverse proxy for a private MCP server.

Commands:
${commands.join('\n')}

Run \`<cli> <command> --help\` for a command's options and examples.
Configuration comes from the environment and a .env file in the current directory.

Exit status: 0 done; 1 failed (bad configuration, Redis unreachable, problems found);
2 wrong command line; 3 nothing matched or something left undone (the command says what).
`;
}

/** The usage lines of a command's help (up to its first blank line). */
const usageOf = (command: Command): string => command.help.split('\n\n')[0]!;

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/** Runs one command line; undefined when the command keeps running (the proxy) and exits by itself. */
export async function runCli(argv: readonly string[], given: CommandIO): Promise<number | undefined> {
  // Help and advice show commands as the operator ran this one; results (stdout data) stay as they are.
  const cliName = given.invocation ?? DEFAULT_INVOCATION;
  const shown = (text: string): string => text.replaceAll('<cli>', cliName);
  const io: CommandIO & { help(text: string): void } = { ...given, err: (text) => given.err(shown(text)), help: (text) => given.out(shown(text)) };
  const [first, ...rest] = argv;
  if (first !== undefined && (HELP_FLAGS.has(first) || first === 'help')) {
    const about = first === 'help' ? rest[0] : undefined;
    const entry = about !== undefined ? COMMANDS[about] : undefined;
    if (about !== undefined && !entry) return unknownCommand(about, io);
    io.help(entry ? (await entry.load()).help : toolHelp());
    return EXIT.ok;
  }
  if (first === '--version' || first === '-v') {
    io.out(`${version()}\n`);
    return EXIT.ok;
  }
  // No command, or options only: `start`, as `node bin/mcp-auth-proxy.js` always meant.
  const name = first === undefined || first.startsWith('-') ? 'start' : first;
  const args = name === first ? rest : argv;
  const entry = COMMANDS[name];
  if (!entry) return unknownCommand(name, io);
  const command = await entry.load();
  try {
    const parsed = parseCommandLine(args, { ...command.options, help: { type: 'boolean', short: 'h' } });
    if (parsed.values.help) {
      io.help(command.help);
      return EXIT.ok;
    }
    return await command.run(parsed, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`${TOOL} ${name}: ${err.message}\n${usageOf(command)}\nRun \`<cli> ${name} --help\` for more.\n`);
      return EXIT.usage;
    }
    io.err(`${TOOL} ${name}: ${(err as Error).message}\n`);
    return EXIT.failed;
  }
}

function unknownCommand(name: string, io: CommandIO): number {
  io.err(`${TOOL}: unknown command "${name}"; commands: ${Object.keys(COMMANDS).join(', ')}\nRun \`<cli> --help\` for more.\n`);
  return EXIT.usage;
}

/** The real process's input and output. */
export function processIO(): CommandIO {
  // A closed pipe (`| head`) is not an error of ours.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
  });
  return {
    env: process.env,
    invocation: invocationOf(process.argv[1], process.cwd()),
    out: (text) => void process.stdout.write(text),
    err: (text) => void process.stderr.write(text),
    async readStdin() {
      const chunks: Buffer[] = [];
      for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks).toString('utf8');
    },
  };
}

/**
 * The command that ran this tool, as the operator would type it again from where they are:
 * `node mcp-auth-proxy/index.js` in the buildpack layout, `node bin/mcp-auth-proxy.js` in the
 * repository, `npx mcp-auth-proxy` when npm ran its bin link.
 */
export function invocationOf(script: string | undefined, cwd: string): string {
  if (!script) return DEFAULT_INVOCATION;
  if (/[/\\]node_modules[/\\]\.bin[/\\]/.test(script)) return 'npx mcp-auth-proxy';
  const path = relative(cwd, script);
  return `node ${path.startsWith('..') || isAbsolute(path) ? script : path}`;
}
