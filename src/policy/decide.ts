// What a policy says about one request: who asks (the subject) and what for (the target: a method,
// and for tools/call, prompts/get and resources/* the tool, prompt or resource it names).
import type { Policy, PolicyRule, TargetKey } from './policy.js';

export interface PolicySubject {
  /** The account id (the IdP's subject; `<block>:<subject>` with IDENTITY_PROVIDERS). */
  userId: string;
  email: string | undefined;
  groups: readonly string[];
  clientId: string;
}

export type NamedKind = Exclude<TargetKey, 'methods'>;

export interface PolicyTarget {
  method: string;
  /** The tool, prompt or resource the request names, if it names one. */
  named?: { kind: NamedKind; name: string };
}

export interface Decision {
  allowed: boolean;
  /** The rule that decided; undefined: the default (or a protocol method nothing named). */
  rule: PolicyRule | undefined;
}

/** The requests that name a tool, prompt or resource, and where the name is. */
export const NAMED_METHODS: Readonly<Record<string, { kind: NamedKind; param: 'name' | 'uri' }>> = {
  'tools/call': { kind: 'tools', param: 'name' },
  'prompts/get': { kind: 'prompts', param: 'name' },
  'resources/read': { kind: 'resources', param: 'uri' },
  'resources/subscribe': { kind: 'resources', param: 'uri' },
  'resources/unsubscribe': { kind: 'resources', param: 'uri' },
};

/** The request a listed item would be used with: a hidden item is one its user may not use. */
export const USE_METHOD: Readonly<Record<NamedKind, string>> = { tools: 'tools/call', prompts: 'prompts/get', resources: 'resources/read' };

/**
 * What a client needs to connect and see what it may use: allowed unless a rule says otherwise,
 * even with `"default": "deny"` (which is about what the server does, not about talking to it).
 */
const PROTOCOL_METHODS = new Set([
  'initialize',
  'ping',
  'tools/list',
  'prompts/list',
  'resources/list',
  'resources/templates/list',
  'completion/complete',
  'logging/setLevel',
]);

export function decide(policy: Policy, subject: PolicySubject, target: PolicyTarget): Decision {
  let allowedBy: PolicyRule | undefined;
  for (const rule of policy.rules) {
    if (!targets(rule, target) || !concerns(rule, subject)) continue;
    if (rule.effect === 'deny') return { allowed: false, rule };
    allowedBy ??= rule;
  }
  if (allowedBy) return { allowed: true, rule: allowedBy };
  if (!target.named && (PROTOCOL_METHODS.has(target.method) || target.method.startsWith('notifications/'))) return { allowed: true, rule: undefined };
  return { allowed: policy.default === 'allow', rule: undefined };
}

/** Whether a listed tool, prompt or resource is shown: whether its user may use it. */
export function visible(policy: Policy, subject: PolicySubject, kind: NamedKind, name: string): boolean {
  return decide(policy, subject, { method: USE_METHOD[kind], named: { kind, name } }).allowed;
}

function targets(rule: PolicyRule, target: PolicyTarget): boolean {
  const { methods } = rule.targets;
  const names = target.named ? rule.targets[target.named.kind] : undefined;
  if (!methods && !rule.targets.tools && !rule.targets.prompts && !rule.targets.resources) return true;
  if (methods?.some((p) => p.test(target.method))) return true;
  return names !== undefined && names.some((p) => p.test(target.named!.name));
}

function concerns(rule: PolicyRule, subject: PolicySubject): boolean {
  const { users, emails, domains, groups, clients } = rule.subjects;
  if (!users && !emails && !domains && !groups && !clients) return true;
  const email = subject.email?.toLowerCase();
  // With several identity providers the id is `<block>:<subject>`: either form names the user.
  const colon = subject.userId.indexOf(':');
  const bare = colon > 0 ? subject.userId.slice(colon + 1) : undefined;
  return (
    (users?.some((u) => u === subject.userId || u === bare) ?? false) ||
    (email !== undefined && (emails?.includes(email) ?? false)) ||
    (email !== undefined && (domains?.includes(email.slice(email.lastIndexOf('@') + 1)) ?? false)) ||
    (groups?.some((g) => subject.groups.includes(g)) ?? false) ||
    (clients?.includes(subject.clientId) ?? false)
  );
}
