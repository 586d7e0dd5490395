// The environment of the MCP server child: the proxy's own, minus its secrets (unless
// MCP_SERVER_RUN_ENV_PASSTHROUGH names them; key material never), plus MCP_SERVER_RUN_ENV_JSON,
// with PORT set to where MCP_SERVER_URL says the child listens.
import { SETTINGS, variablesOf, type SettingName } from './settings.js';
import type { Environment } from './types.js';
import { isSecretBlockVariable } from './identity-blocks.js';

const CHILD_ENV_DENYLIST = new Set<string>(
  (Object.keys(SETTINGS) as SettingName[]).filter((name) => 'secret' in SETTINGS[name] && SETTINGS[name].secret).flatMap(variablesOf),
);

/** The proxy's key material: never given to the MCP server, whatever the passthrough says. */
export const NEVER_PASSED = new Set<string>(['OIDC_PROVIDER_JWKS', 'MCP_AUTH_PROXY_COOKIE_KEYS', 'MCP_AUTH_PROXY_VAULT_KEYS']);

/** `serverUrl`: where an HTTP child listens (its PORT); undefined for a stdio server, which listens nowhere. */
export function childEnvironment(env: Environment, serverUrl: URL | undefined, extra: Record<string, string>, passthrough: string[]): Record<string, string> {
  const allowed = new Set(passthrough);
  const inherited = Object.entries(env).filter(
    (entry): entry is [string, string] =>
      entry[1] !== undefined && ((!CHILD_ENV_DENYLIST.has(entry[0]) && !isSecretBlockVariable(entry[0])) || allowed.has(entry[0])),
  );
  const own = Object.fromEntries(inherited);
  // PORT is ours (the public listener); the child listens where MCP_SERVER_URL says, or nowhere.
  if (!serverUrl) {
    delete own.PORT;
    return { ...own, ...extra };
  }
  const port = serverUrl.port || (serverUrl.protocol === 'https:' ? '443' : '80');
  return { ...own, PORT: port, ...extra };
}
