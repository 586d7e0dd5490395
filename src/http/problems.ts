// One vocabulary for what goes wrong, and one place that answers it. A Problem carries the HTTP
// status, the protocol's error code, a description that may be shown, Retry-After and a bearer
// challenge; it is answered in the shape its endpoint speaks: OAuth's JSON
// (`{ error, error_description }`, RFC 6749 §5.2, RFC 6750 §3), a JSON-RPC error (the MCP
// transport's own, for what the MCP SDK itself would answer), an HTML page for people (sign-in),
// or a Koa response for oidc-provider's side. Handlers throw or send Problems; nothing else
// chooses a status and a code by hand.
import type { ServerResponse } from 'node:http';
import type { Response } from 'express';
import { noteOAuthError } from '../logging.js';
import type { RenderView } from '../pages/render.js';

/**
 * Every error code the proxy answers with. The OAuth ones mean what their RFCs say; the others
 * name HTTP-level refusals OAuth has no code for (documented in the README and the threat model).
 */
export type ProblemCode =
  // RFC 6749, 6750, 7591, 8628 and RFC 9700's temporarily_unavailable
  | 'invalid_request'
  | 'invalid_token'
  | 'insufficient_scope'
  | 'invalid_client_metadata'
  | 'invalid_redirect_uri'
  | 'temporarily_unavailable'
  | 'server_error'
  // HTTP refusals of our own
  | 'invalid_csrf_token'
  | 'invalid_state'
  | 'not_found'
  | 'session_not_found'
  | 'payload_too_large'
  | 'too_many_requests'
  | 'forbidden_origin'
  | 'bad_gateway'
  | 'gateway_timeout';

export type BearerError = 'invalid_token' | 'invalid_request' | 'insufficient_scope';

export interface ProblemOptions {
  retryAfterSeconds?: number;
  /** An RFC 6750 challenge, sent as WWW-Authenticate. */
  challenge?: string;
  /** Answered as a JSON-RPC error with this code (no id), as the MCP SDK's server does. */
  jsonRpcCode?: number;
  /** The heading of the page, when the answer is a page for people. */
  title?: string;
  /** A line of advice under the message, on the page. */
  hint?: string;
  /** The connection closes after the answer (an unread body would be taken for the next request). */
  closeConnection?: boolean;
}

export class Problem extends Error {
  constructor(
    readonly status: number,
    readonly code: ProblemCode,
    /** Safe to show: it never carries a token, a secret or an internal detail. */
    readonly description: string,
    readonly options: ProblemOptions = {},
  ) {
    super(description);
    this.name = 'Problem';
  }
}

