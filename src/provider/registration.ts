// Dynamic Client Registration as real MCP clients send it. oidc-provider defaults
// application_type to `web`, which refuses loopback-on-any-port and custom-scheme redirects
// (cursor://, vscode://); such clients are native apps (RFC 8252), so infer that. Plain http to
// a non-loopback host is refused, and unknown scopes are dropped rather than failing the
// registration.
import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { isLoopbackHost } from '../http/loopback.js';
import { Problem, sendProblem } from '../http/problems.js';

/** The largest registration body taken (a stored registration is bounded by the adapter too). */
export const REGISTRATION_MAX_BYTES = 8 * 1024;

export interface RegistrationProblem {
  error: 'invalid_redirect_uri' | 'invalid_client_metadata';
  error_description: string;
}
export type NormalizedRegistration = { ok: true; metadata: Record<string, unknown> } | { ok: false; problem: RegistrationProblem };

const refuse = (error: RegistrationProblem['error'], error_description: string): NormalizedRegistration => ({
  ok: false,
  problem: { error, error_description },
});

/** The metadata to register, or the problem to report. */
export function normalizeRegistration(body: unknown, supportedScopes: readonly string[]): NormalizedRegistration {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return refuse('invalid_client_metadata', 'the registration must be a JSON object');
  }
  const metadata = { ...(body as Record<string, unknown>) };
  const uris = metadata.redirect_uris;
  if (Array.isArray(uris) && uris.every((u) => typeof u === 'string')) {
    const parsed = uris.map((u) => URL.parse(u));
    const bad = parsed.findIndex((u) => u === null);
    if (bad !== -1) return refuse('invalid_redirect_uri', `redirect_uris[${bad}] is not a valid URI`);
    for (const url of parsed as URL[]) {
      if (url.protocol === 'http:' && !isLoopbackHost(url.hostname)) {
        return refuse('invalid_redirect_uri', `plain http redirect URIs must use a loopback host: ${url.href}`);
      }
    }
    // Loopback http and custom schemes are native-app redirects (RFC 8252). https stays as the
    // client says: oidc-provider refuses https loopback URIs for native clients.
    const nativeOnly = (parsed as URL[]).some((u) => u.protocol === 'http:' || !u.protocol.startsWith('http'));
    if (nativeOnly) metadata.application_type = 'native';
  }
  if (typeof metadata.scope === 'string') {
    const kept = metadata.scope.split(' ').filter((s) => s && supportedScopes.includes(s));
    if (kept.length) metadata.scope = kept.join(' ');
    else delete metadata.scope;
  }
  return { ok: true, metadata };
}

/**
 * CORS for the registration endpoint, which oidc-provider serves without: browser clients (MCP
 * Inspector) register from their own origin. No credentials are involved, so any origin may.
 */
export const registrationCors: RequestHandler = (req, res, next) => {
  const origin = req.headers.origin;
  if (origin === undefined) return next();
  res.set('Access-Control-Allow-Origin', origin).set('Vary', 'Origin');
  if (req.method !== 'OPTIONS') return next();
  res
    .status(204)
    .set('Access-Control-Allow-Methods', 'POST')
    .set('Access-Control-Allow-Headers', req.headers['access-control-request-headers'] ?? 'Content-Type, Authorization')
    .set('Access-Control-Max-Age', '600')
    .end();
};

/**
 * Mounted on POST of the registration endpoint only. `registrableScopes`: the scopes oidc-provider
 * accepts in client metadata (configuration.ts `registrableScopes`); others are dropped.
 */
export function registrationNormalizer(registrableScopes: readonly string[]): RequestHandler[] {
  return [
    // Registrations as MCP clients send them are under 1 kB; each is kept (MCP_AUTH_PROXY_REGISTRATION_TTL).
    express.json({ limit: REGISTRATION_MAX_BYTES, type: () => true }),
    (req: Request, res: Response, next: NextFunction) => {
      const result = normalizeRegistration(req.body, registrableScopes);
      if (!result.ok) {
        return sendProblem(res, new Problem(400, result.problem.error, result.problem.error_description));
      }
      // oidc-provider reads an already parsed body when the stream has been consumed.
      req.body = result.metadata;
      next();
    },
  ];
}
