// The last error handler: a clear JSON error in OAuth's shape, never a stack trace.
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';
import { storeFailing, storeRetryAfterSeconds, type KeyValueStore } from '../storage/store.js';
import { sendJsonError } from './json-error.js';
import { throttledLogger } from '../logging.js';

interface HttpError {
  status?: number;
  statusCode?: number;
  type?: string;
  expose?: boolean;
  message?: string;
}

/** Fail closed while storage is down or full: 503 with Retry-After, and the proxy recovers by itself. */
export function sendStoreUnavailable(res: Response, retryAfterSeconds = 5): void {
  res.set('Retry-After', String(retryAfterSeconds));
  sendJsonError(res, 503, 'temporarily_unavailable', 'The service is temporarily unavailable; retry shortly');
}

export function errorHandler(logger: Logger, store: KeyValueStore) {
  const warnEvery = throttledLogger(logger);
  return (err: unknown, _req: Request, res: Response, _next: NextFunction): void => {
    const e = (err ?? {}) as HttpError;
    const status = e.status ?? e.statusCode ?? 500;
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (storeFailing(store)) {
      warnEvery.warn({ message: e.message }, store.available ? 'storage refusing writes (full)' : 'storage unavailable');
      return sendStoreUnavailable(res, storeRetryAfterSeconds(store));
    }
    if (status >= 400 && status < 500 && e.expose !== false) {
      // Body parser and similar client errors.
      const error = status === 413 ? 'payload_too_large' : 'invalid_request';
      return sendJsonError(res, status, error, e.message ?? 'Bad request');
    }
    logger.error({ err }, 'unhandled error');
    sendJsonError(res, 500, 'server_error', 'An unexpected error occurred');
  };
}
