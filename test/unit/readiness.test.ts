import assert from 'node:assert/strict';
import { Readiness } from '../../src/http/health.js';
import { MemoryStore } from '../../src/storage/memory-store.js';

/** A store that counts its round trips (PING and the readiness write). */
class CountingStore extends MemoryStore {
  pings = 0;
  override async ping(): Promise<void> {
    this.pings++;
  }
}

describe('readiness probes', () => {
  let store: CountingStore;
  let now: number;
  let readiness: Readiness;

  beforeEach(() => {
    store = new CountingStore();
    now = 1_000_000;
    readiness = new Readiness(
      { store, usesRedis: true, mcpServer: undefined, identityLoaded: () => true, draining: () => false },
      { cacheMs: 1000, now: () => now },
    );
  });
  afterEach(() => store.close());

  it('costs one Redis round trip per cache period, however many probes come at once', async () => {
    const reports = await Promise.all(Array.from({ length: 20 }, () => readiness.report()));
    assert.ok(reports.every((r) => r.ready && r.checks.redis === 'ok'));
    assert.equal(store.pings, 1);
    now += 999;
    await readiness.report();
    assert.equal(store.pings, 1, 'still within the period');
    now += 1;
    await Promise.all([readiness.report(), readiness.report()]);
    assert.equal(store.pings, 2, 'one more once it ended');
  });

  it('writes as well as pings: a store that refuses writes is not ready', async () => {
    const full = Object.assign(store, {
      set: async () => {
        throw new Error('OOM command not allowed');
      },
    });
    Object.defineProperty(full, 'refusingWrites', { value: true });
    const report = await readiness.report();
    assert.equal(report.checks.redis, 'full');
    assert.deepEqual(report.failing, ['redis']);
  });
});
