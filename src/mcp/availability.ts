// While the MCP server child is down (crashed, restarting), /mcp answers 503 with Retry-After at
// once instead of trying a dead port; clients retry and succeed once it is back.
import type { RequestHandler } from 'express';
import type { McpServerSupervisor } from './supervisor.js';
import { problems, sendProblem } from '../http/problems.js';

export function mcpServerAvailability(supervisor: McpServerSupervisor | undefined): RequestHandler {
  return (_req, res, next) => {
    if (!supervisor || supervisor.ready) return next();
    sendProblem(res, problems.unavailable('The MCP server is restarting; retry shortly', supervisor.retryAfterSeconds));
  };
}
