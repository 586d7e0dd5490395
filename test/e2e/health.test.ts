// /healthz and /readyz as probes see them: no auth, not rate limited, not logged, never cached by
// intermediaries, cheap (a burst of probes costs Redis one PING), and draining reported.
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { startStack, type Stack } from '../helpers/stack.js';

async function pingCalls(redisUrl: string): Promise<number> {
  const admin = new Redis(redisUrl);
  try {
    const stats = await admin.info('commandstats');
    return Number(/cmdstat_ping:calls=(\d+)/.exec(stats)?.[1] ?? 0);
  } finally {
    admin.disconnect();
  }
}

describe('health endpoints', function () {
  this.timeout(60_000);
  let stack: Stack;

  before(async () => {
    stack = await startStack({ env: { MAX_REQUESTS: '2' } });
  });
  after(async () => stack?.stop());

  it('/healthz: 200, no auth, not rate limited, not logged, not cached', async () => {
    const logsBefore = stack.logs.length;
    for (let i = 0; i < 5; i++) {
      const response = await fetch(`${stack.baseUrl}/healthz`);
      assert.equal(response.status, 200);
      assert.equal(response.headers.get('cache-control'), 'no-store');
      assert.deepEqual(await response.json(), { status: 'ok' });
    }
    const lines = stack.logs.slice(logsBefore).filter((l) => l.includes('/healthz'));
    assert.deepEqual(lines, []);
  });

  it('/readyz: 200 with every check; a burst of probes costs at most one Redis PING', async () => {
    const before = await pingCalls(stack.redis.url);
    const responses = await Promise.all(Array.from({ length: 20 }, () => fetch(`${stack.baseUrl}/readyz`)));
    for (const response of responses) {
      assert.equal(response.status, 200);
      assert.equal(response.headers.get('cache-control'), 'no-store');
      assert.deepEqual(await response.json(), {
        status: 'ready',
        draining: false,
        checks: { redis: 'ok', mcp_server: 'ready', identity_provider: 'loaded' },
        failing: [],
      });
    }
    // The admin connection's own INFO is not a PING; the proxy's cached one is the only one.
    // One round trip per second at most, however many probes (the cache itself: unit readiness.test.ts).
    assert.ok((await pingCalls(stack.redis.url)) - before <= 1);
  });

  it('reports draining once stop() has begun', async () => {
    const stopping = stack.proxy.stop({ drainMs: 0 });
    const report = await stack.proxy.readiness.report();
    assert.equal(report.ready, false);
    assert.equal(report.draining, true);
    assert.deepEqual(report.failing, ['draining']);
    await stopping;
  });
});
