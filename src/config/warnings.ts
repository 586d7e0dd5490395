// What is allowed in the environment but worth telling the operator: misspelt variables of ours,
// settings of Heroku's proxy (or of its documents) that this proxy does not read, and choices
// meant for local use only. `config` prints these; `start` and `verify` log the same lines,
// because on Heroku nobody runs `config`.
import type { Environment } from './types.js';
import { isSet } from './environment.js';
import { SETTINGS, variablesOf, type SettingName } from './settings.js';
import { BLOCK_SETTINGS, blocksOf, blockVariable } from './identity-blocks.js';

// Variables with these prefixes are ours: an unknown one is most likely a typo.
const OUR_PREFIXES = ['MCP_AUTH_PROXY_', 'OIDC_PROVIDER_', 'IDENTITY_'];

const DEFAULT_CALLBACK_PATH = SETTINGS.IDENTITY_CALLBACK_PATH.default;

/**
 * Variables of Heroku's mcp-remote-auth-proxy and its documents that this proxy does not read,
 * each with what to do instead. Those of heroku-buildpack-mcp-auth-proxy itself
 * (MCP_PROXY_VERSION, MCP_PROXY_DOWNLOAD_METHOD, MCP_PROXY_GIT_REF) are the buildpack's, not ours:
 * nothing is said of them.
 */
const HEROKU_ONLY: Record<string, (env: Environment) => string> = {
  IDENTITY_UNIQUE_CALLBACK_PATH: () =>
    "a setting of Heroku's proxy, ignored here: the proxy itself sends each sign-in back from IDENTITY_CALLBACK_PATH to its own page",
  IDENTITY_REDIRECT_URI: (env) => {
    const expected = `${(env.BASE_URL ?? '').replace(/\/+$/, '')}${env.IDENTITY_CALLBACK_PATH || DEFAULT_CALLBACK_PATH}`;
    return env.IDENTITY_REDIRECT_URI === expected
      ? `ignored: the redirect URI is always BASE_URL + IDENTITY_CALLBACK_PATH (${expected}, the same)`
      : `ignored: the redirect URI is always BASE_URL + IDENTITY_CALLBACK_PATH, here ${expected}; register that one at the identity provider`;
  },
  HONEYCOMB_DEVELOPMENT_API_KEY: () =>
    "from Heroku's .env.template, ignored here: for Honeycomb set OTEL_EXPORTER_OTLP_ENDPOINT=https://api.honeycomb.io and OTEL_EXPORTER_OTLP_HEADERS=x-honeycomb-team=<key>",
};

const isTrue = (value: string | undefined): boolean => /^(true|1|yes)$/i.test((value ?? '').trim());
const isFalse = (value: string | undefined): boolean => /^(false|0|no)$/i.test((value ?? '').trim());

const KNOWN = new Set<string>((Object.keys(SETTINGS) as SettingName[]).flatMap(variablesOf));

const OTEL_EXPORTS = ['OTEL_EXPORTER_OTLP_ENDPOINT', 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', 'OTEL_EXPORTER_OTLP_METRICS_ENDPOINT', 'OTEL_TRACES_EXPORTER', 'OTEL_METRICS_EXPORTER', 'MCP_AUTH_PROXY_METRICS_PATH'];

/** `demo`: nothing is configured; the local demo's in-memory store and generated key are by design. */
export function environmentWarnings(env: Environment, { demo = false } = {}): string[] {
  const found: string[] = [];
  // With IDENTITY_PROVIDERS, the blocks' variables are settings, and the single-provider ones are not.
  const blocks = blocksOf(env);
  const blockVariables = new Set(blocks.flatMap((block) => [...BLOCK_SETTINGS.map((setting) => blockVariable(block, setting)), blockVariable(block, 'IDENTITY_TITLE')]));
  for (const name of Object.keys(env).sort()) {
    if (!isSet(env, name) || blockVariables.has(name)) continue;
    if (blocks.length > 0 && (BLOCK_SETTINGS as readonly string[]).includes(name)) {
      found.push(`${name}: ignored with IDENTITY_PROVIDERS; each block has its own (IDENTITY_<NAME>_${name.slice('IDENTITY_'.length)})`);
      continue;
    }
    if (KNOWN.has(name)) continue;
    const heroku = HEROKU_ONLY[name];
    if (heroku) found.push(`${name}: ${heroku(env)}`);
    else if (OUR_PREFIXES.some((p) => name.startsWith(p))) found.push(`${name}: not a setting of this proxy (misspelt?); it is ignored`);
  }
  const production = env.NODE_ENV === 'production';
  if (!production && !demo && !isSet(env, 'MCP_AUTH_PROXY_REDIS_URL') && !isSet(env, 'REDIS_URL')) {
    found.push('MCP_AUTH_PROXY_REDIS_URL: not set; the in-memory store loses everything on restart and is not shared between instances');
  }
  if (!production && !demo && !isSet(env, 'OIDC_PROVIDER_JWKS')) {
    found.push('OIDC_PROVIDER_JWKS: not set; a key generated per process signs, so sign-ins do not survive a restart (`mcp-auth-proxy jwks` makes one)');
  }
  if (production && isTrue(env.LOCAL_INSECURE)) {
    found.push('LOCAL_INSECURE: true with NODE_ENV=production; plain http is meant for local use only');
  }
  // Heroku's documents turn tracing on with OTEL_SDK_DISABLED=false; here an exporter must be named.
  if (isFalse(env.OTEL_SDK_DISABLED) && !OTEL_EXPORTS.some((name) => isSet(env, name))) {
    found.push('OTEL_SDK_DISABLED: false, but no exporter is configured (OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_TRACES_EXPORTER, …): nothing is exported');
  }
  return found;
}
