// The headers of a forwarded request and of its response: what passes (every end-to-end header),
// what never does (the client's credentials and proxy claims, hop-by-hop headers, the MCP
// server's CORS), and what the proxy says itself (the upstream token, who is calling, from where).
import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Config, McpServerCredentials } from '../config/types.js';
import type { UpstreamTokens } from '../identity/vault.js';
import type { McpCaller } from './caller.js';

// RFC 9110 §7.6.1 hop-by-hop headers, plus what the proxy itself must own.
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
]);
/** Which IDENTITY_PROVIDERS block the user signed in with (sent only when there are several). */
export const IDENTITY_PROVIDER_HEADER = 'x-mcp-identity-provider';

// Never forwarded from the client: its credentials, and identity headers only we may set.
const CLIENT_ONLY = ['authorization', 'cookie', 'x-authorization-scope', 'x-dynamic-client-id', IDENTITY_PROVIDER_HEADER];

/** What the MCP server is told besides the upstream token. */
export interface ForwardedIdentity {
  identity: Config['mcp']['identityHeaders'];
  scope: Config['mcp']['scopeHeader'];
  /** What stands in Authorization (MCP_SERVER_CREDENTIALS), and the extra headers for every request. */
  credentials: McpServerCredentials;
  /** The public origin (BASE_URL): the host and scheme the client used, whatever it claims. */
  publicOrigin: URL;
}

/**
 * Proxy headers a client may send to pass as someone else or as coming from elsewhere: never
 * forwarded as they came. The proxy says what it knows instead (the address its router saw).
 */
const isClientClaim = (name: string): boolean => name.startsWith('x-forwarded-') || name === 'forwarded' || name === 'x-real-ip';

/** X-Authorization-Scope as configured; undefined: not sent. */
function scopeHeader({ source, identityScope }: ForwardedIdentity['scope'], caller: McpCaller, upstream: UpstreamTokens): string | undefined {
  if (source === 'none') return undefined;
  if (source === 'proxy') return caller.scope;
  // Heroku's proxy: the scope the IdP granted the upstream token, else the scope it was asked for.
  return upstream.scope || identityScope || undefined;
}

/** Authorization as MCP_SERVER_CREDENTIALS says; undefined: none is sent. */
function authorizationOf(credentials: McpServerCredentials, upstream: UpstreamTokens): string | undefined {
  if (credentials.mode === 'user') return `Bearer ${upstream.accessToken}`;
  if (credentials.mode === 'static' && credentials.bearerToken !== undefined) return `Bearer ${credentials.bearerToken}`;
  return undefined;
}

/** Headers listed in Connection are hop-by-hop too. */
function connectionTokens(headers: IncomingHttpHeaders): Set<string> {
  const value = headers.connection;
  return new Set((value ?? '').split(',').map((t) => t.trim().toLowerCase()).filter(Boolean));
}

export function upstreamRequestHeaders(
  incoming: IncomingHttpHeaders,
  caller: McpCaller,
  upstream: UpstreamTokens,
  { identity, scope, credentials, publicOrigin }: ForwardedIdentity,
  clientIp: string | undefined,
): OutgoingHttpHeaders {
  const listed = connectionTokens(incoming);
  const ours = new Set([...CLIENT_ONLY, identity.userId, identity.userEmail, identity.clientId]);
  const headers: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(incoming)) {
    if (value === undefined || HOP_BY_HOP.has(name) || ours.has(name) || listed.has(name) || isClientClaim(name)) continue;
    headers[name] = value;
  }
  if (clientIp) headers['x-forwarded-for'] = clientIp;
  headers['x-forwarded-proto'] = publicOrigin.protocol.slice(0, -1);
  headers['x-forwarded-host'] = publicOrigin.host;
  // The operator's extra headers replace any copy the client sent.
  for (const [name, value] of Object.entries(credentials.headers)) headers[name] = value;
  const authorization = authorizationOf(credentials, upstream);
  if (authorization !== undefined) headers.authorization = authorization;
  // As Heroku's proxy sends them.
  const scopeValue = scopeHeader(scope, caller, upstream);
  if (scopeValue !== undefined) headers['x-authorization-scope'] = scopeValue;
  headers['x-dynamic-client-id'] = caller.clientId;
  if (identity.send) {
    headers[identity.userId] = caller.accountId;
    headers[identity.clientId] = caller.clientId;
    if (caller.email) headers[identity.userEmail] = caller.email;
    if (upstream.provider !== undefined) headers[IDENTITY_PROVIDER_HEADER] = upstream.provider;
  }
  headers.connection = 'keep-alive';
  return headers;
}

/**
 * What the MCP server says about browsers is not passed on: the proxy alone decides the CORS of
 * /mcp (origin.ts, already set on the response), and the server's software is nobody's business.
 */
const isProxyOwned = (name: string): boolean => name.startsWith('access-control-') || name === 'x-powered-by';

/** `except`: headers left for the caller to set (a rewritten body's length and type). */
export function copyResponseHead(from: IncomingMessage, to: ServerResponse, except: readonly string[] = []): void {
  const listed = connectionTokens(from.headers);
  to.statusCode = from.statusCode ?? 502;
  for (const [name, value] of Object.entries(from.headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || listed.has(name) || isProxyOwned(name) || except.includes(name)) continue;
    // Vary: ours (Origin) and the server's both hold.
    if (name === 'vary' && to.hasHeader('vary')) {
      const tokens = [String(to.getHeader('vary')), ...[value].flat()].flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean);
      to.setHeader('vary', [...new Set(tokens)].join(', '));
      continue;
    }
    to.setHeader(name, value);
  }
  // Tell buffering intermediaries (nginx, some routers) to pass events through as they come.
  if (String(from.headers['content-type']).startsWith('text/event-stream')) to.setHeader('X-Accel-Buffering', 'no');
}
