// MCP_AUTH_PROXY_POLICY applied to JSON-RPC messages, whatever carries them (the HTTP forwarder,
// policy-http.ts; the stdio bridge): which requests a caller may send (a denied one gets a
// JSON-RPC error with its id and never reaches the MCP server), and what list results show (a
// tool, prompt or resource the caller may not use is left out).
import { decide, NAMED_METHODS, visible, type NamedKind, type PolicySubject, type PolicyTarget } from '../policy/decide.js';
import type { Policy } from '../policy/policy.js';
import type { McpCaller } from './caller.js';
import { idKey, type RequestId } from './jsonrpc-ids.js';

/** The JSON-RPC error code of a request the policy denies (implementation-defined server error range). */
export const POLICY_DENIED_CODE = -32003;

type Json = Record<string, unknown>;

/** The list requests whose results are filtered, and what they list. */
export const LIST_KINDS: Readonly<Record<string, NamedKind>> = { 'tools/list': 'tools', 'prompts/list': 'prompts', 'resources/list': 'resources' };
/** The field naming a listed item. */
const ITEM_NAME: Readonly<Record<NamedKind, string>> = { tools: 'name', prompts: 'name', resources: 'uri' };


/** A tools/call request, for the audit. */
export interface ToolCallRequest {
  id: RequestId;
  tool: string;
  arguments: unknown;
}

export interface Checked {
  /** Error responses for the requests denied, with their ids. */
  denials: Json[];
  /** The messages let through, in their order. */
  allowed: unknown[];
  /** The list requests let through (by idKey): their results are filtered. */
  lists: Map<string, NamedKind>;
  /** The tool calls let through, and those denied. */
  calls: ToolCallRequest[];
  deniedCalls: ToolCallRequest[];
}

/** 2026-07-28's request headers: what the request says it is, for intermediaries. */
export interface DeclaredTarget {
  method: string | undefined;
  name: string | undefined;
}

export function subjectOf(caller: McpCaller): PolicySubject {
  return { userId: caller.accountId, email: caller.email, groups: caller.groups, clientId: caller.clientId };
}

const isRequest = (m: unknown): m is Json & { method: string; id: RequestId } =>
  typeof m === 'object' && m !== null && typeof (m as Json).method === 'string' && (typeof (m as Json).id === 'string' || typeof (m as Json).id === 'number');

function targetOf(method: string, params: unknown): PolicyTarget {
  const named = NAMED_METHODS[method];
  if (!named) return { method };
  const value = typeof params === 'object' && params !== null ? (params as Json)[named.param] : undefined;
  return { method, named: { kind: named.kind, name: typeof value === 'string' ? value : '' } };
}

function describe(target: PolicyTarget): string {
  if (!target.named) return `the method ${target.method}`;
  const what = { tools: 'the tool', prompts: 'the prompt', resources: 'the resource' }[target.named.kind];
  return `${what} ${target.named.name}`;
}

/** The gate of a deployment without a policy that audits tool calls: everything passes, lists as they are. */
export const ALLOW_ALL: Policy = { default: 'allow', rules: [], source: 'none' };

export class PolicyGate {
  constructor(readonly policy: Policy) {}

  /**
   * Sorts the messages of one request body: each request is decided on (and, when the
   * 2026-07-28 headers declare a method and name, on those too: either one denied denies it).
   * Notifications and responses pass.
   */
  check(messages: readonly unknown[], subject: PolicySubject, declared?: DeclaredTarget): Checked {
    const checked: Checked = { denials: [], allowed: [], lists: new Map(), calls: [], deniedCalls: [] };
    // Without rules nothing is hidden: list answers pass as they are.
    const filtersLists = this.policy.rules.length > 0;
    const headerTarget = declared?.method ? targetOf(declared.method, { name: declared.name, uri: declared.name }) : undefined;
    const headerDenied = headerTarget ? !decide(this.policy, subject, headerTarget).allowed : false;
    for (const message of messages) {
      if (!isRequest(message)) {
        checked.allowed.push(message);
        continue;
      }
      const target = targetOf(message.method, message.params);
      const denied = headerDenied ? headerTarget! : !decide(this.policy, subject, target).allowed ? target : undefined;
      const call = message.method === 'tools/call' ? { id: message.id, tool: target.named!.name, arguments: (message.params as Json | undefined)?.arguments } : undefined;
      if (denied) {
        checked.denials.push({ jsonrpc: '2.0', id: message.id, error: { code: POLICY_DENIED_CODE, message: `Denied by this server's policy: you may not use ${describe(denied)}` } });
        if (call) checked.deniedCalls.push(call);
        continue;
      }
      checked.allowed.push(message);
      if (call) checked.calls.push(call);
      const kind = LIST_KINDS[message.method];
      if (kind && filtersLists) checked.lists.set(idKey(message.id), kind);
    }
    return checked;
  }

  /** A list result without the items the subject may not use (anything else as it is). */
  filter(message: unknown, kind: NamedKind, subject: PolicySubject): unknown {
    const result = typeof message === 'object' && message !== null ? (message as Json).result : undefined;
    const items = typeof result === 'object' && result !== null ? (result as Json)[kind] : undefined;
    if (!Array.isArray(items)) return message;
    const field = ITEM_NAME[kind];
    const kept = items.filter((item: unknown) => {
      const name = typeof item === 'object' && item !== null ? (item as Json)[field] : undefined;
      return typeof name === 'string' && visible(this.policy, subject, kind, name);
    });
    return kept.length === items.length ? message : { ...(message as Json), result: { ...(result as Json), [kind]: kept } };
  }
}
