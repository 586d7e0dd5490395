// Runs command-line commands in this process with captured output, for unit tests; the real
// process is exercised by test/process and test/e2e/cli.test.ts.
import { runCli } from '../../src/cli.js';
import type { CommandIO } from '../../src/commands/command.js';
import type { Environment } from '../../src/config/types.js';

export interface CliResult {
  code: number | undefined;
  stdout: string;
  stderr: string;
}

export function captureIO(env: Environment, stdin = ''): { io: CommandIO; stdout(): string; stderr(): string } {
  let stdout = '';
  let stderr = '';
  return {
    io: { env, out: (text) => void (stdout += text), err: (text) => void (stderr += text), readStdin: async () => stdin },
    stdout: () => stdout,
    stderr: () => stderr,
  };
}

export async function cli(argv: string[], env: Environment = {}, stdin = ''): Promise<CliResult> {
  const captured = captureIO(env, stdin);
  const code = await runCli(argv, captured.io);
  return { code, stdout: captured.stdout(), stderr: captured.stderr() };
}
