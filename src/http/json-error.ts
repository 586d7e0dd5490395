// Errors of our JSON endpoints, in OAuth's shape ({ error, error_description }) and never cached.
import type { Response } from 'express';

export function sendJsonError(res: Response, status: number, error: string, description: string): void {
  res.status(status).set('Cache-Control', 'no-store').json({ error, error_description: description });
}
