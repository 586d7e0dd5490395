// MCP_SERVER_TRANSPORT=stdio: the settings of the server processes the proxy runs itself, one per
// session, user or for everyone, and the contradictions only the settings together can show.
import type { SettingSources } from './environment.js';
import type { ParsedSettings, SettingValues } from './settings.js';
import { childEnvironment } from './child-environment.js';
import type { Environment, StdioServersConfig } from './types.js';

/** Set per process by the proxy; an inherited value would name someone else. */
export const IDENTITY_VARIABLES = ['MCP_USER_ID', 'MCP_USER_EMAIL'] as const;

const STDIO_ONLY = [
  'MCP_SERVER_STDIO_ISOLATION',
  'MCP_SERVER_TOKEN_ENV',
  'MCP_SERVER_STDIO_MAX_PROCESSES',
  'MCP_SERVER_STDIO_MAX_PROCESSES_PER_USER',
  'MCP_SERVER_STDIO_IDLE_TIMEOUT_SECONDS',
] as const;

/** Names the token may not take: the identity the proxy sets, and what every program needs. */
const RESERVED_TOKEN_NAMES = new Set<string>([...IDENTITY_VARIABLES, 'PATH', 'HOME', 'NODE_OPTIONS']);

/** Problems of the stdio settings (and of HTTP-only ones given with stdio, and the reverse). */
export function stdioProblems(parsed: ParsedSettings, sources: SettingSources): string[] {
  const problems: string[] = [];
  const stdio = parsed.MCP_SERVER_TRANSPORT === 'stdio';
  if (!stdio) {
    for (const name of STDIO_ONLY) {
      if (sources[name]) problems.push(`${name}: applies only with MCP_SERVER_TRANSPORT=stdio (it is http)`);
    }
    return problems;
  }
  if (!parsed.MCP_SERVER_RUN_COMMAND) {
    problems.push('MCP_SERVER_RUN_COMMAND: is required with MCP_SERVER_TRANSPORT=stdio (the command that starts the MCP server, e.g. npx)');
  }
  if (sources.MCP_SERVER_CREDENTIALS && parsed.MCP_SERVER_CREDENTIALS === 'static') {
    problems.push(
      'MCP_SERVER_CREDENTIALS: static sends an Authorization header, which a stdio server never sees; give its credentials in MCP_SERVER_RUN_ENV_JSON',
    );
  }
  if (parsed.MCP_SERVER_HEADERS && Object.keys(parsed.MCP_SERVER_HEADERS).length > 0) {
    problems.push(`${sources.MCP_SERVER_HEADERS ?? 'MCP_SERVER_HEADERS'}: a stdio server receives no HTTP headers; give what it needs in MCP_SERVER_RUN_ENV_JSON`);
  }
  const tokenEnv = parsed.MCP_SERVER_TOKEN_ENV;
  if (tokenEnv !== undefined && parsed.MCP_SERVER_STDIO_ISOLATION === 'shared') {
    problems.push('MCP_SERVER_TOKEN_ENV: a shared process serves everyone and gets no user\'s token; use MCP_SERVER_STDIO_ISOLATION=session or user');
  }
  if (tokenEnv !== undefined && RESERVED_TOKEN_NAMES.has(tokenEnv)) {
    problems.push(`MCP_SERVER_TOKEN_ENV: ${tokenEnv} is not free for the token (the proxy sets ${IDENTITY_VARIABLES.join(' and ')}; PATH, HOME and NODE_OPTIONS stay the server's)`);
  }
  if (tokenEnv !== undefined && parsed.MCP_SERVER_RUN_ENV_JSON && tokenEnv in parsed.MCP_SERVER_RUN_ENV_JSON) {
    problems.push(`MCP_SERVER_TOKEN_ENV: ${tokenEnv} is also set in MCP_SERVER_RUN_ENV_JSON; each process gets the user's token there, remove one`);
  }
  return problems;
}

/** The stdio servers' settings (valid settings only); undefined with MCP_SERVER_TRANSPORT=http. */
export function stdioConfig(env: Environment, v: SettingValues, userTokens: boolean): StdioServersConfig | undefined {
  if (v.MCP_SERVER_TRANSPORT !== 'stdio' || !v.MCP_SERVER_RUN_COMMAND) return undefined;
  const base = childEnvironment(env, undefined, v.MCP_SERVER_RUN_ENV_JSON ?? {}, v.MCP_SERVER_RUN_ENV_PASSTHROUGH ?? []);
  for (const name of IDENTITY_VARIABLES) delete base[name];
  const isolation = v.MCP_SERVER_STDIO_ISOLATION;
  return {
    command: v.MCP_SERVER_RUN_COMMAND,
    args: v.MCP_SERVER_RUN_ARGS_JSON ?? [],
    cwd: v.MCP_SERVER_RUN_DIR,
    env: base,
    isolation,
    // A shared process serves everyone: no one's token; MCP_SERVER_CREDENTIALS=none: no token at all.
    tokenEnv: isolation !== 'shared' && userTokens ? v.MCP_SERVER_TOKEN_ENV : undefined,
    maxProcesses: v.MCP_SERVER_STDIO_MAX_PROCESSES,
    maxProcessesPerUser: v.MCP_SERVER_STDIO_MAX_PROCESSES_PER_USER,
    idleTimeoutMs: v.MCP_SERVER_STDIO_IDLE_TIMEOUT_SECONDS * 1000,
    startTimeoutMs: v.MCP_SERVER_READY_TIMEOUT_MS,
    stopTimeoutMs: v.MCP_SERVER_STOP_TIMEOUT_MS,
  };
}
