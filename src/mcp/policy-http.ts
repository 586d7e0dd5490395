// The policy on the HTTP path (MCP_SERVER_TRANSPORT=http), only when MCP_AUTH_PROXY_POLICY is set:
// a POST's body is read (it is bounded by MCP_AUTH_PROXY_MAX_BODY_BYTES already) and decided on
// (policy-gate.ts). Denied requests are answered here; what is allowed is forwarded, and the MCP
// server's answer is rewritten only when it must be: list results filtered, the denials of a
// batch added. Plain JSON is rewritten whole (up to MAX_REWRITTEN_BYTES); SSE event by event,
// streaming. Anything else streams through untouched.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Transform, type TransformCallback } from 'node:stream';
import type { PolicySubject } from '../policy/decide.js';
import { copyResponseHead } from './headers.js';
import type { Checked, DeclaredTarget, PolicyGate } from './policy-gate.js';
import { idKey } from './jsonrpc-ids.js';

/** The largest plain-JSON answer rewritten; a larger one is refused rather than shown unfiltered. */
export const MAX_REWRITTEN_BYTES = 16 * 1024 * 1024;

type Json = Record<string, unknown>;

/** What to do with one POST body; `checked`: what the gate found in it (undefined: not JSON). */
export type Plan = { checked?: Checked } & (
  | { kind: 'forward' }
  | { kind: 'answer'; body: unknown }
  | { kind: 'rewrite'; body: Buffer; respond: (upstreamRes: IncomingMessage, res: ServerResponse) => void }
);

/** Told each JSON-RPC message of the MCP server's answer (the audit of tool calls). */
export type AnswerObserver = (message: unknown) => void;

/** The 2026-07-28 headers a request declares itself with, if any. */
export function declaredTarget(req: IncomingMessage): DeclaredTarget | undefined {
  const method = req.headers['mcp-method'];
  if (typeof method !== 'string') return undefined;
  const name = req.headers['mcp-name'];
  return { method, name: typeof name === 'string' ? name : undefined };
}

/**
 * Decides on a body: forward it as it is, answer it here (everything denied), or forward a part
 * and rewrite the answer. With `observe`, an answer to tool calls is read (passed on as it is) so
 * that each message of it is told to `observe`.
 */
export function planFor(gate: PolicyGate, subject: PolicySubject, body: Buffer, declared: DeclaredTarget | undefined, observe?: AnswerObserver): Plan {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    // Not JSON: the MCP server answers it (a parse error); no request in it can be told apart.
    return { kind: 'forward' };
  }
  const batch = Array.isArray(parsed);
  const checked = gate.check(Array.isArray(parsed) ? parsed : [parsed], subject, declared);
  const observed = observe !== undefined && checked.calls.length > 0;
  if (checked.denials.length === 0 && checked.lists.size === 0 && !observed) return { kind: 'forward', checked };
  if (checked.allowed.length === 0) return { kind: 'answer', body: batch ? checked.denials : checked.denials[0], checked };
  const forwarded = checked.denials.length === 0 ? body : Buffer.from(JSON.stringify(batch ? checked.allowed : checked.allowed[0]));
  return { kind: 'rewrite', body: forwarded, checked, respond: (upstreamRes, res) => rewrite(gate, subject, checked, upstreamRes, res, observe) };
}

