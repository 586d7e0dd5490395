// The audit of tool calls: one structured line per `tools/call` (who, through which client and
// session, which tool, allowed or denied, how long, how it ended), and OpenTelemetry metrics per
// tool (calls by outcome, denials, latency). Arguments and results are never written unless
// MCP_AUTH_PROXY_AUDIT_ARGUMENTS=true, and then with secret-looking fields redacted and bounded.
import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { AuditLog } from './audit.js';
import type { ProxyMetrics } from './metrics.js';

/** How a call ended: the MCP server's result (isError included), its JSON-RPC error, or no answer. */
export type ToolCallOutcome = 'result' | 'error' | 'transport_error' | 'cancelled' | 'denied';

/** Calls waiting for their answer; beyond, the oldest is written as unanswered (a bounded map). */
const MAX_OPEN = 10_000;

export interface ToolCaller {
  accountId: string;
  clientId: string;
  sessionId: string | undefined;
}

/**
 * A session as audit lines name it: a digest, not the id (which, with the user's token, reaches
 * the session); the same session has the same tag on every line.
 */
export function sessionTag(sessionId: string | string[] | undefined): string | undefined {
  return typeof sessionId === 'string' ? createHash('sha256').update(sessionId).digest('base64url').slice(0, 16) : undefined;
}

/** Longest argument or result text kept, and the most of either written. */
const MAX_STRING = 256;
const MAX_JSON = 4096;
const SECRET_KEY = /token|secret|password|passwd|authorization|cookie|api[-_]?key|private[-_]?key|credential/i;

/** A value with secret-looking fields replaced and long strings cut; undefined when nothing is kept. */
export function redactValue(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return value.length > MAX_STRING ? `${value.slice(0, MAX_STRING)}…` : value;
  if (typeof value !== 'object' || value === null) return value;
  if (depth >= 6) return '[nested]';
  if (Array.isArray(value)) return value.slice(0, 50).map((v) => redactValue(v, depth + 1));
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, SECRET_KEY.test(k) ? '[redacted]' : redactValue(v, depth + 1)]));
}

function bounded(value: unknown): unknown {
  const redacted = redactValue(value);
  const text = JSON.stringify(redacted) ?? '';
  return text.length > MAX_JSON ? `${text.slice(0, MAX_JSON)}… (${text.length} characters)` : redacted;
}

interface OpenCall {
  caller: ToolCaller;
  tool: string;
  startedAt: number;
  arguments: unknown;
}

export class ToolCallAudit {
  readonly #open = new Map<string, OpenCall>();

  constructor(
    private readonly log: AuditLog,
    private readonly metrics: ProxyMetrics,
    private readonly withArguments: boolean,
  ) {}

  /** A call the policy denied: written at once. */
  denied(caller: ToolCaller, tool: string, args: unknown): void {
    this.metrics.toolDenied(tool);
    this.#write(caller, tool, { allowed: false, outcome: 'denied', durationMs: 0 }, args, undefined);
  }

  /** A call on its way to the MCP server; `key` names it until its answer (or none) comes. */
  started(key: string, caller: ToolCaller, tool: string, args: unknown): void {
    this.#open.set(key, { caller, tool, startedAt: performance.now(), arguments: args });
    if (this.#open.size > MAX_OPEN) this.unanswered(this.#open.keys().next().value!);
  }

  /** Its answer: a JSON-RPC response (result or error). */
  answered(key: string, response: unknown): void {
    const call = this.#open.get(key);
    if (!call) return;
    this.#open.delete(key);
    const error = typeof response === 'object' && response !== null ? (response as { error?: { code?: unknown } }).error : undefined;
    const result = typeof response === 'object' && response !== null ? (response as { result?: unknown }).result : undefined;
    const outcome: ToolCallOutcome = error ? 'error' : 'result';
    this.#finish(call, outcome, { ...(error && typeof error.code === 'number' ? { errorCode: error.code } : {}) }, result);
  }

  /** No answer came: the connection to the MCP server or to the client ended first, or the client cancelled. */
  unanswered(key: string, outcome: 'transport_error' | 'cancelled' = 'transport_error'): void {
    const call = this.#open.get(key);
    if (!call) return;
    this.#open.delete(key);
    this.#finish(call, outcome, {}, undefined);
  }

  #finish(call: OpenCall, outcome: ToolCallOutcome, extra: Record<string, unknown>, result: unknown): void {
    const seconds = (performance.now() - call.startedAt) / 1000;
    this.metrics.toolCall(call.tool, outcome, seconds);
    this.#write(call.caller, call.tool, { allowed: true, outcome, durationMs: Math.round(seconds * 1000), ...extra }, call.arguments, result);
  }

  #write(caller: ToolCaller, tool: string, fields: Record<string, unknown>, args: unknown, result: unknown): void {
    const detail = this.withArguments ? { arguments: bounded(args), ...(result !== undefined ? { result: bounded(result) } : {}) } : {};
    this.log.write(
      { audit: 'tool.call', accountId: caller.accountId, clientId: caller.clientId, sessionId: caller.sessionId, method: 'tools/call', tool, ...fields, ...detail },
      'tool call',
    );
  }
}
