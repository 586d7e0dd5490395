// Who is calling /mcp, as the bearer check found it: kept on the response for the middleware
// after it (rate limit per user, session ownership, the forwarder).
import type { Response } from 'express';
import type { UpstreamTokens } from '../identity/vault.js';

export interface McpCaller {
  grantId: string;
  clientId: string;
  accountId: string;
  email: string | undefined;
  /** The groups the IdP gave at sign-in (IDENTITY_GROUPS_CLAIM), for MCP_AUTH_PROXY_POLICY. */
  groups: readonly string[];
  scope: string;
  upstream: UpstreamTokens;
}

export function setCaller(res: Response, caller: McpCaller): void {
  res.locals.mcpCaller = caller;
}

/** The caller bearerAuth let through (only after it, on /mcp). */
export function callerOf(res: Response): McpCaller {
  return res.locals.mcpCaller as McpCaller;
}