/** The MCP server's answer to what was let through, with lists filtered and a batch's denials added. */
function rewrite(gate: PolicyGate, subject: PolicySubject, checked: Checked, upstreamRes: IncomingMessage, res: ServerResponse, observe?: AnswerObserver): void {
  const type = String(upstreamRes.headers['content-type'] ?? '');
  const rewriteMessage = (message: unknown): unknown => {
    observe?.(message);
    const id = typeof message === 'object' && message !== null ? (message as Json).id : undefined;
    const kind = typeof id === 'string' || typeof id === 'number' ? checked.lists.get(idKey(id)) : undefined;
    return kind ? gate.filter(message, kind, subject) : message;
  };
  if (upstreamRes.statusCode === 202 && checked.denials.length > 0) {
    // Only notifications went through: the denials are the whole answer.
    upstreamRes.resume();
    return writeJson(res, 200, checked.denials, upstreamRes);
  }
  if (upstreamRes.statusCode !== 200) return passThrough(upstreamRes, res);
  if (type.startsWith('text/event-stream')) {
    copyResponseHead(upstreamRes, res, ['content-length']);
    const events = new SseRewriter(rewriteMessage);
    for (const denial of checked.denials) events.push(sseEvent(denial));
    upstreamRes.pipe(events).pipe(res);
    return;
  }
  if (!type.startsWith('application/json')) return passThrough(upstreamRes, res);
  const chunks: Buffer[] = [];
  let size = 0;
  upstreamRes.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (size > MAX_REWRITTEN_BYTES) {
      upstreamRes.destroy();
      return writeJson(res, 502, { jsonrpc: '2.0', id: null, error: { code: -32603, message: 'The MCP server answered more than the proxy filters' } }, upstreamRes);
    }
    chunks.push(chunk);
  });
  upstreamRes.on('end', () => {
    let answer: unknown;
    try {
      answer = JSON.parse(Buffer.concat(chunks, size).toString('utf8'));
    } catch {
      return writeJson(res, 502, { jsonrpc: '2.0', id: null, error: { code: -32603, message: 'The MCP server answered malformed JSON' } }, upstreamRes);
    }
    // A batch whose one allowed request got a single answer is a batch again with its denials.
    const answers = Array.isArray(answer) ? answer : checked.denials.length > 0 ? [answer] : undefined;
    const rewritten = answers ? [...answers.map(rewriteMessage), ...checked.denials] : rewriteMessage(answer);
    writeJson(res, 200, rewritten, upstreamRes);
  });
}

function passThrough(upstreamRes: IncomingMessage, res: ServerResponse): void {
  copyResponseHead(upstreamRes, res);
  upstreamRes.pipe(res);
}

/** A JSON answer, keeping the MCP server's own headers (session id …) when there is one. */
export function writeJson(res: ServerResponse, status: number, body: unknown, upstreamRes?: IncomingMessage): void {
  if (res.headersSent) return void res.destroy();
  const text = JSON.stringify(body);
  if (upstreamRes) copyResponseHead(upstreamRes, res, ['content-length', 'content-type']);
  res.statusCode = status;
  res.setHeader('content-type', 'application/json');
  res.setHeader('content-length', Buffer.byteLength(text));
  res.end(text);
}

const sseEvent = (message: unknown): string => `event: message\ndata: ${JSON.stringify(message)}\n\n`;

/**
 * Rewrites the JSON-RPC message of each SSE event (`data:` lines) and keeps its other fields
 * (id, event, retry) and comments; events are passed on as soon as they are complete.
 */
export class SseRewriter extends Transform {
  #pending = '';

  constructor(private readonly rewriteMessage: (message: unknown) => unknown) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#pending += chunk.toString('utf8');
    // One event larger than what is filtered: cut rather than held without bound.
    if (this.#pending.length > MAX_REWRITTEN_BYTES) return callback(new Error('an SSE event of the MCP server is larger than the proxy filters'));
    let end: number;
    // An event ends at a blank line (LF or CRLF).
    while ((end = this.#pending.search(/\r?\n\r?\n/)) >= 0) {
      const separator = /\r?\n\r?\n/.exec(this.#pending.slice(end))![0];
      const block = this.#pending.slice(0, end);
      this.#pending = this.#pending.slice(end + separator.length);
      this.push(`${this.#event(block)}\n\n`);
    }
    callback();
  }

  override _flush(callback: TransformCallback): void {
    if (this.#pending) this.push(this.#event(this.#pending));
    callback();
  }

  #event(block: string): string {
    const lines = block.split(/\r?\n/);
    const data = lines.filter((l) => l.startsWith('data:')).map((l) => l.slice(l.startsWith('data: ') ? 6 : 5));
    if (data.length === 0) return block;
    let message: unknown;
    try {
      message = JSON.parse(data.join('\n'));
    } catch {
      return block;
    }
    const rewritten = this.rewriteMessage(message);
    if (rewritten === message) return block;
    return [...lines.filter((l) => !l.startsWith('data:')), `data: ${JSON.stringify(rewritten)}`].join('\n');
  }
}
