// Fixed-window request limits counted in the shared store, so every instance enforces the same
// budget. Each class (authorize, token, registration, /mcp per user) has its own counters.
import type { Request, RequestHandler, Response } from 'express';
import type { KeyValueStore } from '../storage/store.js';
import { markDenied } from '../telemetry/request-metrics.js';
import { keys } from '../storage/keys.js';
import { problems, sendProblem } from './problems.js';

export interface RateLimitOptions {
  /** The class of endpoints; classes do not share budgets. */
  name: string;
  max: number;
  windowMs: number;
  /** Whose budget a request spends (default: the client IP, as seen through trusted proxies). */
  keyOf?: (req: Request, res: Response) => string;
}

export const byIp = (req: Request): string => req.ip ?? 'unknown';

export interface QuotaSpent {
  allowed: boolean;
  remaining: number;
  /** Seconds until the window ends. */
  retryAfter: number;
}

/** Spends one request of `key`'s budget in the current window. */
export async function spendQuota(store: KeyValueStore, { name, max, windowMs }: Omit<RateLimitOptions, 'keyOf'>, key: string): Promise<QuotaSpent> {
  const now = Date.now();
  const window = Math.floor(now / windowMs);
  const count = await store.increment(keys.rateLimit(name, key, window), Math.max(1, Math.ceil(windowMs / 1000)));
  return { allowed: count <= max, remaining: Math.max(0, max - count), retryAfter: Math.max(1, Math.ceil(((window + 1) * windowMs - now) / 1000)) };
}

export function rateLimit(store: KeyValueStore, { name, max, windowMs, keyOf = byIp }: RateLimitOptions): RequestHandler {
  return async (req, res, next) => {
    let spent: QuotaSpent;
    try {
      spent = await spendQuota(store, { name, max, windowMs }, keyOf(req, res));
    } catch (err) {
      // A full store cannot count, and takes no other write either: let the request on to what
      // still works (revocation, reads, /mcp with live tokens) rather than refuse everything.
      if (store.available && store.refusingWrites) return next();
      throw err;
    }
    res.setHeader('RateLimit-Limit', String(max));
    res.setHeader('RateLimit-Remaining', String(spent.remaining));
    if (spent.allowed) return next();
    markDenied(res, 'rate_limited');
    sendProblem(res, problems.tooManyRequests(spent.retryAfter));
  };
}
