// One stdio server process seen by the MCP sessions attached to it: one session (isolation
// `session`) or several (`user`, `shared`, and stateless requests). It routes messages by
// JSON-RPC id, which stdio gives it nothing else to go by:
// - client requests get ids of the process's own (sessions may use the same ids), and progress
//   tokens likewise; responses and progress go back to the session and request they belong to;
// - cancellation follows the rewritten id; a session that leaves cancels what it still waits for;
// - server-to-client requests (sampling, elicitation, roots) and log messages go to the session
//   with a request in flight (with several sessions, only when exactly one has: never to a
//   stranger), list changes to every session;
// - the process is initialized once: the first session's initialize reaches it (its capabilities
//   decide what the server offers), later sessions get the same answer, and stateless requests
//   (no session at all) find it initialized by the proxy.
import type { JSONRPCMessage, RequestId } from '@modelcontextprotocol/sdk/types.js';
import { ErrorCode, LATEST_PROTOCOL_VERSION } from '@modelcontextprotocol/sdk/types.js';
import type { ChildExit } from '../process-group.js';
import { describeExit } from '../process-group.js';
import { idKey, idOfKey } from '../jsonrpc-ids.js';

/** Where messages for one attached session go (its HTTP transport). */
export interface SessionLink {
  /** A message for the client; `relatedRequestId` picks the request's stream (else the GET stream). */
  deliver(message: JSONRPCMessage, relatedRequestId?: RequestId): void;
  /** The process is gone: the session ends (later requests get 404, the client starts anew). */
  gone(reason: string): void;
}

/** The process as the channel uses it (stdio/process.ts, or a stand-in in unit tests). */
export interface ChannelProcess {
  onmessage: ((message: JSONRPCMessage) => void) | undefined;
  send(message: JSONRPCMessage): void;
  readonly exited: Promise<ChildExit>;
}

type Json = Record<string, unknown>;
type Message = JSONRPCMessage & Json;

const isRequest = (m: Message): boolean => typeof m.method === 'string' && m.id !== undefined;
const isNotification = (m: Message): boolean => typeof m.method === 'string' && m.id === undefined;
const errorResponse = (id: RequestId, message: string, code: number = ErrorCode.InternalError): JSONRPCMessage => ({
  jsonrpc: '2.0',
  id,
  error: { code, message },
});
const progressTokenOf = (m: Message): string | number | undefined => {
  const meta = (m.params as Json | undefined)?._meta as Json | undefined;
  const token = meta?.progressToken;
  return typeof token === 'string' || typeof token === 'number' ? token : undefined;
};
const withProgressToken = (m: Message, token: string | number): Json => {
  const params = m.params as Json;
  return { ...params, _meta: { ...(params._meta as Json), progressToken: token } };
};

interface Pending {
  /** Undefined for the proxy's own initialize (stateless requests). */
  session: Attachment | undefined;
  id: RequestId;
  method: string;
  progressToken?: string;
}

type InitializeState =
  | { state: 'none' }
  | { state: 'pending'; waiting: { session: Attachment; id: RequestId }[] }
  | { state: 'done'; result: Json };

export class Attachment {
  /** The session's requests still waiting: its id -> the process's id. */
  readonly open = new Map<string, { id: RequestId; processId: number }>();
  /** Streams the client holds open (GET), which keep the process from being idle. */
  held = 0;
  /** Its initialize was answered from the first session's: its `initialized` is not forwarded. */
  answeredLocally = false;
  lastActive: number;

  constructor(
    readonly channel: ProcessChannel,
    readonly link: SessionLink,
    now: number,
  ) {
    this.lastActive = now;
  }

  /** A message from this session's client. */
  receive(message: JSONRPCMessage): void {
    this.channel.fromClient(this, message as Message);
  }

  /** A stream of the client's opened (GET): the process is not idle while it is open. */
  hold(): void {
    this.held += 1;
  }

  /** That stream closed: idle time counts from now. */
  release(): void {
    this.held -= 1;
    this.channel.touch(this);
  }

  /** The session ended (DELETE, closed, expired). */
  detach(): void {
    this.channel.detach(this);
  }

  /** The id of the latest request still waiting, whose stream can carry what the server sends. */
  latestOpen(): RequestId | undefined {
    let latest: RequestId | undefined;
    for (const { id } of this.open.values()) latest = id;
    return latest;
  }
}

export interface ChannelOptions {
  /** Whether several sessions may share the process (`user`, `shared`): routing is then stricter. */
  shared: boolean;
  now?: () => number;
  /** The proxy's name and version, in its own initialize. */
  clientInfo: { name: string; version: string };
  /** Every session left (the pool may stop the process). */
  onEmpty?: () => void;
}

