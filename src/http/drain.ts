// Graceful shutdown of the HTTP server: stop accepting connections, let in-flight requests and
// open streams (SSE) finish up to a bound, then cut what is left. Requests that arrive on kept-
// alive connections meanwhile are still served, with `Connection: close`. Streams that only wait
// for server events (MCP's GET stream, which clients hold open for ever and reopen by themselves)
// are ended at once instead: waiting for them would always take the whole bound.
import type { IncomingMessage, Server, ServerResponse } from 'node:http';

export interface DrainResult {
  /** Requests still open at the bound, cut. */
  cut: number;
  /** Event streams ended at the start of the drain (their clients reconnect elsewhere). */
  released: number;
}

/** Where a handler registers a stream that may be ended early when the server drains. */
export interface ReleasableStreams {
  releasable(res: ServerResponse, end: () => void): void;
}

export class HttpDrain implements ReleasableStreams {
  #inFlight = 0;
  #draining = false;
  #onIdle: (() => void) | undefined;
  readonly #releasable = new Map<ServerResponse, () => void>();

  get draining(): boolean {
    return this.#draining;
  }

  /** Call for every request (before the app sees it). */
  track(_req: IncomingMessage, res: ServerResponse): void {
    this.#inFlight += 1;
    if (this.#draining) res.setHeader('Connection', 'close');
    res.once('close', () => {
      this.#inFlight -= 1;
      this.#releasable.delete(res);
      if (this.#inFlight === 0) this.#onIdle?.();
    });
  }

  releasable(res: ServerResponse, end: () => void): void {
    if (this.#draining) return end();
    this.#releasable.set(res, end);
  }

  /** Stops accepting, waits up to timeoutMs for in-flight requests, then cuts the rest. */
  async drain(server: Server, timeoutMs: number): Promise<DrainResult> {
    this.#draining = true;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    const released = [...this.#releasable.values()];
    this.#releasable.clear();
    for (const end of released) end();
    if (this.#inFlight > 0 && timeoutMs > 0) {
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        this.#onIdle = resolve;
        timer = setTimeout(resolve, timeoutMs);
      });
      clearTimeout(timer);
      this.#onIdle = undefined;
    }
    const cut = this.#inFlight;
    // Idle keep-alive sockets and whatever the bound cut.
    server.closeAllConnections();
    await closed;
    return { cut, released: released.length };
  }
}
