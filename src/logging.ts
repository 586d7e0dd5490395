// Logs: JSON in production, pretty locally. Request logs carry the path only (never the query,
// which holds codes and states) and no headers, so no token, code or cookie reaches a line.
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { RequestHandler } from 'express';
import { pino, stdSerializers, type DestinationStream, type Logger } from 'pino';
import type { Config } from './config/types.js';
import { maskSignInIds } from './telemetry/redaction.js';

/**
 * Fields of an error that say what went wrong without carrying data. Everything else is dropped:
 * ioredis attaches the failed command with its arguments (`command`, and `previousErrors` of a
 * transaction, each with its own), openid-client the response, Node the request options, and our
 * key names hold token and code values (`AccessToken:<token>`, `upstream-state:<state>`).
 */
const ERROR_FIELDS = new Set(['type', 'message', 'stack', 'code', 'errno', 'syscall', 'status', 'statusCode', 'error', 'error_description']);
/** Fields holding further errors, redacted alike (ioredis: why each command of a transaction failed). */
const NESTED_ERRORS = ['cause', 'errors', 'aggregateErrors', 'previousErrors'];
/**
 * A stored key in a message (`ERR … 'AccessToken:abc…'`): its value part is a token, code or
 * state. Ours are base64url (node's own `node:…` stack names are shorter than 16 characters).
 */
const KEY_VALUE = /\b([A-Za-z][\w-]*:)[A-Za-z0-9_-]{16,}/g;
const MAX_DEPTH = 5;

const scrub = (text: string): string => text.replace(KEY_VALUE, '$1[redacted]');
const scrubField = (value: unknown): unknown => (typeof value === 'string' ? scrub(value) : value);

function redactError(value: unknown, depth: number): unknown {
  if (typeof value === 'string') return scrub(value);
  if (!value || typeof value !== 'object' || depth > MAX_DEPTH) return undefined;
  if (Array.isArray(value)) return value.slice(0, 10).map((inner) => redactError(inner, depth + 1));
  // An Error's message and stack are not enumerable: pino's serializer lays them out.
  const record = (value instanceof Error ? stdSerializers.err(value) : value) as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [name, field] of Object.entries(record)) {
    if (ERROR_FIELDS.has(name) && (typeof field === 'string' || typeof field === 'number')) {
      out[name] = typeof field === 'string' ? scrub(field) : field;
    } else if (NESTED_ERRORS.includes(name)) {
      const inner = redactError(field, depth + 1);
      if (inner !== undefined) out[name] = inner;
    }
  }
  return out;
}

/**
 * Errors as pino writes them, redacted by structure: only the fields that describe the failure
 * (type, message, code, stack …), at any depth of causes, and any stored key's value in them
 * masked. What a library attaches besides never reaches a log line.
 */
export function errorSerializer(err: unknown): unknown {
  if (!err || typeof err !== 'object') return typeof err === 'string' ? scrub(err) : err;
  return redactError(err, 0);
}

/** `destination` replaces stdout (tests read every line written). */
export function createLogger(config: Pick<Config, 'production' | 'logLevel'>, destination?: DestinationStream): Logger {
  const pretty = !config.production && !destination;
  const options = {
    level: config.logLevel,
    base: undefined,
    redact: { paths: ['*.authorization', '*.cookie', '*.accessToken', '*.refreshToken', '*.token'], censor: '[redacted]' },
    // Error text logged as a field (`{ message: err.message }`) is masked as in `err`.
    serializers: { err: errorSerializer, message: scrubField, reason: scrubField },
    ...(pretty ? { transport: { target: 'pino-pretty', options: { translateTime: 'HH:MM:ss', ignore: 'pid,hostname' } } } : {}),
  };
  return destination ? pino(options, destination) : pino(options);
}

const REQUEST_ID = /^[\w.:@-]{1,128}$/;

/** The path of a request as its log line tells it: no query (codes, states), no sign-in id. */
export const loggablePath = (path: string): string => {
  const query = path.indexOf('?');
  return maskSignInIds(query === -1 ? path : path.slice(0, query));
};
const OAUTH_ERROR = /^[\w.-]{1,64}$/;

/**
 * Says which OAuth error code a response answers (`invalid_grant`, `invalid_target` …), for its
 * request line: a 400 at /token is otherwise a mystery in the logs. Set where the error is
 * answered: our JSON errors and pages, and oidc-provider's (boot.ts). Only a code, never text.
 */
export function noteOAuthError(res: { locals?: Record<string, unknown> }, code: string): void {
  if (res.locals && OAUTH_ERROR.test(code)) res.locals.oauthError = code;
}

/**
 * One line per request, when it ends (finished or aborted): id, method, path (never the query,
 * which holds codes and states), status and duration. Deliberately small (no per-request child
 * logger or serializers): it runs on every proxied /mcp request.
 */
export function requestLogger(logger: Logger): RequestHandler {
  return (req, res, next) => {
    // Heroku's router sets X-Request-Id; keep it so our lines match the router's.
    const given = req.headers['x-request-id'];
    const id = typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    res.setHeader('X-Request-Id', id);
    const started = performance.now();
    const path = req.originalUrl;
    res.once('close', () => {
      const statusCode = res.statusCode;
      const level = statusCode >= 500 ? 'error' : 'info';
      if (!logger.isLevelEnabled(level)) return;
      const error = statusCode >= 400 ? (res.locals.oauthError as string | undefined) : undefined;
      logger[level](
        {
          req: { id, method: req.method, path: loggablePath(path) },
          res: { statusCode, ...(error ? { error } : {}) },
          responseTime: Math.round(performance.now() - started),
        },
        res.writableFinished ? 'request completed' : 'request aborted',
      );
    });
    next();
  };
}

export interface ThrottledLogger {
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
}

/**
 * Repeated log lines at most once per interval each (keyed by message): during an outage every
 * request fails the same way, and 10 000 identical lines in 8 s bury the one that says why. The
 * line after a quiet spell says how many were left out (`repeated`). `now` is injectable for tests.
 */
export function throttledLogger(logger: Logger, intervalMs = 10_000, now: () => number = Date.now): ThrottledLogger {
  const last = new Map<string, { at: number; suppressed: number }>();
  const log = (level: 'warn' | 'error') => (fields: Record<string, unknown>, message: string) => {
    const seen = last.get(message);
    const at = now();
    if (seen && at - seen.at < intervalMs) {
      seen.suppressed++;
      return;
    }
    last.set(message, { at, suppressed: 0 });
    logger[level](seen && seen.suppressed > 0 ? { ...fields, repeated: seen.suppressed } : fields, message);
  };
  return { warn: log('warn'), error: log('error') };
}
