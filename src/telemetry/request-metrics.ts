// One place that measures requests: when a response ends, it counts a denial if the handler
// marked one, and for the MCP endpoint records method, status and duration. Installed only when
// metrics are exported; handlers that refuse a request just mark it (markDenied), for free.
import type { RequestHandler, Response } from 'express';
import type { DenialReason, ProxyMetrics } from './metrics.js';

/** Marks the response as a refusal, counted in the denials metric when it ends. */
export function markDenied(res: Response, reason: DenialReason): void {
  res.locals.denial = reason;
}

export function requestMetrics(metrics: ProxyMetrics, mountPath: string): RequestHandler {
  const below = `${mountPath}/`;
  return (req, res, next) => {
    const start = performance.now();
    const path = req.path;
    const mcp = path === mountPath || path.startsWith(below);
    // 'close' also fires when the client goes away mid-response (an SSE stream it closed).
    res.once('close', () => {
      const denial = res.locals.denial as DenialReason | undefined;
      if (denial !== undefined) metrics.denial(denial, mcp ? 'mcp' : 'oauth');
      if (mcp) metrics.mcpRequest(req.method, res.headersSent ? res.statusCode : 499, (performance.now() - start) / 1000);
    });
    next();
  };
}
