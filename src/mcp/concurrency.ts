// MCP_AUTH_PROXY_MCP_MAX_CONCURRENT: how many /mcp requests one user may have in flight at once,
// on every instance together. Each request holds a lease in the store (a member of the user's
// sorted set, scored by when it expires); it is given back when the response ends, and renewed
// while the request lasts, so that an instance that dies without giving its leases back holds
// them only until they expire. GET event streams, which stay open for as long as a client is
// connected, have a budget of their own.
import type { RequestHandler } from 'express';
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { problems, sendProblem } from '../http/problems.js';
import { keys } from '../storage/keys.js';
import { nowSeconds, type KeyValueStore } from '../storage/store.js';
import { markDenied } from '../telemetry/request-metrics.js';
import { throttledLogger } from '../logging.js';
import { callerOf } from './caller.js';

/** How long a lease lives without renewal: what a dead instance's requests keep counting. */
export const LEASE_SECONDS = 120;

export class ConcurrencyLimiter {
  readonly #store: KeyValueStore;
  readonly #max: number;
  readonly #instance = randomUUID();
  readonly #open = new Map<string, string>();
  readonly #renewer: NodeJS.Timeout;
  readonly #warnEvery: ReturnType<typeof throttledLogger>;
  #next = 0;

  constructor(store: KeyValueStore, max: number, logger: Logger) {
    this.#store = store;
    this.#max = max;
    this.#warnEvery = throttledLogger(logger);
    this.#renewer = setInterval(() => void this.#renew(), (LEASE_SECONDS / 2) * 1000).unref();
  }

  /** After the bearer check: counts the caller's request, or answers 429 over the cap. */
  middleware(): RequestHandler {
    return async (req, res, next) => {
      const kind = req.method === 'GET' ? 'streams' : 'requests';
      const index = keys.mcpInFlight(kind, callerOf(res).accountId);
      const member = `${this.#instance}:${this.#next++}`;
      try {
        // Taken first, then counted: two instances racing may both refuse, never both exceed.
        await this.#store.indexAdd(index, member, nowSeconds() + LEASE_SECONDS);
        const inFlight = (await this.#store.indexMembers(index)).length;
        if (inFlight > this.#max) {
          await this.#store.indexRemove(index, member);
          markDenied(res, 'concurrency_limit');
          return sendProblem(res, problems.tooManyConcurrent(this.#max, kind));
        }
      } catch (err) {
        // The store cannot count: the request goes on (as with the rate limits) rather than fail.
        this.#warnEvery.warn({ message: (err as Error).message }, 'MCP_AUTH_PROXY_MCP_MAX_CONCURRENT: in-flight requests could not be counted');
        return next();
      }
      this.#open.set(member, index);
      res.once('close', () => {
        this.#open.delete(member);
        this.#store.indexRemove(index, member).catch(() => {});
      });
      next();
    };
  }

  /** Renews the leases of the requests still open here. */
  async #renew(): Promise<void> {
    const expiresAt = nowSeconds() + LEASE_SECONDS;
    await Promise.all([...this.#open].map(([member, index]) => this.#store.indexAdd(index, member, expiresAt).catch(() => {})));
  }

  close(): void {
    clearInterval(this.#renewer);
  }
}
