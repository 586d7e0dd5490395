// Logs: JSON in production, pretty locally. Request logs carry the path only (never the query,
// which holds codes and states) and no headers, so no token, code or cookie reaches a line.
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { RequestHandler } from 'express';
import { pino, stdSerializers, type DestinationStream, type Logger } from 'pino';
import type { Config } from './config/index.js';

/**
 * Errors as pino writes them, minus what a storage error carries about the command that failed:
 * ioredis attaches its arguments (`err.command.args`), and our key names hold token and code
 * values (`AccessToken:<token>`, `upstream-state:<state>`).
 */
export function errorSerializer(err: unknown): unknown {
  const out = stdSerializers.err(err as Error) as unknown;
  const strip = (value: unknown, depth: number): void => {
    if (!value || typeof value !== 'object' || depth > 5) return;
    const record = value as Record<string, unknown>;
    delete record.command;
    strip(record.cause, depth + 1);
    if (Array.isArray(record.aggregateErrors)) for (const inner of record.aggregateErrors) strip(inner, depth + 1);
  };
  strip(out, 0);
  return out;
}

/** `destination` replaces stdout (tests read every line written). */
export function createLogger(config: Pick<Config, 'production' | 'logLevel'>, destination?: DestinationStream): Logger {
  const pretty = !config.production && !destination;
  const options = {
    level: config.logLevel,
    base: undefined,
    redact: { paths: ['*.authorization', '*.cookie', '*.accessToken', '*.refreshToken', '*.token'], censor: '[redacted]' },
    serializers: { err: errorSerializer },
    ...(pretty ? { transport: { target: 'pino-pretty', options: { translateTime: 'HH:MM:ss', ignore: 'pid,hostname' } } } : {}),
  };
  return destination ? pino(options, destination) : pino(options);
}

const REQUEST_ID = /^[\w.:@-]{1,128}$/;
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
      const query = path.indexOf('?');
      const error = statusCode >= 400 ? (res.locals.oauthError as string | undefined) : undefined;
      logger[level](
        {
          req: { id, method: req.method, path: query === -1 ? path : path.slice(0, query) },
          res: { statusCode, ...(error ? { error } : {}) },
          responseTime: Math.round(performance.now() - started),
        },
        res.writableFinished ? 'request completed' : 'request aborted',
      );
    });
    next();
  };
}
