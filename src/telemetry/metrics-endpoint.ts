// The Prometheus scrape endpoint on the main port (Heroku routes one port only). Optionally
// protected by a bearer secret; mounted before request logging and rate limits.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import type { Telemetry } from './telemetry.js';
import { problems, sendProblem } from '../http/problems.js';

const digest = (value: string): Buffer => createHash('sha256').update(value).digest();

export function metricsEndpoint(scrape: NonNullable<Telemetry['scrape']>, token: string | undefined): RequestHandler {
  const expected = token === undefined ? undefined : digest(token);
  return (req, res) => {
    if (expected) {
      const given = /^Bearer +(\S+) *$/i.exec(req.headers.authorization ?? '')?.[1];
      // Equal-length digests: the comparison time says nothing about the secret.
      if (given === undefined || !timingSafeEqual(digest(given), expected)) {
        return sendProblem(res, problems.bearer('Bearer realm="metrics"', 'invalid_token', 'This endpoint needs the metrics bearer token'));
      }
    }
    res.set('Cache-Control', 'no-store');
    scrape(req, res);
  };
}
