// Proxies /mcp to the MCP server with the caller's upstream access token. express-http-proxy
// builds the request; our sendProxyRequest streams it both ways (it would otherwise buffer
// responses as soon as a 401 must be intercepted), flushes response headers at once (SSE),
// and, when the MCP server answers 401, refreshes the upstream token and retries once.
import http, { type IncomingHttpHeaders, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import https from 'node:https';
import type { Request, RequestHandler, Response } from 'express';
import proxy from 'express-http-proxy';
import type { Logger } from 'pino';
import type { Config } from '../config/types.js';
import type { UpstreamRefresher } from '../identity/refresh.js';
import type { UpstreamTokens } from '../identity/vault.js';
import { callerOf, type McpCaller } from './caller.js';
import { noteSessionAnswer, SESSION_HEADER, type McpSessionBindings } from './session-binding.js';
import { throttledLogger } from '../logging.js';
import { sendChallenge } from './challenge.js';
import type { ReleasableStreams } from '../http/drain.js';
import { Problem, problems, sendProblem } from '../http/problems.js';

/** Retry-After of a 503 while the identity provider cannot refresh (the grant is kept). */
const REFRESH_RETRY_AFTER_SECONDS = 30;
/** Retry-After of a 503 while storage refuses to record a session. */
const STORE_RETRY_AFTER_SECONDS = 5;

const headerValue = (value: string | string[] | undefined): string | undefined => (typeof value === 'string' ? value : undefined);

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
// Never forwarded from the client: its credentials, and identity headers only we may set.
const CLIENT_ONLY = ['authorization', 'cookie', 'x-authorization-scope', 'x-dynamic-client-id'];

/** What the MCP server is told besides the upstream token. */
export interface ForwardedIdentity {
  identity: Config['mcp']['identityHeaders'];
  scope: Config['mcp']['scopeHeader'];
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

/** Headers listed in Connection are hop-by-hop too. */
function connectionTokens(headers: IncomingHttpHeaders): Set<string> {
  const value = headers.connection;
  return new Set((value ?? '').split(',').map((t) => t.trim().toLowerCase()).filter(Boolean));
}

export function upstreamRequestHeaders(
  incoming: IncomingHttpHeaders,
  caller: McpCaller,
  upstream: UpstreamTokens,
  { identity, scope, publicOrigin }: ForwardedIdentity,
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
  headers.authorization = `Bearer ${upstream.accessToken}`;
  // As Heroku's proxy sends them.
  const scopeValue = scopeHeader(scope, caller, upstream);
  if (scopeValue !== undefined) headers['x-authorization-scope'] = scopeValue;
  headers['x-dynamic-client-id'] = caller.clientId;
  if (identity.send) {
    headers[identity.userId] = caller.accountId;
    headers[identity.clientId] = caller.clientId;
    if (caller.email) headers[identity.userEmail] = caller.email;
  }
  headers.connection = 'keep-alive';
  return headers;
}

/**
 * What the MCP server says about browsers is not passed on: the proxy alone decides the CORS of
 * /mcp (origin.ts, already set on the response), and the server's software is nobody's business.
 */
const isProxyOwned = (name: string): boolean => name.startsWith('access-control-') || name === 'x-powered-by';

function copyResponseHead(from: IncomingMessage, to: Response): void {
  const listed = connectionTokens(from.headers);
  to.statusCode = from.statusCode ?? 502;
  for (const [name, value] of Object.entries(from.headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || listed.has(name) || isProxyOwned(name)) continue;
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


export interface McpProxyOptions {
  config: Config;
  refresher: UpstreamRefresher;
  logger: Logger;
  /** Told about MCP GET event streams, which a graceful shutdown ends at once (clients reopen them). */
  streams?: ReleasableStreams;
  /** Who started each MCP session. */
  sessions: McpSessionBindings;
}

/** The MCP standalone GET stream: server-to-client events only, no request in flight. */
function isStandaloneEventStream(req: Request, upstreamRes: IncomingMessage): boolean {
  const endpoint = req.url === '/' || req.url.startsWith('/?');
  return req.method === 'GET' && endpoint && String(upstreamRes.headers['content-type']).startsWith('text/event-stream');
}

export function mcpProxy({ config, refresher, logger, streams, sessions }: McpProxyOptions): RequestHandler {
  const target = config.mcp.serverUrl;
  const isHttps = target.protocol === 'https:';
  // Our own keep-alive agent: express-http-proxy asks for `connection: close` yet pools sockets.
  const agent = isHttps ? new https.Agent({ keepAlive: true }) : new http.Agent({ keepAlive: true });
  const targetPath = target.pathname.replace(/\/+$/, '');
  const maxBody = config.mcp.maxBodyBytes;
  const forwarded: ForwardedIdentity = { identity: config.mcp.identityHeaders, scope: config.mcp.scopeHeader, publicOrigin: new URL(config.baseUrl) };
  const skewMs = config.mcp.upstreamRefreshSkewSeconds * 1000;
  // An outage fails every request alike: one line per kind and interval, not one per request.
  const warnEvery = throttledLogger(logger);

  const options: proxy.ProxyOptions & { sendProxyRequest(container: ProxyContainer): Promise<ProxyContainer> } = {
    parseReqBody: false,
    memoizeHost: true,
    // req.url is relative to the mount: "/" is the endpoint itself, "/x" a sub-path.
    proxyReqPathResolver: (req) => (req.url === '/' || req.url.startsWith('/?') ? targetPath + req.url.slice(1) : targetPath + req.url),
    // The headers are built once, in sendProxyRequest, from the caller and its upstream tokens.
    proxyReqOptDecorator: (options) => ({ ...options, agent }),
    // Not in the type definitions, but part of express-http-proxy 2.x's options.
    sendProxyRequest(container) {
      return new Promise<ProxyContainer>((resolve, reject) => {
        const { req, res } = container.user;
        const options = container.proxy.reqBuilder;
        const caller = callerOf(res);
        const chunks: Buffer[] = [];
        let received = 0;
        let bodyDone = false;
        // The one upstream request whose outcome counts; one we stopped on purpose (for a retry,
        // or an oversized body) is dropped from here first, so its errors are not the MCP server's.
        let current: http.ClientRequest | undefined;
        let retried = false;
        const abandonCurrent = () => {
          const stopped = current;
          current = undefined;
          stopped?.destroy();
        };

        const done = () => resolve(container);
        // Mid-stream there is no status left to send: sendProblem cuts the response instead.
        const fail = (problem: Problem) => {
          sendProblem(res, problem);
          done();
        };

        const send = (upstream: UpstreamTokens, replay: boolean) => {
          const headers = upstreamRequestHeaders(req.headers, caller, upstream, forwarded, req.ip);
          const upstreamReq = (isHttps ? https : http).request({ ...options, headers }, (upstreamRes) => {
            if (upstreamRes.statusCode === 401 && !retried) {
              retried = true;
              upstreamRes.resume();
              void refreshAndSend(upstream);
              return;
            }
            if (upstreamRes.statusCode === 401) {
              // Still refused with fresh tokens: this grant cannot reach the MCP server.
              upstreamRes.resume();
              sendChallenge(res, config, 'invalid_token', 'The MCP server refused the upstream credentials');
              return done();
            }
            // A new session is bound to the caller (an ended one unbound) before the client hears of it.
            const request = { method: req.method, sessionId: headerValue(req.headers[SESSION_HEADER]) };
            const answer = { statusCode: upstreamRes.statusCode, sessionId: upstreamRes.headers[SESSION_HEADER] };
            noteSessionAnswer(sessions, request, answer, caller).then(
              () => deliver(upstreamRes),
              (err: Error) => {
                upstreamRes.destroy();
                if (upstreamReq !== current) return;
                warnEvery.warn({ message: err.message }, 'MCP session could not be recorded');
                fail(problems.unavailable('The session could not be recorded; retry shortly', STORE_RETRY_AFTER_SECONDS));
              },
            );
          });
          const deliver = (upstreamRes: IncomingMessage) => {
            if (res.destroyed) return reject(CLIENT_GONE);
            container.proxy.res = upstreamRes;
            copyResponseHead(upstreamRes, res);
            upstreamRes.pipe(res);
            upstreamRes.on('error', () => res.destroy());
            if (streams && isStandaloneEventStream(req, upstreamRes)) {
              // End it cleanly (not cut): the client reconnects, to another instance.
              streams.releasable(res, () => {
                upstreamRes.unpipe(res);
                abandonCurrent();
                res.end();
              });
            }
            // Body bytes that came with the head have been written with it by now (one write); an
            // SSE stream whose first event is not there yet gets its headers on the next turn.
            // express-http-proxy's remaining steps must find the headers sent (or they would pipe
            // the response a second time).
            setImmediate(() => {
              if (res.destroyed) return reject(CLIENT_GONE);
              if (!res.headersSent) res.flushHeaders();
              done();
            });
          };
          current = upstreamReq;
          upstreamReq.on('error', (err: NodeJS.ErrnoException) => {
            if (upstreamReq !== current) return;
            if (res.destroyed) return reject(CLIENT_GONE);
            warnEvery.warn({ code: err.code, message: err.message }, 'MCP server request failed');
            const timeout = err.code === 'ETIMEDOUT' || err.code === 'ESOCKETTIMEDOUT';
            fail(timeout ? problems.mcpServerTimeout() : problems.mcpServerUnavailable());
          });
          if (replay) upstreamReq.end(Buffer.concat(chunks, received));
          else if (bodyDone) upstreamReq.end();
        };

        /** Refreshes the upstream tokens (once across instances), then sends the buffered body. */
        const refreshAndSend = async (stale: UpstreamTokens) => {
          abandonCurrent();
          let fresh: UpstreamTokens | undefined;
          try {
            fresh = await refresher.refresh(caller.grantId, stale);
          } catch (err) {
            warnEvery.warn({ message: (err as Error).message }, 'upstream refresh failed');
            // An outage (the grant is kept): the client may retry, and is told when.
            return fail(problems.unavailable('The identity provider could not refresh the session', REFRESH_RETRY_AFTER_SECONDS));
          }
          if (!fresh) {
            sendChallenge(res, config, 'invalid_token', 'The session with the identity provider ended; sign in again');
            return done();
          }
          if (!bodyDone) await new Promise((r) => req.once('end', r));
          send(fresh, true);
        };

        // Stream the request body as it arrives, keeping a copy for a retry after a 401.
        req.on('data', (chunk: Buffer) => {
          received += chunk.length;
          if (received > maxBody) {
            req.removeAllListeners('data');
            abandonCurrent();
            req.resume();
            return fail(problems.bodyTooLarge(maxBody));
          }
          chunks.push(chunk);
          if (!retried && current && !current.destroyed) current.write(chunk);
        });
        req.on('end', () => {
          bodyDone = true;
          if (!retried && current && !current.destroyed) current.end();
        });
        // The client went away: stop the upstream request (and any stream it holds open).
        res.on('close', () => {
          if (!res.writableFinished) current?.destroy();
        });

        // Refresh before the MCP server would see an expiring token, rather than after its 401.
        const { upstream } = caller;
        const nearExpiry = upstream.expiresAt !== undefined && upstream.expiresAt * 1000 - skewMs <= Date.now();
        if (nearExpiry && upstream.refreshToken) void refreshAndSend(upstream);
        else send(upstream, false);
      });
    },
    proxyErrorHandler(err, res: Response) {
      if (err === CLIENT_GONE || res.destroyed) return;
      logger.warn({ message: (err as Error)?.message }, 'MCP proxy error');
      sendProblem(res, problems.mcpServerUnavailable());
    },
  };
  return proxy(target.origin, options);
}

/** The client went away before the MCP server answered: nothing to send, nothing to log. */
const CLIENT_GONE = new Error('client closed the connection');

/** The part of express-http-proxy's internal container that sendProxyRequest uses. */
interface ProxyContainer {
  user: { req: Request; res: Response };
  proxy: { reqBuilder: http.RequestOptions; res?: IncomingMessage };
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
