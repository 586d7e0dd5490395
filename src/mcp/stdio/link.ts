// The HTTP side of one session on a stdio server process: what the process says reaches the
// client through the session's SDK transport. What belongs to no request goes on the session's
// GET stream; the SDK's transport drops it when that stream is not open, and a stdio server often
// speaks first (roots/list right after `initialized`, before the client has opened its GET
// stream): so such messages wait here, a bounded number, until the stream opens.
import type { ServerResponse } from 'node:http';
import type { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { JSONRPCMessage, RequestId } from '@modelcontextprotocol/sdk/types.js';
import type { SessionLink } from './channel.js';
import { idKey } from '../jsonrpc-ids.js';

/** Messages kept for a GET stream that is not open yet; beyond, the oldest go. */
const MAX_WAITING = 100;

const isResponse = (message: JSONRPCMessage): boolean => !('method' in message);

export class TransportLink implements SessionLink {
  readonly #transport: StreamableHTTPServerTransport;
  readonly #onGone: (reason: string) => void;
  #streams = 0;
  #waiting: JSONRPCMessage[] = [];
  /** Answers to rewrite before the client sees them (list results the policy filters, the audit), by request id. */
  readonly #rewrites = new Map<string, { rewrite: (message: JSONRPCMessage) => JSONRPCMessage; abandon?: (() => void) | undefined }>();
  /** Messages dropped because too many waited (for the log). */
  dropped = 0;

  constructor(transport: StreamableHTTPServerTransport, onGone: (reason: string) => void) {
    this.#transport = transport;
    this.#onGone = onGone;
  }

  /**
   * The answer to this request (by idKey) is rewritten on its way to the client; `abandon` is
   * called instead if none comes (the session ended first, or the client cancelled it).
   */
  rewriteAnswer(key: string, rewrite: (message: JSONRPCMessage) => JSONRPCMessage, abandon?: () => void): void {
    this.#rewrites.set(key, { rewrite, abandon });
  }

  /** No answer will come to this request (the client cancelled it). */
  abandonAnswer(key: string): void {
    const entry = this.#rewrites.get(key);
    this.#rewrites.delete(key);
    entry?.abandon?.();
  }

  /** The session ended: no answer will come to what still waits. */
  abandonAll(): void {
    const entries = [...this.#rewrites.values()];
    this.#rewrites.clear();
    for (const entry of entries) entry.abandon?.();
  }

  deliver(given: JSONRPCMessage, relatedRequestId?: RequestId): void {
    let message = given;
    if (isResponse(message) && this.#rewrites.size > 0) {
      const key = idKey((message as { id: RequestId }).id);
      const entry = this.#rewrites.get(key);
      this.#rewrites.delete(key);
      if (entry) message = entry.rewrite(message);
    }
    // Stateless requests (no session) have no GET stream to wait for.
    const forTheStream = relatedRequestId === undefined && !isResponse(message) && this.#transport.sessionId !== undefined;
    if (forTheStream && this.#streams === 0) {
      this.#waiting.push(message);
      if (this.#waiting.length > MAX_WAITING) {
        this.#waiting.shift();
        this.dropped += 1;
      }
      return;
    }
    this.#send(message, relatedRequestId);
  }

  gone(reason: string): void {
    this.#waiting = [];
    this.abandonAll();
    this.#onGone(reason);
  }

  /**
   * A GET request of this session is being answered on `res`: once its stream is open (the SDK
   * has written its head, so it holds the stream), what waited goes out on it.
   */
  watchStream(res: ServerResponse): void {
    const writeHead = res.writeHead;
    res.writeHead = ((...args: Parameters<ServerResponse['writeHead']>) => {
      const result = writeHead.apply(res, args);
      // A second GET stream is refused (409) and does not count.
      if (args[0] === 200) {
        this.#streams += 1;
        res.once('close', () => (this.#streams -= 1));
        const waiting = this.#waiting;
        this.#waiting = [];
        for (const message of waiting) this.#send(message, undefined);
      }
      return result;
    }) as ServerResponse['writeHead'];
  }

  #send(message: JSONRPCMessage, relatedRequestId: RequestId | undefined): void {
    // A stream the client has left cannot take it: nothing else to do.
    this.#transport.send(message, relatedRequestId === undefined ? undefined : { relatedRequestId }).catch(() => {});
  }
}
