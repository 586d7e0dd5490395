// MCP Streamable HTTP requires servers to validate Origin (DNS rebinding). Requests without an
// Origin (native clients, servers) pass; browser origins must be ours, loopback (local tools such
// as MCP Inspector) or configured. Allowed browser origins get CORS without credentials, with the
// headers MCP clients must read exposed.
import type { RequestHandler } from 'express';
import type { Config } from '../config/types.js';
import { isLoopbackHost } from '../http/loopback.js';
import { markDenied } from '../telemetry/request-metrics.js';
import { problems, sendProblem } from '../http/problems.js';
const EXPOSED = 'WWW-Authenticate, Mcp-Session-Id, Mcp-Protocol-Version';
const METHODS = 'GET, POST, DELETE, OPTIONS';

export function isAllowedOrigin(origin: string, config: Config): boolean {
  const allowed = config.mcp.allowedOrigins;
  if (allowed.includes('*') || origin === config.baseUrl || allowed.includes(origin)) return true;
  const url = URL.parse(origin);
  return url !== null && url.protocol === 'http:' && isLoopbackHost(url.hostname);
}

export function originCheck(config: Config): RequestHandler {
  return (req, res, next) => {
    const origin = req.headers.origin;
    if (origin === undefined) return next();
    if (!isAllowedOrigin(origin, config)) {
      markDenied(res, 'forbidden_origin');
      return sendProblem(res, problems.forbiddenOrigin(origin));
    }
    res.set('Access-Control-Allow-Origin', origin).set('Vary', 'Origin').set('Access-Control-Expose-Headers', EXPOSED);
    if (req.method === 'OPTIONS') {
      const requested = req.headers['access-control-request-headers'];
      res
        .status(204)
        .set('Access-Control-Allow-Methods', METHODS)
        .set('Access-Control-Allow-Headers', requested ?? 'Authorization, Content-Type, Mcp-Session-Id, Mcp-Protocol-Version, Last-Event-ID')
        .set('Access-Control-Max-Age', '600')
        .end();
      return;
    }
    next();
  };
}
