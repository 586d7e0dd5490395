// /mcp in front of stdio servers (MCP_SERVER_TRANSPORT=stdio): Streamable HTTP through the MCP
// SDK's own server transport, one per session, each attached to a server process (channel.ts)
// chosen by the pool (pool.ts).
// - A POST without Mcp-Session-Id that initializes starts a session: its id is bound to the
//   caller in the store before the client hears of it (as the MCP server's are over HTTP).
// - A POST without Mcp-Session-Id that does not initialize is a stateless request (2026-07-28):
//   it is answered by the caller's own process, initialized by the proxy.
// - A session lives on the instance whose process serves it: another instance answers 404 and
//   the client starts a new session (docs/stdio-servers.md).
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestHandler, Response } from 'express';
import type { Logger } from 'pino';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { SUPPORTED_PROTOCOL_VERSIONS, type JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import type { Config } from '../../config/types.js';
import type { ReleasableStreams } from '../../http/drain.js';
import { Problem, problems, sendProblem } from '../../http/problems.js';
import { readBody } from '../../http/read-body.js';
import { throttledLogger } from '../../logging.js';
import { callerOf, type McpCaller } from '../caller.js';
import { sendChallenge } from '../challenge.js';
import type { UpstreamTokenRefresher } from '../forwarder.js';
import { SESSION_HEADER, type McpSessionBindings } from '../session-binding.js';
import type { Attachment } from './channel.js';
import { TransportLink } from './link.js';
import { ALLOW_ALL, PolicyGate, subjectOf } from '../policy-gate.js';
import { idKey } from '../jsonrpc-ids.js';
import { sessionTag, type ToolCallAudit } from '../../telemetry/tool-audit.js';
import type { StdioServerPool } from './pool.js';

/** Retry-After of a 503 while the identity provider cannot refresh. */
const REFRESH_RETRY_AFTER_SECONDS = 30;

export interface StdioEndpointOptions {
  config: Config;
  pool: StdioServerPool;
  sessions: McpSessionBindings;
  refresher: UpstreamTokenRefresher;
  logger: Logger;
  /** Told about open GET streams, which a graceful shutdown ends at once. */
  streams?: ReleasableStreams | undefined;
  /** The audit of tool calls, when MCP_AUTH_PROXY_AUDIT_TOOL_CALLS is on. */
  toolAudit?: ToolCallAudit | undefined;
}

interface LiveSession {
  transport: StreamableHTTPServerTransport;
  attachment: Attachment;
  link: TransportLink;
}

export class StdioEndpoint {
  readonly #options: StdioEndpointOptions;
  readonly #live = new Map<string, LiveSession>();
  readonly #log: Logger;
  readonly #warnEvery: ReturnType<typeof throttledLogger>;
  readonly #gate: PolicyGate | undefined;
  #sessionsSeen = 0;

  constructor(options: StdioEndpointOptions) {
    this.#options = options;
    // The audit reads what the policy reads; without a policy it lets everything through.
    const policy = options.config.mcp.policy ?? (options.toolAudit ? ALLOW_ALL : undefined);
    this.#gate = policy ? new PolicyGate(policy) : undefined;
    this.#log = options.logger;
    this.#warnEvery = throttledLogger(options.logger);
  }

  handler(): RequestHandler {
    return (req, res) => {
      this.#handle(req, res).catch((err: unknown) => {
        if (err instanceof Problem) return sendProblem(res, err);
        this.#log.error({ err }, 'stdio MCP request failed');
        sendProblem(res, problems.serverError());
      });
    };
  }

  async #handle(req: IncomingMessage, res: Response): Promise<void> {
    dropUnknownProtocolVersion(req);
    const sessionId = req.headers[SESSION_HEADER];
    if (typeof sessionId === 'string') {
      // The owner was checked before (sessionOwnerCheck); a session of another instance is unknown here.
      const live = this.#live.get(sessionId);
      if (!live) return sendProblem(res, problems.sessionNotFound());
      return this.#serve(live, req, res);
    }
    if (req.method !== 'POST') {
      res.setHeader('Allow', 'POST');
      return sendProblem(res, problems.methodNotAllowed(req.method ?? 'GET'));
    }
    const body = await readJson(req, this.#options.config.mcp.maxBodyBytes);
    if (body instanceof Problem) return sendProblem(res, body);
    const caller = await this.#freshCaller(res);
    if (!caller) return;
    if (isInitialize(body)) return this.#startSession(caller, req, res, body);
    return this.#stateless(caller, req, res, body);
  }

  async #startSession(caller: McpCaller, req: IncomingMessage, res: Response, body: unknown): Promise<void> {
    const { pool, sessions } = this.#options;
    // Bound before anything runs: a session the store cannot record is never handed out.
    const sessionId = randomUUID();
    try {
      await sessions.bind(sessionId, { accountId: caller.accountId, clientId: caller.clientId });
    } catch (err) {
      this.#warnEvery.warn({ message: (err as Error).message }, 'MCP session could not be recorded');
      return sendProblem(res, problems.unavailable('The session could not be recorded; retry shortly', 5));
    }
    let channel;
    try {
      channel = pool.forSession(caller);
    } catch (err) {
      void sessions.unbind(sessionId).catch(() => {});
      throw err;
    }
    const transport = this.#transport(sessionId);
    const link = this.#link(transport, sessionId);
    const attachment = channel.attach(link);
    transport.onmessage = this.#receiver(attachment, link, caller, sessionId);
    const live = { transport, attachment, link };
    this.#live.set(sessionId, live);
    await this.#serve(live, req, res, body);
    // The SDK refused the initialize (e.g. a bad Accept header): no session, no process.
    if (transport.sessionId === undefined) {
      this.#forget(sessionId, true);
      void transport.close();
    }
  }

  async #stateless(caller: McpCaller, req: IncomingMessage, res: Response, body: unknown): Promise<void> {
    let channel;
    try {
      channel = await this.#options.pool.forStateless(caller);
    } catch (err) {
      if (err instanceof Problem) throw err;
      throw problems.stdioStartFailed((err as Error).message);
    }
    const transport = this.#transport(undefined);
    const link = this.#link(transport, undefined);
    const attachment = channel.attach(link);
    transport.onmessage = this.#receiver(attachment, link, caller, undefined);
    res.once('close', () => {
      attachment.detach();
      link.abandonAll();
      void transport.close();
    });
    await this.#serve({ transport, attachment, link }, req, res, body);
  }

  async #serve({ transport, attachment, link }: LiveSession, req: IncomingMessage, res: Response, body?: unknown): Promise<void> {
    // An open GET stream means a client is there: the process is not idle.
    if (req.method === 'GET') {
      attachment.hold();
      res.once('close', () => attachment.release());
      link.watchStream(res);
      this.#options.streams?.releasable(res, () => transport.closeStandaloneSSEStream());
    }
    await transport.handleRequest(req, res as ServerResponse, body);
  }

  #transport(sessionId: string | undefined): StreamableHTTPServerTransport {
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: sessionId === undefined ? undefined : () => sessionId,
      maxRequestBodySize: this.#options.config.mcp.maxBodyBytes,
      // The session ended (DELETE): its process hears of it, the binding goes.
      onsessionclosed: (id) => this.#forget(id, true),
    });
    if (sessionId !== undefined) transport.onclose = () => this.#forget(sessionId, false);
    return transport;
  }

  /**
   * What the client sends, on its way to the process: with MCP_AUTH_PROXY_POLICY, a denied request
   * is answered here and never reaches the server, and list results are filtered on their way back.
   */
  #receiver(attachment: Attachment, link: TransportLink, caller: McpCaller, sessionId: string | undefined): (message: JSONRPCMessage) => void {
    const gate = this.#gate;
    if (!gate) return (message) => attachment.receive(message);
    const subject = subjectOf(caller);
    const audit = this.#options.toolAudit;
    const who = { accountId: caller.accountId, clientId: caller.clientId, sessionId: sessionTag(sessionId) };
    // Calls of this session are told apart from other sessions' with the same ids.
    const prefix = `${this.#sessionsSeen++}:`;
    return (message) => {
      const checked = gate.check([message], subject);
      for (const denial of checked.denials) link.deliver(denial as JSONRPCMessage);
      for (const [key, kind] of checked.lists) link.rewriteAnswer(key, (answer) => gate.filter(answer, kind, subject) as JSONRPCMessage);
      if (audit) {
        for (const call of checked.deniedCalls) audit.denied(who, call.tool, call.arguments);
        for (const call of checked.calls) {
          const key = idKey(call.id);
          audit.started(prefix + key, who, call.tool, call.arguments);
          link.rewriteAnswer(key, (answer) => (audit.answered(prefix + key, answer), answer), () => audit.unanswered(prefix + key));
        }
        const cancelled = cancelledRequest(message);
        if (cancelled !== undefined) {
          audit.unanswered(prefix + idKey(cancelled), 'cancelled');
          link.abandonAnswer(idKey(cancelled));
        }
      }
      for (const allowed of checked.allowed) attachment.receive(allowed as JSONRPCMessage);
    };
  }

  #link(transport: StreamableHTTPServerTransport, sessionId: string | undefined): TransportLink {
    return new TransportLink(transport, (reason) => {
      this.#log.info({ reason }, 'MCP session ended with its server process');
      if (sessionId !== undefined) this.#forget(sessionId, true);
      // After the errors just written have gone out.
      setImmediate(() => void transport.close());
    });
  }

  #forget(sessionId: string, unbind: boolean): void {
    const live = this.#live.get(sessionId);
    this.#live.delete(sessionId);
    live?.attachment.detach();
    live?.link.abandonAll();
    if (unbind) void this.#options.sessions.unbind(sessionId).catch(() => {});
  }

  /** The caller, with upstream tokens fresh enough to give a new process; undefined once answered. */
  async #freshCaller(res: Response): Promise<McpCaller | undefined> {
    const { config, refresher } = this.#options;
    const caller = callerOf(res);
    const { upstream } = caller;
    const skewMs = config.mcp.upstreamRefreshSkewSeconds * 1000;
    const giveToken = config.mcp.stdio?.tokenEnv !== undefined;
    const nearExpiry = upstream.expiresAt !== undefined && upstream.expiresAt * 1000 - skewMs <= Date.now();
    if (!giveToken || !nearExpiry || !upstream.refreshToken) return caller;
    let fresh;
    try {
      fresh = await refresher.refresh(caller.grantId, upstream);
    } catch (err) {
      this.#warnEvery.warn({ message: (err as Error).message }, 'upstream refresh failed');
      sendProblem(res, problems.unavailable('The identity provider could not refresh the session', REFRESH_RETRY_AFTER_SECONDS));
      return undefined;
    }
    if (!fresh) {
      sendChallenge(res, config, 'invalid_token', 'The session with the identity provider ended; sign in again');
      return undefined;
    }
    return { ...caller, upstream: fresh };
  }
}

