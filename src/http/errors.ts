// The last error handler: a clear JSON error in OAuth's shape, never a stack trace.
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';
import { sendJsonError } from './json-error.js';

interface HttpError {
  status?: number;
  statusCode?: number;
  type?: string;
  expose?: boolean;
  message?: string;
}

export function errorHandler(logger: Logger) {
  return (err: unknown, _req: Request, res: Response, _next: NextFunction): void => {
    const e = (err ?? {}) as HttpError;
    const status = e.status ?? e.statusCode ?? 500;
    if (res.headersSent) {
      res.destroy();
      return;
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
