// Teardown of everything the benchmark started, in reverse order of starting (the inspector is
// closed before the proxy stops, the proxy stops before Redis), also on Ctrl-C or SIGTERM.
import { log } from './stats.js';

export type Cleanup = () => Promise<void>;

export class Cleanups {
  #steps: Cleanup[] = [];
  #interrupted = false;

  readonly #onSignal = () => {
    if (this.#interrupted) process.exit(130);
    this.#interrupted = true;
    log('interrupted: cleaning up (Ctrl-C again to exit at once)');
    void this.run().then(() => process.exit(130));
  };

  constructor() {
    process.on('SIGINT', this.#onSignal);
    process.on('SIGTERM', this.#onSignal);
  }

  push(step: Cleanup): void {
    this.#steps.push(step);
  }

  /** Runs (once) every step registered so far, newest first; a failed step is logged, not thrown. */
  async run(): Promise<void> {
    for (const c of this.#steps.splice(0).reverse()) await c().catch((e: unknown) => log(`cleanup failed: ${String(e)}`));
  }

  /** Runs the steps and gives the signals back. */
  async close(): Promise<void> {
    await this.run();
    process.off('SIGINT', this.#onSignal);
    process.off('SIGTERM', this.#onSignal);
  }
}
