// /mcp: the Express side of forwarding. After the bearer check and the session check, each
// request is handed to the forwarder (forwarder.ts) as the caller they established; the cap on
// declared body sizes and the refusal of dot segments run before any of that.
import type { RequestHandler, Response } from 'express';
import type { Logger } from 'pino';
import type { Config } from '../config/types.js';
import type { ReleasableStreams } from '../http/drain.js';
import { Problem, problems, sendProblem } from '../http/problems.js';
import { readBody } from '../http/read-body.js';
import { ALLOW_ALL, PolicyGate, subjectOf } from './policy-gate.js';
import { idKey, type RequestId } from './jsonrpc-ids.js';
import { SESSION_HEADER } from './session-binding.js';
import { sessionTag, type ToolCallAudit } from '../telemetry/tool-audit.js';
import { declaredTarget, planFor, writeJson } from './policy-http.js';
import type { UpstreamTokenRefresher } from './forwarder.js';
import { McpForwarder } from './forwarder.js';
import { callerOf } from './caller.js';
import { sendChallenge } from './challenge.js';
import type { McpSessionBindings } from './session-binding.js';

export interface McpProxyOptions {
  config: Config;
  refresher: UpstreamTokenRefresher;
  logger: Logger;
  /** Told about MCP GET event streams, which a graceful shutdown ends at once (clients reopen them). */
  streams?: ReleasableStreams | undefined;
  /** Who started each MCP session. */
  sessions: McpSessionBindings;
  /** The audit of tool calls, when MCP_AUTH_PROXY_AUDIT_TOOL_CALLS is on. */
  toolAudit?: ToolCallAudit | undefined;
}

export function mcpProxy({ config, refresher, logger, streams, sessions, toolAudit }: McpProxyOptions): RequestHandler {
  const target = config.mcp.serverUrl;
  if (!target) throw new Error('forwarding /mcp needs MCP_SERVER_URL (MCP_SERVER_TRANSPORT=http)');
  const forwarder = new McpForwarder<Response>({
    target,
    maxBodyBytes: config.mcp.maxBodyBytes,
    refreshSkewMs: config.mcp.upstreamRefreshSkewSeconds * 1000,
    forwarded: {
      identity: config.mcp.identityHeaders,
      scope: config.mcp.scopeHeader,
      credentials: config.mcp.credentials,
      publicOrigin: new URL(config.baseUrl),
    },
    refresher,
    sessions,
    streams,
    logger,
    challenge: (res, description) => sendChallenge(res, config, 'invalid_token', description),
  });
  // The audit reads bodies as the policy does; without a policy it lets everything through.
  const gate = config.mcp.policy ? new PolicyGate(config.mcp.policy) : toolAudit ? new PolicyGate(ALLOW_ALL) : undefined;
  // req.url is relative to the mount: "/" is the endpoint itself, "/x" a sub-path.
  if (!gate) return (req, res) => forwarder.forward({ req, res, caller: callerOf(res), path: req.url, clientIp: req.ip });
  // With a policy (or the audit), a POST's body is read first: what it asks for decides whether it goes on.
  let serial = 0;
  return async (req, res) => {
    const caller = callerOf(res);
    const forwarded = { req, res, caller, path: req.url, clientIp: req.ip };
    if (req.method !== 'POST') return forwarder.forward(forwarded);
    const body = await readBody(req, config.mcp.maxBodyBytes);
    if (body instanceof Problem) return sendProblem(res, body);
    const request = serial++;
    const keyOf = (id: RequestId) => `${request}:${idKey(id)}`;
    const observe = toolAudit ? (message: unknown) => toolAudit.answered(keyOf(answerId(message)), message) : undefined;
    const plan = planFor(gate, subjectOf(caller), body, declaredTarget(req), observe);
    if (toolAudit && plan.checked) {
      const who = { accountId: caller.accountId, clientId: caller.clientId, sessionId: sessionTag(req.headers[SESSION_HEADER]) };
      for (const call of plan.checked.deniedCalls) toolAudit.denied(who, call.tool, call.arguments);
      for (const call of plan.checked.calls) toolAudit.started(keyOf(call.id), who, call.tool, call.arguments);
      // Whatever did not get its answer (the MCP server failed, the client left) ends with the response.
      if (plan.checked.calls.length > 0) res.once('close', () => plan.checked!.calls.forEach((call) => toolAudit.unanswered(keyOf(call.id))));
    }
    if (plan.kind === 'answer') return writeJson(res, 200, plan.body);
    if (plan.kind === 'forward') return forwarder.forward({ ...forwarded, body });
    return forwarder.forward({ ...forwarded, body: plan.body, respond: plan.respond });
  };
}

/** The id of an answer (a key no call has when it has none). */
function answerId(message: unknown): RequestId {
  const id = typeof message === 'object' && message !== null ? (message as { id?: unknown }).id : undefined;
  return typeof id === 'string' || typeof id === 'number' ? id : '\0none';
}

/** Rejects bodies whose declared length is over the cap before any work is done. */
export function bodyLimit(maxBytes: number): RequestHandler {
  return (req, res, next) => {
    const length = Number(req.headers['content-length'] ?? 0);
    if (length > maxBytes) {
      return sendProblem(res, problems.bodyTooLarge(maxBytes));
    }
    next();
  };
}

/**
 * Refuses paths below the mount with dot segments (`/mcp/../admin`, also percent-encoded):
 * forwarded as they are, the MCP server (or a proxy in front of it) would resolve them to paths
 * outside the mount.
 */
export function refuseDotSegments(): RequestHandler {
  return (req, res, next) => {
    const path = req.url.split('?')[0]!;
    let segments: string[];
    try {
      segments = path.split('/').map((segment) => decodeURIComponent(segment));
    } catch {
      return sendProblem(res, problems.invalidRequest('The request path is not valid percent-encoding'));
    }
    if (segments.some((segment) => segment === '.' || segment === '..' || segment.includes('/') || segment.includes('\\'))) {
      return sendProblem(res, problems.invalidRequest('Paths with dot segments or encoded slashes are not forwarded'));
    }
    next();
  };
}
