// IDENTITY_PROVIDERS: several identity providers at once, for a chooser before the sign-in. Each
// named block is read from its own variables, IDENTITY_<NAME>_<SETTING> (IDENTITY_GITHUB_CLIENT_ID,
// IDENTITY_CORP_SERVER_URL …), with exactly the rules of the single-provider IDENTITY_* settings:
// the block's variables are put in their place and the configuration is read as usual. Problems
// are then named by the variables the operator set.
import { IDENTITY_PROVIDERS } from './identity-provider.js';
import { BLOCK_NAME } from './parsers.js';
import type { Environment } from './types.js';

/** The settings each block has its own of; everything else is shared. */
export const BLOCK_SETTINGS = [
  'IDENTITY_PROVIDER',
  'IDENTITY_SERVER_URL',
  'IDENTITY_CLIENT_ID',
  'IDENTITY_CLIENT_SECRET',
  'IDENTITY_SCOPE',
  'IDENTITY_AUDIENCE',
  'IDENTITY_SERVER_METADATA_FILE',
  'IDENTITY_LOCAL_USERS',
  'IDENTITY_ALLOWED_EMAILS',
  'IDENTITY_ALLOWED_DOMAINS',
  'IDENTITY_ALLOWED_GROUPS',
  'IDENTITY_ALLOWED_GITHUB_USERS',
  'IDENTITY_ALLOWED_GITHUB_ORGS',
  'IDENTITY_ALLOWED_GOOGLE_DOMAINS',
  'IDENTITY_ALLOWED_ENTRA_TENANTS',
  'IDENTITY_GROUPS_CLAIM',
] as const;

/** Block variables that hold secrets: never given to the MCP server child. */
export const isSecretBlockVariable = (name: string): boolean => /^IDENTITY_[A-Z0-9_]+_(CLIENT_SECRET|LOCAL_USERS)$/.test(name);


/** The block names IDENTITY_PROVIDERS lists, read leniently (for reports and warnings; loading validates). */
export const blocksOf = (env: Environment): string[] =>
  (env.IDENTITY_PROVIDERS ?? '').split(',').map((b) => b.trim().toLowerCase()).filter((b) => BLOCK_NAME.test(b));

const prefixOf = (block: string): string => `IDENTITY_${block.toUpperCase().replaceAll('-', '_')}_`;

/** The variable of `setting` in `block`: IDENTITY_CLIENT_ID of github is IDENTITY_GITHUB_CLIENT_ID. */
export const blockVariable = (block: string, setting: string): string => `${prefixOf(block)}${setting.slice('IDENTITY_'.length)}`;

/** The button of a block on the chooser: IDENTITY_<NAME>_TITLE, else the provider's name. */
export function blockTitle(env: Environment, block: string, provider: string): string {
  const given = env[`${prefixOf(block)}TITLE`]?.trim();
  if (given) return given.slice(0, 60);
  return TITLES[provider] ?? block.charAt(0).toUpperCase() + block.slice(1);
}

const TITLES: Record<string, string> = {
  github: 'GitHub',
  google: 'Google',
  heroku: 'Heroku',
  entra: 'Microsoft',
  okta: 'Okta',
  auth0: 'Auth0',
  keycloak: 'Keycloak',
  gitlab: 'GitLab',
  salesforce: 'Salesforce',
  local: 'Password',
};

/**
 * The environment one block is read from: the shared settings, and the block's own variables
 * in place of the single-provider ones (which do not apply with IDENTITY_PROVIDERS). A block
 * named like a preset (github, google …) is that provider unless it says otherwise.
 */
export function blockEnvironment(env: Environment, block: string): Environment {
  const own = new Set<string>([...BLOCK_SETTINGS, 'IDENTITY_PROVIDERS']);
  const out: Record<string, string | undefined> = Object.fromEntries(Object.entries(env).filter(([name]) => !own.has(name)));
  for (const setting of BLOCK_SETTINGS) {
    const value = env[blockVariable(block, setting)];
    if (value !== undefined) out[setting] = value;
  }
  if (out.IDENTITY_PROVIDER === undefined && (IDENTITY_PROVIDERS as readonly string[]).includes(block)) out.IDENTITY_PROVIDER = block;
  return out;
}

/** A problem of a block, named by the block's variables. */
const BLOCK_SETTING_NAMES = new RegExp(`\\b(${[...BLOCK_SETTINGS].sort((a, b) => b.length - a.length).join('|')})\\b`, 'g');

export function blockProblem(block: string, problem: string): string {
  return problem.replace(BLOCK_SETTING_NAMES, (setting) => blockVariable(block, setting));
}

/** Whether a problem concerns a block's own settings (the shared ones are reported once). */
export const isBlockProblem = (problem: string): boolean => BLOCK_SETTINGS.some((setting) => problem.startsWith(`${setting}:`));