export const problems = {
  invalidRequest: (description: string) => new Problem(400, 'invalid_request', description),
  bodyTooSlow: (ms: number) => new Problem(408, 'invalid_request', `The request body did not arrive within ${ms / 1000} s`, { closeConnection: true }),
  bodyTooLarge: (maxBytes: number) => new Problem(413, 'payload_too_large', `Request bodies are limited to ${maxBytes} bytes`),
  tooManyRequests: (retryAfterSeconds: number) =>
    new Problem(429, 'too_many_requests', `Too many requests; retry in ${retryAfterSeconds} s`, { retryAfterSeconds }),
  /** MCP_AUTH_PROXY_MCP_MAX_CONCURRENT: the caller has that many requests (or streams) open. */
  tooManyConcurrent: (max: number, what: 'requests' | 'streams') =>
    new Problem(429, 'too_many_requests', `At most ${max} of your ${what === 'requests' ? 'MCP requests' : 'MCP event streams (GET)'} may be open at once; retry when one has ended`, {
      retryAfterSeconds: 1,
      jsonRpcCode: -32000,
    }),
  forbiddenOrigin: (origin: string) => new Problem(403, 'forbidden_origin', `Origin ${origin} is not allowed`),
  unavailable: (description: string, retryAfterSeconds?: number) =>
    new Problem(503, 'temporarily_unavailable', description, retryAfterSeconds === undefined ? {} : { retryAfterSeconds }),
  storageUnavailable: (retryAfterSeconds: number) =>
    new Problem(503, 'temporarily_unavailable', 'The service is temporarily unavailable; retry shortly', { retryAfterSeconds }),
  mcpServerUnavailable: () => new Problem(502, 'bad_gateway', 'The MCP server is unavailable'),
  /** The MCP server answered 401 to the credentials the operator configured (not the user's). */
  mcpServerRefusedCredentials: () => new Problem(502, 'bad_gateway', 'The MCP server refused the credentials this proxy is configured to send'),
  mcpServerTimeout: () => new Problem(504, 'gateway_timeout', 'The MCP server did not answer in time'),
  /** As the MCP SDK's server answers a session it does not know: ids learnt elsewhere look alike. */
  sessionNotFound: () => new Problem(404, 'session_not_found', 'Session not found', { jsonRpcCode: -32001 }),
  serverError: () => new Problem(500, 'server_error', 'An unexpected error occurred'),
  /** MCP_SERVER_STDIO_MAX_PROCESSES: every process this instance may run is in use. */
  stdioCapacity: (max: number, retryAfterSeconds: number) =>
    new Problem(503, 'temporarily_unavailable', `This server runs at most ${max} MCP server processes and all are in use; retry later`, {
      retryAfterSeconds,
      jsonRpcCode: -32000,
    }),
  /** MCP_SERVER_STDIO_MAX_PROCESSES_PER_USER. */
  stdioUserCapacity: (max: number, retryAfterSeconds: number) =>
    new Problem(429, 'too_many_requests', `You already have ${max} MCP server processes (sessions) open; end one (or wait for an idle one to stop) and retry`, {
      retryAfterSeconds,
      jsonRpcCode: -32000,
    }),
  /** A stdio server process that would not start or answer initialize in time. */
  stdioStartFailed: (description: string) => new Problem(502, 'bad_gateway', description, { jsonRpcCode: -32000 }),
  /** 2026-07-28's stateless requests have no GET stream and nothing to DELETE. */
  methodNotAllowed: (method: string) => new Problem(405, 'invalid_request', `${method} needs an Mcp-Session-Id (start a session with initialize)`, { jsonRpcCode: -32000 }),
  /** Our error page for an authorization request in another response mode than query. */
  responseModeNotQuery: () =>
    new Problem(400, 'invalid_request', 'This server answers authorization requests only with response_mode=query.', { title: 'Sign-in could not continue' }),
  pageNotFound: (path: string) =>
    new Problem(404, 'not_found', `There is no page at ${path} on this server.`, {
      title: 'Page not found',
      hint: 'To connect an MCP client, give it the server URL shown on the home page of this server.',
    }),
  /** RFC 6750 §3: the status follows the error; no error at all is a request without credentials. */
  bearer: (challenge: string, error?: BearerError, description?: string) =>
    new Problem(error ? BEARER_STATUS[error] : 401, error ?? 'invalid_token', description ?? 'Authorization required', { challenge }),
} as const;

const BEARER_STATUS: Record<BearerError, number> = { invalid_request: 400, invalid_token: 401, insufficient_scope: 403 };

/** The status, headers and JSON body of a Problem, for Express and for oidc-provider's Koa side alike. */
export function problemResponse(problem: Problem): { status: number; headers: Record<string, string>; body: unknown } {
  const { retryAfterSeconds, challenge, jsonRpcCode, closeConnection } = problem.options;
  const headers: Record<string, string> = { 'Cache-Control': 'no-store' };
  if (retryAfterSeconds !== undefined) headers['Retry-After'] = String(retryAfterSeconds);
  if (challenge !== undefined) headers['WWW-Authenticate'] = challenge;
  if (closeConnection) headers.Connection = 'close';
  const body =
    jsonRpcCode === undefined
      ? { error: problem.code, error_description: problem.description }
      : { jsonrpc: '2.0', error: { code: jsonRpcCode, message: problem.description }, id: null };
  return { status: problem.status, headers, body };
}

/**
 * Answers a Problem as JSON, on any Node response (Express's or the forwarder's plain one); once
 * the response has started, the connection is cut instead.
 */
export function writeProblem(res: ServerResponse & { locals?: Record<string, unknown> }, problem: Problem): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const { status, headers, body } = problemResponse(problem);
  noteOAuthError(res, problem.code);
  const text = JSON.stringify(body);
  res.writeHead(status, { ...headers, 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

export const sendProblem: (res: Response, problem: Problem) => void = writeProblem;

/** What the error page (views/error.ejs) shows of a Problem, for Express and Koa alike. */
export function problemPage(problem: Problem): { title: string; message: string; code: string; hint?: string } {
  const { title = 'Something went wrong', hint } = problem.options;
  return { title, message: problem.description, code: problem.code, ...(hint ? { hint } : {}) };
}

/** Answers a Problem as a page for people (the sign-in pages). */
export async function sendProblemPage(res: Response, render: RenderView, problem: Problem): Promise<void> {
  const { status, headers } = problemResponse(problem);
  noteOAuthError(res, problem.code);
  const html = await render('error', problemPage(problem));
  res.status(status).set(headers).type('html').send(html);
}
