// What the MCP server is given to authenticate requests (MCP_SERVER_CREDENTIALS): the user's own
// upstream token, a static credential of the operator's, or nothing; plus extra headers in every
// mode. Checked together here, because each setting alone cannot tell a contradiction.
import type { SettingSources } from './environment.js';
import type { ParsedSettings, SettingValues } from './settings.js';
import type { McpServerCredentials } from './types.js';

/**
 * The mode in effect: MCP_SERVER_CREDENTIALS, except that local accounts (no upstream token) not
 * told otherwise send the configured token, or nothing.
 */
function modeOf(parsed: ParsedSettings, sources: SettingSources): ParsedSettings['MCP_SERVER_CREDENTIALS'] {
  if (parsed.IDENTITY_PROVIDER === 'local' && !sources.MCP_SERVER_CREDENTIALS) return parsed.MCP_SERVER_BEARER_TOKEN !== undefined ? 'static' : 'none';
  return parsed.MCP_SERVER_CREDENTIALS;
}

/** Contradictions between the credential settings, named by the variables the operator set. */
export function credentialsProblems(parsed: ParsedSettings, sources: SettingSources): string[] {
  const problems: string[] = [];
  const mode = modeOf(parsed, sources);
  const token = parsed.MCP_SERVER_BEARER_TOKEN;
  const headers = parsed.MCP_SERVER_HEADERS ?? {};
  const tokenName = sources.MCP_SERVER_BEARER_TOKEN ?? 'MCP_SERVER_BEARER_TOKEN';
  const headersName = sources.MCP_SERVER_HEADERS ?? 'MCP_SERVER_HEADERS';
  if (parsed.IDENTITY_PROVIDER === 'local' && mode === 'user' && sources.MCP_SERVER_CREDENTIALS) {
    problems.push('MCP_SERVER_CREDENTIALS: local accounts have no upstream token to send; use static or none (the default with IDENTITY_PROVIDER=local)');
  }
  if (mode === 'static' && token === undefined && Object.keys(headers).length === 0) {
    problems.push('MCP_SERVER_CREDENTIALS: static needs MCP_SERVER_BEARER_TOKEN (or the MCP server\'s own credential header in MCP_SERVER_HEADERS)');
  }
  if (mode !== undefined && mode !== 'static' && token !== undefined) {
    problems.push(
      `${tokenName}: is sent only with MCP_SERVER_CREDENTIALS=static (it is ${mode}, so the MCP server would get ${mode === 'user' ? "the user's upstream token" : 'no Authorization'} instead); set MCP_SERVER_CREDENTIALS=static or unset ${tokenName}`,
    );
  }
  const identity = [
    ['MCP_AUTH_PROXY_USER_ID_HEADER', parsed.MCP_AUTH_PROXY_USER_ID_HEADER],
    ['MCP_AUTH_PROXY_USER_EMAIL_HEADER', parsed.MCP_AUTH_PROXY_USER_EMAIL_HEADER],
    ['MCP_AUTH_PROXY_CLIENT_ID_HEADER', parsed.MCP_AUTH_PROXY_CLIENT_ID_HEADER],
  ] as const;
  for (const [setting, name] of identity) {
    if (name !== undefined && name in headers) problems.push(`${headersName}: ${name} is the identity header of ${setting}; the proxy sets it`);
  }
  return problems;
}

export function credentialsOf(v: SettingValues, sources: SettingSources): McpServerCredentials {
  const headers = v.MCP_SERVER_HEADERS ?? {};
  switch (modeOf(v, sources)) {
    case 'static':
      return { mode: 'static', bearerToken: v.MCP_SERVER_BEARER_TOKEN, headers };
    case 'none':
      return { mode: 'none', headers };
    default:
      return { mode: 'user', headers };
  }
}
