// MCP_AUTH_PROXY_POLICY: who may call which MCP method, tool, prompt or resource. A policy is a
// default (allow or deny) and rules; a rule applies to its subjects (users, emails, email domains,
// groups, clients; none listed: everyone) for its targets (methods, tools, prompts, resources,
// exact names or globs with * and ?; none listed: everything). Among the rules that apply, deny
// wins over allow; when none applies, the default decides.
//
// Given inline as JSON, or as the path of a .json, .yaml or .yml file. Validated as a whole: each
// problem names its rule (by number, and by its `name` when it has one) and its key.
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { parse as parseYaml } from 'yaml';

export type Effect = 'allow' | 'deny';

export const TARGET_KEYS = ['methods', 'tools', 'prompts', 'resources'] as const;
export const SUBJECT_KEYS = ['users', 'emails', 'domains', 'groups', 'clients'] as const;
export type TargetKey = (typeof TARGET_KEYS)[number];
export type SubjectKey = (typeof SUBJECT_KEYS)[number];

export interface PolicyRule {
  /** 1-based, as problems and audit lines name it. */
  number: number;
  name: string | undefined;
  effect: Effect;
  /** Patterns per target kind; absent: the rule does not name that kind. */
  targets: Partial<Record<TargetKey, Pattern[]>>;
  /** Values per subject kind (emails and domains lower-cased); absent: not named. */
  subjects: Partial<Record<SubjectKey, string[]>>;
}

export interface Policy {
  default: Effect;
  rules: PolicyRule[];
  /** Where it came from: `inline` or the file's path. */
  source: string;
}

/** An exact name, or a glob (* any run of characters, ? one). */
export interface Pattern {
  text: string;
  test(value: string): boolean;
}

export class PolicyError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('; '));
    this.name = 'PolicyError';
  }
}

export function pattern(text: string): Pattern {
  if (!/[*?]/.test(text)) return { text, test: (value) => value === text };
  const source = text.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  const regex = new RegExp(`^${source}$`, 's');
  return { text, test: (value) => regex.test(value) };
}

/** The policy of MCP_AUTH_PROXY_POLICY's value: inline JSON (starts with `{`) or a file's path. */
export function readPolicy(raw: string): Policy {
  const value = raw.trim();
  if (value.startsWith('{')) return parsePolicy(parseJson(value, 'inline JSON'), 'inline');
  let text: string;
  try {
    text = readFileSync(value, 'utf8');
  } catch {
    throw new PolicyError([`cannot read "${value}" (give inline JSON starting with {, or the path of a .json, .yaml or .yml file)`]);
  }
  const extension = extname(value).toLowerCase();
  if (extension === '.yaml' || extension === '.yml') {
    let document: unknown;
    try {
      document = parseYaml(text);
    } catch (err) {
      throw new PolicyError([`"${value}" is not valid YAML (${(err as Error).message.split('\n')[0]})`]);
    }
    return parsePolicy(document, value);
  }
  if (extension !== '.json') throw new PolicyError([`"${value}" must end in .json, .yaml or .yml`]);
  return parsePolicy(parseJson(text, `"${value}"`), value);
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new PolicyError([`${what} is not valid JSON (${(err as Error).message})`]);
  }
}

const RULE_KEYS = new Set<string>(['effect', 'name', ...TARGET_KEYS, ...SUBJECT_KEYS]);
/** Keys people write for the ones we read. */
const SUGGESTIONS: Record<string, string> = {
  tool: 'tools',
  method: 'methods',
  prompt: 'prompts',
  resource: 'resources',
  user: 'users',
  email: 'emails',
  domain: 'domains',
  group: 'groups',
  client: 'clients',
  action: 'effect',
  decision: 'effect',
};

