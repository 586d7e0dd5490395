// Reading the environment: the process's variables and a `.env` file, and every setting parsed
// from them (or from its default), each failure a problem naming the variable.
import { readFileSync } from 'node:fs';
import { parseEnv } from 'node:util';
import { SETTINGS, variablesOf, type ParsedSettings, type Setting, type SettingName } from './settings.js';
import type { Environment } from './types.js';

/** Set: present and not empty (Heroku's config:unset leaves nothing; `FOO=` in .env leaves ''). */
export const isSet = (env: Environment, name: string): boolean => env[name] !== undefined && env[name] !== '';

/** The variables of a `.env` file; none when it does not exist. */
export function readEnvFile(envFile = '.env'): Record<string, string> {
  try {
    return parseEnv(readFileSync(envFile, 'utf8')) as Record<string, string>;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    return {};
  }
}

/** The environment plus a `.env` file in the working directory; real variables win. */
export function readEnvironment(env: Environment, envFile = '.env'): Environment {
  return { ...readEnvFile(envFile), ...env };
}

/** The variable a setting was read from: its own name or an alias (REDIS_URL …); undefined when unset. */
export function sourceOf(env: Environment, name: SettingName): string | undefined {
  return variablesOf(name).find((variable) => isSet(env, variable));
}

/** The variable each set value was read from, for messages that name what the operator set. */
export type SettingSources = Partial<Record<SettingName, string>>;

/** Every setting, parsed; what fails to parse is a problem (a secret's value never in it). */
export function readSettings(env: Environment, problems: string[], sources: SettingSources): ParsedSettings {
  const values: Partial<Record<SettingName, unknown>> = {};
  for (const name of Object.keys(SETTINGS) as SettingName[]) {
    const spec: Setting<unknown> = SETTINGS[name];
    const from = sourceOf(env, name);
    const raw = from ? env[from] : spec.default;
    if (raw === undefined) continue;
    if (from) sources[name] = from;
    try {
      values[name] = spec.parse(raw);
    } catch (err) {
      let message = (err as Error).message;
      // A secret never reaches a message (release logs, `mcp-auth-proxy config`), whatever the parser says.
      if (spec.secret && raw.length > 0) message = message.split(raw).join('<hidden>');
      problems.push(`${from ?? name}: ${message}`);
    }
  }
  return values as ParsedSettings;
}
