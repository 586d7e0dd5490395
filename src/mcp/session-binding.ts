// MCP sessions belong to whoever started them (MCP security best practices, "session hijacking"):
// the Mcp-Session-Id the MCP server hands out at initialize is bound to that user and client, in
// the store (every instance sees it), and a request carrying it for anyone else is answered as
// for an unknown session, so that a session id learnt elsewhere is worth nothing.
import type { RequestHandler } from 'express';
import type { KeyValueStore } from '../storage/store.js';
import { callerOf, type McpCaller } from './caller.js';
import { keys } from '../storage/keys.js';
import { problems, sendProblem } from '../http/problems.js';

export const SESSION_HEADER = 'mcp-session-id';

/** Who a session belongs to: the person (upstream account) through one client. */
export interface SessionOwner {
  accountId: string;
  clientId: string;
}

// The MCP specification: visible ASCII. Anything else cannot be a session the server issued.
const SESSION_ID = /^[\x21-\x7e]{1,1024}$/;


const ownerOf = (caller: McpCaller): SessionOwner => ({ accountId: caller.accountId, clientId: caller.clientId });
const sameOwner = (a: SessionOwner, b: SessionOwner): boolean => a.accountId === b.accountId && a.clientId === b.clientId;

export class McpSessionBindings {
  // Bindings never change once made (only end): an in-process copy saves a store read per request.
  readonly #cache = new Map<string, SessionOwner>();

  constructor(
    private readonly store: KeyValueStore,
    private readonly ttlSeconds: number,
    private readonly maxCached = 10_000,
  ) {}

  async bind(sessionId: string, owner: SessionOwner): Promise<void> {
    await this.store.set(keys.mcpSession(sessionId), JSON.stringify(owner), this.ttlSeconds);
    this.#remember(sessionId, owner);
  }

  async owner(sessionId: string): Promise<SessionOwner | undefined> {
    const cached = this.#cache.get(sessionId);
    if (cached) return cached;
    const raw = await this.store.get(keys.mcpSession(sessionId));
    if (raw === undefined) return undefined;
    const owner = JSON.parse(raw) as SessionOwner;
    this.#remember(sessionId, owner);
    return owner;
  }

  async unbind(sessionId: string): Promise<void> {
    this.#cache.delete(sessionId);
    await this.store.del(keys.mcpSession(sessionId));
  }

  #remember(sessionId: string, owner: SessionOwner): void {
    this.#cache.delete(sessionId);
    this.#cache.set(sessionId, owner);
    // Oldest first out: a Map iterates in insertion order.
    if (this.#cache.size > this.maxCached) this.#cache.delete(this.#cache.keys().next().value!);
  }
}

/** Refuses a request whose Mcp-Session-Id is not one this caller started (after bearerAuth). */
export function sessionOwnerCheck(bindings: McpSessionBindings): RequestHandler {
  return async (req, res, next) => {
    const sessionId = req.headers[SESSION_HEADER];
    if (sessionId === undefined) return next();
    try {
      const owner = typeof sessionId === 'string' && SESSION_ID.test(sessionId) ? await bindings.owner(sessionId) : undefined;
      if (!owner || !sameOwner(owner, ownerOf(callerOf(res)))) return sendProblem(res, problems.sessionNotFound());
      next();
    } catch (err) {
      next(err);
    }
  };
}

/**
 * What the proxy does with the MCP server's answer, before the client sees it: a new session id
 * is bound to the caller first (if that fails, the client must not get a session it cannot use);
 * a session the client ended (DELETE) is unbound.
 */
export async function noteSessionAnswer(
  bindings: McpSessionBindings,
  request: { method: string | undefined; sessionId: string | undefined },
  answer: { statusCode: number | undefined; sessionId: string | string[] | undefined },
  caller: McpCaller,
): Promise<void> {
  const issued = answer.sessionId;
  if (typeof issued === 'string' && issued !== request.sessionId && SESSION_ID.test(issued)) {
    await bindings.bind(issued, ownerOf(caller));
  }
  const status = answer.statusCode ?? 0;
  if (request.method === 'DELETE' && request.sessionId && ((status >= 200 && status < 300) || status === 404)) {
    await bindings.unbind(request.sessionId);
  }
}