/** Validates a parsed document as a policy; every problem at once. */
export function parsePolicy(document: unknown, source: string): Policy {
  const problems: string[] = [];
  if (typeof document !== 'object' || document === null || Array.isArray(document)) {
    throw new PolicyError(['must be an object with "default" and "rules"']);
  }
  const top = document as Record<string, unknown>;
  for (const key of Object.keys(top)) {
    if (key !== 'default' && key !== 'rules') problems.push(`unknown key "${key}" (a policy has "default" and "rules")`);
  }
  const fallback = top.default ?? 'allow';
  if (fallback !== 'allow' && fallback !== 'deny') problems.push(`"default" must be "allow" or "deny", got ${JSON.stringify(fallback)}`);
  const rawRules = top.rules ?? [];
  if (!Array.isArray(rawRules)) problems.push('"rules" must be a list');
  const rules = (Array.isArray(rawRules) ? rawRules : []).map((raw, index) => parseRule(raw, index + 1, problems));
  if (problems.length > 0) throw new PolicyError(problems);
  return { default: fallback as Effect, rules, source };
}

function parseRule(raw: unknown, number: number, problems: string[]): PolicyRule {
  const rule: PolicyRule = { number, name: undefined, effect: 'deny', targets: {}, subjects: {} };
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    problems.push(`rule ${number}: must be an object`);
    return rule;
  }
  const fields = raw as Record<string, unknown>;
  if (typeof fields.name === 'string') rule.name = fields.name;
  else if (fields.name !== undefined) problems.push(`rule ${number}: "name" must be text`);
  const label = rule.name ? `rule ${number} ("${rule.name}")` : `rule ${number}`;
  for (const key of Object.keys(fields)) {
    if (RULE_KEYS.has(key)) continue;
    const suggestion = SUGGESTIONS[key.toLowerCase()];
    problems.push(`${label}: unknown key "${key}"${suggestion ? ` (did you mean "${suggestion}"?)` : ''}`);
  }
  if (fields.effect !== 'allow' && fields.effect !== 'deny') {
    problems.push(`${label}: "effect" must be "allow" or "deny", got ${fields.effect === undefined ? 'nothing' : JSON.stringify(fields.effect)}`);
  } else {
    rule.effect = fields.effect;
  }
  const list = (key: string): string[] | undefined => {
    const value = fields[key];
    if (value === undefined) return undefined;
    const items = typeof value === 'string' ? [value] : value;
    if (!Array.isArray(items) || items.length === 0 || !items.every((item) => typeof item === 'string' && item.trim() !== '')) {
      problems.push(`${label}: "${key}" must be a non-empty list of names`);
      return undefined;
    }
    return items.map((item: string) => item.trim());
  };
  for (const key of TARGET_KEYS) {
    const items = list(key);
    if (items) rule.targets[key] = items.map(pattern);
  }
  for (const key of SUBJECT_KEYS) {
    const items = list(key);
    if (!items) continue;
    const lowered = key === 'emails' || key === 'domains' ? items.map((item) => item.toLowerCase().replace(/^@/, '')) : items;
    if (key === 'emails' && lowered.some((email) => !email.includes('@'))) problems.push(`${label}: "emails" must be email addresses (use "domains" for a whole domain)`);
    rule.subjects[key] = lowered;
  }
  return rule;
}

/** The policy as `config` prints it: one line for the default, one per rule. */
export function describePolicy(policy: Policy): string[] {
  const lines = [`default: ${policy.default} (from ${policy.source})`];
  for (const rule of policy.rules) {
    const targets = TARGET_KEYS.filter((k) => rule.targets[k]).map((k) => `${k} ${rule.targets[k]!.map((p) => p.text).join(', ')}`);
    const subjects = SUBJECT_KEYS.filter((k) => rule.subjects[k]).map((k) => `${k} ${rule.subjects[k]!.join(', ')}`);
    lines.push(
      `rule ${rule.number}${rule.name ? ` (${rule.name})` : ''}: ${rule.effect} ${targets.length ? targets.join('; ') : 'everything'} for ${subjects.length ? subjects.join('; ') : 'everyone'}`,
    );
  }
  return lines;
}
