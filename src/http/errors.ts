// The last error handler of the Express app: whatever a handler threw is answered in the
// protocol's own shape (problems.ts), never as a stack trace.
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';
import { storeFailing, storeRetryAfterSeconds, type KeyValueStore } from '../storage/store.js';
import { throttledLogger } from '../logging.js';
import { Problem, problems, sendProblem } from './problems.js';

/** What Express's body parsers and similar middleware throw. */
interface HttpError {
  status?: number;
  statusCode?: number;
  expose?: boolean;
  message?: string;
}

/** The Problem an error thrown by a handler stands for. */
function problemOf(err: unknown, store: KeyValueStore): Problem | undefined {
  if (err instanceof Problem) return err;
  // Storage down or full: fail closed, and the proxy recovers by itself.
  if (storeFailing(store)) return problems.storageUnavailable(storeRetryAfterSeconds(store));
  const e = (err ?? {}) as HttpError;
  const status = e.status ?? e.statusCode ?? 500;
  if (status >= 400 && status < 500 && e.expose !== false) {
    return new Problem(status, status === 413 ? 'payload_too_large' : 'invalid_request', e.message ?? 'Bad request');
  }
  return undefined;
}

export function errorHandler(logger: Logger, store: KeyValueStore) {
  const warnEvery = throttledLogger(logger);
  return (err: unknown, _req: Request, res: Response, _next: NextFunction): void => {
    const problem = problemOf(err, store);
    if (!problem) {
      logger.error({ err }, 'unhandled error');
      return sendProblem(res, problems.serverError());
    }
    if (problem.code === 'temporarily_unavailable' && !(err instanceof Problem)) {
      warnEvery.warn({ message: (err as Error)?.message }, store.available ? 'storage refusing writes (full)' : 'storage unavailable');
    }
    sendProblem(res, problem);
  };
}