/** The request a `notifications/cancelled` cancels. */
function cancelledRequest(message: JSONRPCMessage): string | number | undefined {
  if (!('method' in message) || message.method !== 'notifications/cancelled') return undefined;
  const id = (message.params as { requestId?: unknown } | undefined)?.requestId;
  return typeof id === 'string' || typeof id === 'number' ? id : undefined;
}

function isInitialize(body: unknown): boolean {
  const messages = Array.isArray(body) ? body : [body];
  return messages.some((m) => typeof m === 'object' && m !== null && (m as { method?: unknown }).method === 'initialize');
}

/**
 * The SDK's transport refuses an MCP-Protocol-Version it does not know (400), but the version is
 * the stdio server's to negotiate, in initialize: a newer one (2026-07-28) is not passed to it.
 */
function dropUnknownProtocolVersion(req: IncomingMessage): void {
  const version = req.headers['mcp-protocol-version'];
  if (typeof version !== 'string' || SUPPORTED_PROTOCOL_VERSIONS.includes(version)) return;
  delete req.headers['mcp-protocol-version'];
  const raw = req.rawHeaders;
  const kept: string[] = [];
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.toLowerCase() !== 'mcp-protocol-version') kept.push(raw[i]!, raw[i + 1]!);
  req.rawHeaders.splice(0, raw.length, ...kept);
}

/** The request body as JSON, at most `maxBytes`; a Problem in the transport's own shape otherwise. */
async function readJson(req: IncomingMessage, maxBytes: number): Promise<unknown> {
  const body = await readBody(req, maxBytes);
  if (body instanceof Problem) return body;
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    return new Problem(400, 'invalid_request', 'Parse error: Invalid JSON', { jsonRpcCode: -32700 });
  }
}
