// /mcp: the Express side of forwarding. After the bearer check and the session check, each
// request is handed to the forwarder (forwarder.ts) as the caller they established; the cap on
// declared body sizes and the refusal of dot segments run before any of that.
import type { RequestHandler, Response } from 'express';
import type { Logger } from 'pino';
import type { Config } from '../config/types.js';
import type { ReleasableStreams } from '../http/drain.js';
import { Problem, problems, sendProblem } from '../http/problems.js';
import { readBody } from '../http/read-body.js';
import { PolicyGate, subjectOf } from './policy-gate.js';
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
}

export function mcpProxy({ config, refresher, logger, streams, sessions }: McpProxyOptions): RequestHandler {
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
  const gate = config.mcp.policy ? new PolicyGate(config.mcp.policy) : undefined;
  // req.url is relative to the mount: "/" is the endpoint itself, "/x" a sub-path.
  if (!gate) return (req, res) => forwarder.forward({ req, res, caller: callerOf(res), path: req.url, clientIp: req.ip });
  // With a policy, a POST's body is read first: what it asks for decides whether it goes on.
  return async (req, res) => {
    const caller = callerOf(res);
    const forwarded = { req, res, caller, path: req.url, clientIp: req.ip };
    if (req.method !== 'POST') return forwarder.forward(forwarded);
    const body = await readBody(req, config.mcp.maxBodyBytes);
    if (body instanceof Problem) return sendProblem(res, body);
    const plan = planFor(gate, subjectOf(caller), body, declaredTarget(req));
    if (plan.kind === 'answer') return writeJson(res, 200, plan.body);
    if (plan.kind === 'forward') return forwarder.forward({ ...forwarded, body });
    return forwarder.forward({ ...forwarded, body: plan.body, respond: plan.respond });
  };
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
