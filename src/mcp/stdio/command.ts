// Whether MCP_SERVER_RUN_COMMAND can run at all, checked at boot: stdio processes start with
// sessions, so a typo would otherwise surface only as every session failing.
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, isAbsolute, join, resolve } from 'node:path';
import type { StdioServersConfig } from '../../config/types.js';

/** Throws, naming MCP_SERVER_RUN_COMMAND, when the command is not an executable file (on PATH, or at its path). */
export function checkCommand({ command, cwd, env }: Pick<StdioServersConfig, 'command' | 'cwd' | 'env'>): void {
  const candidates = command.includes('/')
    ? [isAbsolute(command) ? command : resolve(cwd ?? process.cwd(), command)]
    : (env.PATH ?? '').split(delimiter).filter(Boolean).map((dir) => join(dir, command));
  if (candidates.some(isExecutableFile)) return;
  throw new Error(
    command.includes('/')
      ? `MCP_SERVER_RUN_COMMAND: ${command} is not an executable file`
      : `MCP_SERVER_RUN_COMMAND: ${command} was not found on the MCP server's PATH`,
  );
}

function isExecutableFile(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