export class ProcessChannel {
  readonly #process: ChannelProcess;
  readonly #options: ChannelOptions;
  readonly #now: () => number;
  readonly #sessions = new Set<Attachment>();
  readonly #pending = new Map<number, Pending>();
  readonly #progress = new Map<string, { session: Attachment; token: string | number; requestId: RequestId }>();
  /** Server-to-client requests: which session was asked. */
  readonly #asked = new Map<string, Attachment>();
  #nextId = 1;
  #initialize: InitializeState = { state: 'none' };
  #initialized: { resolve: () => void; reject: (err: Error) => void; promise: Promise<void> };
  #ended: string | undefined;
  lastActive: number;

  constructor(process: ChannelProcess, options: ChannelOptions) {
    this.#process = process;
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.lastActive = this.#now();
    this.#initialized = deferred();
    process.onmessage = (message) => this.#fromServer(message as Message);
    void process.exited.then((exit) => this.end(`The MCP server process ${describeExit(exit)}`));
  }

  /** Resolves once the process has answered its first initialize; rejects if it ends first. */
  get initialized(): Promise<void> {
    return this.#initialized.promise;
  }

  get sessions(): number {
    return this.#sessions.size;
  }

  /** Requests in flight or streams held open: not idle. */
  get busy(): boolean {
    if (this.#pending.size > 0) return true;
    for (const session of this.#sessions) if (session.held > 0) return true;
    return false;
  }

  attach(link: SessionLink): Attachment {
    const session = new Attachment(this, link, this.#now());
    if (this.#ended !== undefined) {
      queueMicrotask(() => link.gone(this.#ended!));
      return session;
    }
    this.#sessions.add(session);
    return session;
  }

  /** For stateless requests: initializes the process as the proxy (no capabilities to offer). */
  initializeAsProxy(): Promise<void> {
    if (this.#initialize.state === 'none') {
      const processId = this.#nextId++;
      this.#initialize = { state: 'pending', waiting: [] };
      this.#pending.set(processId, { session: undefined, id: processId, method: 'initialize' });
      this.#process.send({
        jsonrpc: '2.0',
        id: processId,
        method: 'initialize',
        params: { protocolVersion: LATEST_PROTOCOL_VERSION, capabilities: {}, clientInfo: this.#options.clientInfo },
      });
    }
    return this.initialized;
  }

  fromClient(session: Attachment, message: Message): void {
    if (!this.#sessions.has(session)) return;
    this.touch(session);
    if (isRequest(message)) return this.#clientRequest(session, message);
    if (isNotification(message)) return this.#clientNotification(session, message);
    // A response to a server-to-client request: only from the session that was asked.
    const key = idKey(message.id as RequestId);
    if (this.#asked.get(key) !== session) return;
    this.#asked.delete(key);
    this.#process.send(message);
  }

  detach(session: Attachment): void {
    if (!this.#sessions.delete(session)) return;
    // What it still waits for is cancelled: nobody will read the answers. An initialize is let
    // finish (the proxy completes it): others may be waiting for the same answer.
    for (const { processId } of session.open.values()) {
      const pending = this.#pending.get(processId);
      if (pending?.method === 'initialize') {
        pending.session = undefined;
        continue;
      }
      this.#forget(processId);
      this.#process.send({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: processId, reason: 'The client left' } });
    }
    session.open.clear();
    // What the server asked it will not be answered: the server hears so.
    for (const [key, asked] of this.#asked) {
      if (asked !== session) continue;
      this.#asked.delete(key);
      this.#process.send(errorResponse(idOfKey(key), 'The client left', ErrorCode.ConnectionClosed));
    }
    if (this.#initialize.state === 'pending') this.#initialize.waiting = this.#initialize.waiting.filter((w) => w.session !== session);
    if (this.#sessions.size === 0) this.#options.onEmpty?.();
  }

  #clientRequest(session: Attachment, message: Message): void {
    const id = message.id as RequestId;
    if (message.method === 'initialize') {
      if (this.#initialize.state === 'done') {
        session.answeredLocally = true;
        return session.link.deliver({ jsonrpc: '2.0', id, result: this.#initialize.result });
      }
      if (this.#initialize.state === 'pending') {
        session.answeredLocally = true;
        this.#initialize.waiting.push({ session, id });
        return;
      }
      this.#initialize = { state: 'pending', waiting: [] };
    }
    const processId = this.#nextId++;
    const pending: Pending = { session, id, method: String(message.method) };
    let forwarded: Json = { ...message, id: processId };
    const token = progressTokenOf(message);
    if (token !== undefined) {
      pending.progressToken = `p${processId}`;
      this.#progress.set(pending.progressToken, { session, token, requestId: id });
      forwarded = { ...forwarded, params: withProgressToken(message, pending.progressToken) };
    }
    this.#pending.set(processId, pending);
    session.open.set(idKey(id), { id, processId });
    this.#process.send(forwarded as JSONRPCMessage);
  }

  #clientNotification(session: Attachment, message: Message): void {
    if (message.method === 'notifications/initialized' && session.answeredLocally) return;
    if (message.method === 'notifications/cancelled') {
      const params = message.params as Json | undefined;
      const requestId = params?.requestId as RequestId | undefined;
      const open = requestId === undefined ? undefined : session.open.get(idKey(requestId));
      if (!open) return;
      session.open.delete(idKey(open.id));
      this.#forget(open.processId);
      return this.#process.send({ ...message, params: { ...params, requestId: open.processId } } as JSONRPCMessage);
    }
    this.#process.send(message);
  }

  #fromServer(message: Message): void {
    this.lastActive = this.#now();
    if (isRequest(message)) return this.#serverRequest(message);
    if (isNotification(message)) return this.#serverNotification(message);
    const processId = message.id;
    const pending = typeof processId === 'number' ? this.#pending.get(processId) : undefined;
    if (!pending) return;
    this.#forget(processId as number);
    if (pending.method === 'initialize') this.#initializeAnswered(message, pending);
    if (!pending.session) return;
    pending.session.open.delete(idKey(pending.id));
    pending.session.link.deliver({ ...message, id: pending.id } as JSONRPCMessage);
  }

  #initializeAnswered(message: Message, pending: Pending): void {
    const waiting = this.#initialize.state === 'pending' ? this.#initialize.waiting : [];
    if (message.result === undefined) {
      // Refused: the next initialize tries again; those waiting get the same refusal.
      this.#initialize = { state: 'none' };
      for (const w of waiting) w.session.link.deliver({ ...message, id: w.id } as JSONRPCMessage);
      return;
    }
    this.#initialize = { state: 'done', result: message.result as Json };
    for (const w of waiting) w.session.link.deliver({ jsonrpc: '2.0', id: w.id, result: message.result as Json });
    // The proxy's own initialize is completed by the proxy; a client's by the client.
    if (!pending.session) this.#process.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    this.#initialized.resolve();
  }

  #serverRequest(message: Message): void {
    const session = this.#requestTarget();
    if (!session) {
      return this.#process.send(errorResponse(message.id as RequestId, 'No client of this server can take the request now', ErrorCode.InvalidRequest));
    }
    this.#asked.set(idKey(message.id as RequestId), session);
    session.link.deliver(message, session.latestOpen());
  }

  #serverNotification(message: Message): void {
    const params = message.params as Json | undefined;
    if (message.method === 'notifications/progress') {
      const progress = this.#progress.get(String(params?.progressToken));
      if (!progress) return;
      const notification = { ...message, params: { ...params, progressToken: progress.token } } as JSONRPCMessage;
      return progress.session.link.deliver(notification, progress.requestId);
    }
    if (message.method === 'notifications/cancelled') {
      const requestId = params?.requestId as RequestId | undefined;
      const asked = requestId === undefined ? undefined : this.#asked.get(idKey(requestId));
      if (!asked) return;
      this.#asked.delete(idKey(requestId!));
      return asked.link.deliver(message, asked.latestOpen());
    }
    // What changed on the server concerns every session; anything else may be about one request.
    if (String(message.method).endsWith('/list_changed') || message.method === 'notifications/resources/updated') {
      for (const session of this.#sessions) session.link.deliver(message, session.latestOpen());
      return;
    }
    const session = this.#requestTarget();
    session?.link.deliver(message, session.latestOpen());
  }

  /**
   * Who a server-to-client request (or a log message) is for. Alone on the process: that session.
   * Shared: the one session with a request in flight, and nobody when several have.
   */
  #requestTarget(): Attachment | undefined {
    if (!this.#options.shared && this.#sessions.size <= 1) return this.#sessions.values().next().value;
    let target: Attachment | undefined;
    for (const session of this.#sessions) {
      if (session.open.size === 0) continue;
      if (target) return undefined;
      target = session;
    }
    return target;
  }

  #forget(processId: number): void {
    const pending = this.#pending.get(processId);
    if (!pending) return;
    this.#pending.delete(processId);
    if (pending.progressToken) this.#progress.delete(pending.progressToken);
  }

  touch(session: Attachment): void {
    const now = this.#now();
    session.lastActive = now;
    this.lastActive = now;
  }

  /** The process ended (or is being stopped): every waiting request gets an error, every session ends. */
  end(reason: string): void {
    if (this.#ended !== undefined) return;
    this.#ended = reason;
    for (const pending of this.#pending.values()) {
      pending.session?.link.deliver(errorResponse(pending.id, `${reason}; start a new session`, ErrorCode.ConnectionClosed));
    }
    if (this.#initialize.state === 'pending') {
      for (const w of this.#initialize.waiting) w.session.link.deliver(errorResponse(w.id, reason, ErrorCode.ConnectionClosed));
    }
    this.#pending.clear();
    this.#progress.clear();
    this.#asked.clear();
    this.#initialized.reject(new Error(reason));
    const sessions = [...this.#sessions];
    this.#sessions.clear();
    for (const session of sessions) session.link.gone(reason);
  }

  /** Why the process ended, once it has. */
  get ended(): string | undefined {
    return this.#ended;
  }
}


function deferred(): { resolve: () => void; reject: (err: Error) => void; promise: Promise<void> } {
  let resolve!: () => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
  // Nobody may be waiting when the process ends: not an unhandled rejection.
  promise.catch(() => {});
  return { resolve, reject, promise };
}
