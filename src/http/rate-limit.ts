// A fixed-window request limit per client IP, counted in the shared store so every instance
// enforces the same budget. Used on the authorization endpoints (MAX_REQUESTS per
// MAX_REQUESTS_WINDOW); /mcp is not limited by IP.
import type { RequestHandler } from 'express';
import type { KeyValueStore } from '../storage/store.js';
import { sendJsonError } from './json-error.js';

export interface RateLimitOptions {
  max: number;
  windowMs: number;
}

export function rateLimit(store: KeyValueStore, { max, windowMs }: RateLimitOptions): RequestHandler {
  const windowSeconds = Math.max(1, Math.ceil(windowMs / 1000));
  return async (req, res, next) => {
    const now = Date.now();
    const window = Math.floor(now / windowMs);
    const count = await store.increment(`ratelimit:${req.ip ?? 'unknown'}:${window}`, windowSeconds);
    res.setHeader('RateLimit-Limit', String(max));
    res.setHeader('RateLimit-Remaining', String(Math.max(0, max - count)));
    if (count <= max) return next();
    const retryAfter = Math.max(1, Math.ceil(((window + 1) * windowMs - now) / 1000));
    res.set('Retry-After', String(retryAfter));
    sendJsonError(res, 429, 'too_many_requests', `Too many requests; retry in ${retryAfter} s`);
  };
}
