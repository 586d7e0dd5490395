// Forwards one /mcp request to the MCP server, as the caller, with the caller's upstream access
// token: the request body streams upstream as it arrives (a copy is kept, up to the body cap, for
// one replay), the response streams back with its headers flushed at once (SSE), and when the MCP
// server answers 401 the upstream token is refreshed (once across instances) and the request
// replayed once. Plain Node requests and responses: no framework on this path.
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { Logger } from 'pino';
import type { UpstreamTokens } from '../identity/vault.js';
import type { ReleasableStreams } from '../http/drain.js';
import { problems, writeProblem, type Problem } from '../http/problems.js';
import { throttledLogger } from '../logging.js';
import type { McpCaller } from './caller.js';
import { copyResponseHead, upstreamRequestHeaders, type ForwardedIdentity } from './headers.js';
import { noteSessionAnswer, SESSION_HEADER, type McpSessionBindings } from './session-binding.js';

/** Retry-After of a 503 while the identity provider cannot refresh (the grant is kept). */
const REFRESH_RETRY_AFTER_SECONDS = 30;
/** Retry-After of a 503 while storage refuses to record a session. */
const STORE_RETRY_AFTER_SECONDS = 5;

export interface UpstreamTokenRefresher {
  /** Fresh tokens; undefined when the IdP refused (the grant ended); throws while it cannot answer. */
  refresh(grantId: string, stale: UpstreamTokens): Promise<UpstreamTokens | undefined>;
}

export interface ForwarderOptions<Res extends ServerResponse = ServerResponse> {
  /** MCP_SERVER_URL. */
  target: URL;
  maxBodyBytes: number;
  /** Refresh upstream tokens this long before they expire, rather than after the MCP server's 401. */
  refreshSkewMs: number;
  forwarded: ForwardedIdentity;
  refresher: UpstreamTokenRefresher;
  sessions: McpSessionBindings;
  /** Told about standalone GET event streams, which a graceful shutdown ends at once. */
  streams?: ReleasableStreams | undefined;
  logger: Logger;
  /** Answers the client with a bearer challenge: the upstream credentials are refused for good. */
  challenge(res: Res, description: string): void;
}

/** One request to forward: `path` is below the mount ("/" is the endpoint itself). */
export interface Forwarded<Res extends ServerResponse = ServerResponse> {
  req: IncomingMessage;
  res: Res;
  caller: McpCaller;
  path: string;
  clientIp: string | undefined;
  /** The body, already read (and perhaps rewritten) by the policy: sent instead of reading `req`. */
  body?: Buffer;
  /**
   * Writes the response from the MCP server's (head and body) instead of passing it as it is: the
   * policy's filtering. The MCP server is then asked for an uncompressed body.
   */
  respond?: (upstreamRes: IncomingMessage, res: Res) => void;
}

const headerValue = (value: string | string[] | undefined): string | undefined => (typeof value === 'string' ? value : undefined);

export class McpForwarder<Res extends ServerResponse = ServerResponse> {
  readonly #options: ForwarderOptions<Res>;
  readonly #agent: http.Agent;
  readonly #request: typeof http.request;
  readonly #targetPath: string;
  readonly #warnEvery: ReturnType<typeof throttledLogger>;

  constructor(options: ForwarderOptions<Res>) {
    this.#options = options;
    const isHttps = options.target.protocol === 'https:';
    this.#agent = isHttps ? new https.Agent({ keepAlive: true }) : new http.Agent({ keepAlive: true });
    this.#request = isHttps ? https.request : http.request;
    this.#targetPath = options.target.pathname.replace(/\/+$/, '');
    // An outage fails every request alike: one line per kind and interval, not one per request.
    this.#warnEvery = throttledLogger(options.logger);
  }

