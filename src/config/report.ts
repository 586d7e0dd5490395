// The effective configuration as an operator reads it: every setting with its value and where
// it came from, secrets masked, then every problem (what stops the proxy) and warning. Built
// from the same SETTINGS table and loader as startup, so it cannot disagree with it.
import { ConfigError, loadConfig, type Environment } from './index.js';
import { privateJwks, redisUrl } from './parsers.js';
import { SETTINGS, type SettingName } from './settings.js';
import { describeKey } from '../provider/signing-keys.js';

export type SettingSource = 'environment' | '.env' | 'default' | 'derived' | 'unset';

export interface SettingReport {
  name: SettingName;
  /** What is in effect, as text; for a secret, only what can be said without revealing it. */
  value: string | undefined;
  source: SettingSource;
  /** The variable it was read from, when an alias (REDIS_URL) supplied it. */
  from?: string;
  secret: boolean;
  description: string;
}

export interface ConfigReport {
  settings: SettingReport[];
  /** Each stops the proxy at startup. */
  problems: string[];
  /** Allowed, but worth knowing. */
  warnings: string[];
}

// What an unset setting without a default means; the others are simply unset.
const WHEN_UNSET: Partial<Record<SettingName, { source: SettingSource; value: string }>> = {
  OIDC_PROVIDER_JWKS: { source: 'derived', value: 'generated per process (refused in production)' },
  MCP_AUTH_PROXY_COOKIE_KEYS: { source: 'derived', value: 'derived from OIDC_PROVIDER_JWKS' },
  MCP_AUTH_PROXY_VAULT_KEYS: { source: 'derived', value: 'derived from OIDC_PROVIDER_JWKS' },
  MCP_AUTH_PROXY_REDIS_URL: { source: 'unset', value: 'in-memory store (local use only)' },
  MCP_SERVER_RUN_COMMAND: { source: 'unset', value: 'the MCP server runs elsewhere' },
  MCP_SERVER_RUN_DIR: { source: 'unset', value: 'the current directory' },
  MCP_AUTH_PROXY_LISTEN_HOST: { source: 'unset', value: 'every interface' },
  BRANDING_TITLE: { source: 'derived', value: '"Heroku MCP" for a Heroku IdP, else "MCP Server"' },
};

// Variables with these prefixes are ours: an unknown one is most likely a typo.
const OUR_PREFIXES = ['MCP_AUTH_PROXY_', 'OIDC_PROVIDER_', 'IDENTITY_'];

const HIDDEN = '(set, hidden)';

/** For a secret: only what is public anyway (key ids and types, the Redis host) or a count. */
function maskSecret(name: string, raw: string): string {
  try {
    if (name === 'OIDC_PROVIDER_JWKS') {
      const keys = privateJwks(raw);
      return `${HIDDEN}: ${keys.length} key(s): ${keys.map(describeKey).join('; ')}`;
    }
    if (name === 'MCP_AUTH_PROXY_REDIS_URL') {
      const url = redisUrl(raw);
      const credentials = url.username || url.password ? '***@' : '';
      return `${url.protocol}//${credentials}${url.host}${url.pathname === '/' ? '' : url.pathname} (password hidden)`;
    }
    if (name === 'MCP_AUTH_PROXY_COOKIE_KEYS' || name === 'MCP_AUTH_PROXY_VAULT_KEYS') {
      return `${HIDDEN}: ${raw.split(',').filter((k) => k.trim()).length} key(s)`;
    }
  } catch {
    // Not valid: the problem list says so, without the value.
  }
  return HIDDEN;
}

/** Values of the MCP server's extra environment are often its own API keys: show the names only. */
function maskEnvJson(raw: string): string {
  try {
    const names = Object.keys(JSON.parse(raw) as Record<string, unknown>);
    return names.length === 0 ? '{}' : `{${names.join(', ')}} (values hidden)`;
  } catch {
    return '(set, not valid JSON, hidden)';
  }
}

function present(env: Environment, name: string): boolean {
  return env[name] !== undefined && env[name] !== '';
}

/**
 * `env` is the process environment and `fileEnv` the .env file's variables, kept apart so each
 * value can say where it came from; together they are what `start` reads (the environment wins).
 */
export function reportConfiguration(env: Environment, fileEnv: Environment): ConfigReport {
  const merged: Environment = { ...fileEnv, ...env };
  const settings: SettingReport[] = [];
  for (const name of Object.keys(SETTINGS) as SettingName[]) {
    const spec = SETTINGS[name];
    const secret = 'secret' in spec && spec.secret === true;
    const names = [name, ...('aliases' in spec && spec.aliases ? spec.aliases : [])];
    const from = names.find((n) => present(merged, n));
    let entry: Omit<SettingReport, 'name' | 'secret' | 'description'>;
    if (from !== undefined) {
      const raw = merged[from]!;
      const value = secret ? maskSecret(name, raw) : name.endsWith('_ENV_JSON') ? maskEnvJson(raw) : raw;
      entry = { value, source: present(env, from) ? 'environment' : '.env', ...(from !== name ? { from } : {}) };
    } else if ('default' in spec && spec.default !== undefined) {
      entry = { value: spec.default, source: 'default' };
    } else {
      entry = WHEN_UNSET[name] ?? { value: undefined, source: 'unset' };
    }
    settings.push({ name, ...entry, secret, description: spec.description });
  }

  let problems: string[] = [];
  const notes: string[] = [];
  try {
    const config = loadConfig(merged);
    if (config.demo) {
      notes.push('nothing is configured: `mcp-auth-proxy start` (npm start) runs the local demo; configure it for real from .env-template');
    }
    const title = settings.find((s) => s.name === 'BRANDING_TITLE');
    if (title?.source === 'derived') title.value = `${config.branding.title} (${config.branding.heroku ? 'a Heroku IdP' : 'the IdP is not Heroku'})`;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    problems = err.problems;
  }
  return { settings, problems, warnings: [...notes, ...warnings(merged)] };
}

function warnings(env: Environment): string[] {
  const found: string[] = [];
  const known = new Set<string>(
    (Object.keys(SETTINGS) as SettingName[]).flatMap((name) => {
      const spec = SETTINGS[name];
      return [name, ...('aliases' in spec && spec.aliases ? spec.aliases : [])];
    }),
  );
  for (const name of Object.keys(env).sort()) {
    if (present(env, name) && !known.has(name) && OUR_PREFIXES.some((p) => name.startsWith(p))) {
      found.push(`${name}: not a setting of this proxy (misspelt?); it is ignored`);
    }
  }
  const production = env.NODE_ENV === 'production';
  if (!production && !present(env, 'MCP_AUTH_PROXY_REDIS_URL') && !present(env, 'REDIS_URL')) {
    found.push('MCP_AUTH_PROXY_REDIS_URL: not set; the in-memory store loses everything on restart and is not shared between instances');
  }
  if (!production && !present(env, 'OIDC_PROVIDER_JWKS')) {
    found.push('OIDC_PROVIDER_JWKS: not set; a key generated per process signs, so sign-ins do not survive a restart (`mcp-auth-proxy jwks` makes one)');
  }
  if (production && /^(true|1|yes)$/i.test(env.LOCAL_INSECURE ?? '')) {
    found.push('LOCAL_INSECURE: true with NODE_ENV=production; plain http is meant for local use only');
  }
  return found;
}
