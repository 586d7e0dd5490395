// Errors of our JSON endpoints, in OAuth's shape ({ error, error_description }) and never cached.
import type { Response } from 'express';
import { noteOAuthError } from '../logging.js';

export function sendJsonError(res: Response, status: number, error: string, description: string): void {
  noteOAuthError(res, error);
  res.status(status).set('Cache-Control', 'no-store').json({ error, error_description: description });
}
