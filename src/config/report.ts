// The effective configuration as an operator reads it: every setting with its value and where
// it came from, secrets masked, then every problem (what stops the proxy) and warning. Built
// from the same SETTINGS table and loader as startup, so it cannot disagree with it.
import { ConfigError, loadConfig, type Environment } from './index.js';
import type { Config } from './types.js';
import { privateJwks, redisUrl } from './parsers.js';
import { SETTINGS, type SettingName } from './settings.js';
import { isSet, sourceOf } from './environment.js';
import { describeKey } from '../provider/signing-keys.js';
import { environmentWarnings } from './warnings.js';
import { describePolicy } from '../policy/policy.js';
import { BLOCK_SETTINGS, blocksOf, blockVariable, isSecretBlockVariable } from './identity-blocks.js';

export type SettingSource = 'environment' | '.env' | 'default' | 'derived' | 'unset';

export interface SettingReport {
  /** A setting's name, or (IDENTITY_PROVIDERS) a block's variable such as IDENTITY_GITHUB_CLIENT_ID. */
  name: string;
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
  /** MCP_AUTH_PROXY_POLICY in effect: its default, then one line per rule. */
  policy?: string[];
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
};

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
    const from = sourceOf(merged, name);
    let entry: Omit<SettingReport, 'name' | 'secret' | 'description'>;
    if (from !== undefined) {
      const raw = merged[from]!;
      const value = secret ? maskSecret(name, raw) : name.endsWith('_ENV_JSON') ? maskEnvJson(raw) : raw;
      entry = { value, source: isSet(env, from) ? 'environment' : '.env', ...(from !== name ? { from } : {}) };
    } else if ('default' in spec && spec.default !== undefined) {
      entry = { value: spec.default, source: 'default' };
    } else {
      entry = WHEN_UNSET[name] ?? { value: undefined, source: 'unset' };
    }
    settings.push({ name, ...entry, secret, description: spec.description });
  }

  settings.splice(settings.findIndex((s) => s.name === 'IDENTITY_PROVIDERS') + 1, 0, ...blockSettings(merged, env));

  let problems: string[] = [];
  let policy: string[] | undefined;
  const notes: string[] = [];
  let demo = false;
  try {
    const config = loadConfig(merged);
    demo = config.demo;
    if (config.demo) {
      notes.push('nothing is configured: `mcp-auth-proxy start` (npm start) runs the local demo; configure it for real from .env-template');
    }
    notes.push(...config.warnings);
    const title = settings.find((s) => s.name === 'BRANDING_TITLE');
    if (title && config.branding.heroku) title.value = `${config.branding.title} (Heroku Identity)`;
    if (config.identity.providerName !== 'oidc') presetValues(settings, config);
    if (config.mcp.policy) policy = describePolicy(config.mcp.policy);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    problems = err.problems;
  }
  return { settings, problems, warnings: [...notes, ...environmentWarnings(merged, { demo })], ...(policy ? { policy } : {}) };
}

/** What a preset (IDENTITY_PROVIDER) put in place of a default or an unset server URL. */
function presetValues(settings: SettingReport[], config: Config): void {
  const preset = `(IDENTITY_PROVIDER=${config.identity.providerName})`;
  const scope = settings.find((s) => s.name === 'IDENTITY_SCOPE');
  if (scope?.source === 'default') Object.assign(scope, { value: `${config.identity.scopes.join(' ')} ${preset}`, source: 'derived' });
  const server = settings.find((s) => s.name === 'IDENTITY_SERVER_URL');
  if (server?.source === 'unset') Object.assign(server, { value: `${config.identity.serverUrl.href} ${preset}`, source: 'derived' });
}

/** With IDENTITY_PROVIDERS: each block's variables that are set, after the list (secrets masked). */
function blockSettings(merged: Environment, env: Environment): SettingReport[] {
  return blocksOf(merged).flatMap((block) =>
    [...BLOCK_SETTINGS, 'IDENTITY_TITLE'].flatMap((setting): SettingReport[] => {
      const name = blockVariable(block, setting);
      const raw = merged[name];
      if (raw === undefined || raw === '') return [];
      const secret = isSecretBlockVariable(name);
      return [
        {
          name,
          value: secret ? HIDDEN : raw,
          source: isSet(env, name) ? 'environment' : '.env',
          secret,
          description: setting === 'IDENTITY_TITLE' ? `The button of the ${block} block on the chooser.` : `${setting} of the ${block} block.`,
        },
      ];
    }),
  );
}