  /** Resolves once the response is complete, handed over as a stream, or answered with an error. */
  forward({ req, res, caller, path, clientIp, body, respond }: Forwarded<Res>): Promise<void> {
    const { maxBodyBytes, refreshSkewMs, forwarded, refresher, sessions, streams, challenge } = this.#options;
    const target = this.#options.target;
    const upstreamPath = path === '/' || path.startsWith('/?') ? this.#targetPath + path.slice(1) : this.#targetPath + path;
    const standalone = req.method === 'GET' && (path === '/' || path.startsWith('/?'));
    // Only the user's own upstream token is refreshed (MCP_SERVER_CREDENTIALS=user).
    const usersToken = forwarded.credentials.mode === 'user';

    return new Promise<void>((resolve) => {
      const chunks: Buffer[] = [];
      let received = 0;
      let bodyDone = false;
      let retried = false;
      let settled = false;
      // The one upstream request whose outcome counts; one stopped on purpose (for the replay, or
      // an oversized body) is dropped from here first, so its errors are not the MCP server's.
      let current: http.ClientRequest | undefined;
      const abandonCurrent = () => {
        const stopped = current;
        current = undefined;
        stopped?.destroy();
      };
      const done = () => {
        if (settled) return;
        settled = true;
        resolve();
      };
      // Mid-stream there is no status left to send: writeProblem cuts the response instead.
      const fail = (problem: Problem) => {
        writeProblem(res, problem);
        done();
      };

      const deliver = (upstreamReq: http.ClientRequest, upstreamRes: IncomingMessage) => {
        if (upstreamReq !== current) return void upstreamRes.destroy();
        if (res.destroyed) {
          upstreamRes.destroy();
          return done();
        }
        upstreamRes.on('error', () => res.destroy());
        if (respond) {
          respond(upstreamRes, res);
          return done();
        }
        copyResponseHead(upstreamRes, res);
        upstreamRes.pipe(res);
        if (streams && standalone && String(upstreamRes.headers['content-type']).startsWith('text/event-stream')) {
          // End it cleanly (not cut): the client reconnects, to another instance.
          streams.releasable(res, () => {
            upstreamRes.unpipe(res);
            abandonCurrent();
            res.end();
          });
        }
        // Body bytes that came with the head go out with it (one write); an SSE stream whose first
        // event is not there yet gets its headers on the next turn.
        setImmediate(() => {
          if (!res.headersSent && !res.destroyed) res.flushHeaders();
        });
        done();
      };

      const send = (upstream: UpstreamTokens, replay: boolean) => {
        const headers = upstreamRequestHeaders(req.headers, caller, upstream, forwarded, clientIp);
        if (body) headers['content-length'] = String(body.length);
        if (respond) headers['accept-encoding'] = 'identity';
        const upstreamReq = this.#request(
          { protocol: target.protocol, hostname: target.hostname.replace(/^\[|\]$/g, ''), port: target.port, method: req.method, path: upstreamPath, headers, agent: this.#agent },
          (upstreamRes) => {
            if (upstreamReq !== current) return void upstreamRes.destroy();
            if (upstreamRes.statusCode === 401 && !usersToken) {
              // The operator's credentials (MCP_SERVER_CREDENTIALS), not the user's: no refresh helps.
              upstreamRes.resume();
              this.#warnEvery.warn({ credentials: forwarded.credentials.mode }, 'the MCP server refused the configured credentials (MCP_SERVER_CREDENTIALS)');
              return fail(problems.mcpServerRefusedCredentials());
            }
            if (upstreamRes.statusCode === 401 && !retried) {
              retried = true;
              upstreamRes.resume();
              void refreshAndSend(upstream);
              return;
            }
            if (upstreamRes.statusCode === 401) {
              // Still refused with fresh tokens: this grant cannot reach the MCP server.
              upstreamRes.resume();
              challenge(res, 'The MCP server refused the upstream credentials');
              return done();
            }
            // A new session is bound to the caller (an ended one unbound) before the client hears of it.
            const request = { method: req.method, sessionId: headerValue(req.headers[SESSION_HEADER]) };
            const answer = { statusCode: upstreamRes.statusCode, sessionId: upstreamRes.headers[SESSION_HEADER] };
            noteSessionAnswer(sessions, request, answer, caller).then(
              () => deliver(upstreamReq, upstreamRes),
              (err: Error) => {
                upstreamRes.destroy();
                if (upstreamReq !== current) return;
                this.#warnEvery.warn({ message: err.message }, 'MCP session could not be recorded');
                fail(problems.unavailable('The session could not be recorded; retry shortly', STORE_RETRY_AFTER_SECONDS));
              },
            );
          },
        );
        current = upstreamReq;
        upstreamReq.on('error', (err: NodeJS.ErrnoException) => {
          if (upstreamReq !== current) return;
          if (res.destroyed) return done();
          this.#warnEvery.warn({ code: err.code, message: err.message }, 'MCP server request failed');
          const timeout = err.code === 'ETIMEDOUT' || err.code === 'ESOCKETTIMEDOUT';
          fail(timeout ? problems.mcpServerTimeout() : problems.mcpServerUnavailable());
        });
        if (replay || body) upstreamReq.end(Buffer.concat(chunks, received));
        else if (bodyDone) upstreamReq.end();
      };

      /** Refreshes the upstream tokens (once across instances), then sends the buffered body. */
      const refreshAndSend = async (stale: UpstreamTokens) => {
        abandonCurrent();
        let fresh: UpstreamTokens | undefined;
        try {
          fresh = await refresher.refresh(caller.grantId, stale);
        } catch (err) {
          this.#warnEvery.warn({ message: (err as Error).message }, 'upstream refresh failed');
          // An outage (the grant is kept): the client may retry, and is told when.
          return fail(problems.unavailable('The identity provider could not refresh the session', REFRESH_RETRY_AFTER_SECONDS));
        }
        if (!fresh) {
          challenge(res, 'The session with the identity provider ended; sign in again');
          return done();
        }
        // The replay needs the whole body; the client may still be sending it, or may leave.
        if (!bodyDone && !res.destroyed) await new Promise((r) => (req.once('end', r), res.once('close', r)));
        if (settled || res.destroyed) return done();
        send(fresh, true);
      };

      if (body) {
        // Read (and perhaps rewritten) before: nothing more will come.
        chunks.push(body);
        received = body.length;
        bodyDone = true;
      } else {
        // Stream the request body as it arrives, keeping a copy for a replay after a 401.
        req.on('data', (chunk: Buffer) => {
          received += chunk.length;
          if (received > maxBodyBytes) {
            req.removeAllListeners('data');
            abandonCurrent();
            req.resume();
            return fail(problems.bodyTooLarge(maxBodyBytes));
          }
          chunks.push(chunk);
          if (!retried && current && !current.destroyed) current.write(chunk);
        });
        req.on('end', () => {
          bodyDone = true;
          if (!retried && current && !current.destroyed) current.end();
        });
      }
      // The client went away: stop the upstream request (and any stream it holds open).
      res.on('close', () => {
        if (!res.writableFinished) current?.destroy();
        done();
      });

      // Refresh before the MCP server would see an expiring token, rather than after its 401.
      const { upstream } = caller;
      const nearExpiry = upstream.expiresAt !== undefined && upstream.expiresAt * 1000 - refreshSkewMs <= Date.now();
      if (usersToken && nearExpiry && upstream.refreshToken) void refreshAndSend(upstream);
      else send(upstream, false);
    });
  }

  /** Closes the pooled connections to the MCP server. */
  close(): void {
    this.#agent.destroy();
  }
}
