import assert from 'node:assert/strict';
import { CallerCache } from '../../src/mcp/caller-cache.js';
import type { McpCaller } from '../../src/mcp/caller.js';
import { InvalidationBus } from '../../src/storage/invalidation.js';
import { MemoryStore } from '../../src/storage/memory-store.js';

const caller = (grantId: string): McpCaller => ({ grantId, clientId: 'c', accountId: 'a', email: undefined, groups: [], scope: '', upstream: { accessToken: 'u' } });

describe('CallerCache', () => {
  let store: MemoryStore;
  let bus: InvalidationBus;
  beforeEach(async () => {
    store = new MemoryStore();
    bus = new InvalidationBus(store);
    await bus.start();
  });
  afterEach(() => store.close());

  it('remembers a caller until the token expires or the TTL passes, whichever is first', () => {
    const cache = new CallerCache(bus, { ttlMs: 60_000, maxEntries: 10 });
    cache.set('t1', caller('g1'), Date.now() + 60_000);
    cache.set('t2', caller('g1'), Date.now() - 1);
    assert.equal(cache.get('t1')?.grantId, 'g1');
    assert.equal(cache.get('t2'), undefined);
  });

  it('drops entries of a grant, of a token, or everything, when told', async () => {
    const cache = new CallerCache(bus, { ttlMs: 60_000, maxEntries: 10 });
    const later = Date.now() + 60_000;
    cache.set('a', caller('g1'), later);
    cache.set('b', caller('g1'), later);
    cache.set('c', caller('g2'), later);
    await bus.publish({ grantId: 'g1' });
    assert.equal(cache.get('a'), undefined);
    assert.equal(cache.get('b'), undefined);
    assert.equal(cache.get('c')?.grantId, 'g2');
    await bus.publish({ tokenHash: 'c' });
    assert.equal(cache.size, 0);
  });

  it('is bounded, evicting the oldest entry', () => {
    const cache = new CallerCache(bus, { ttlMs: 60_000, maxEntries: 2 });
    const later = Date.now() + 60_000;
    cache.set('a', caller('g'), later);
    cache.set('b', caller('g'), later);
    cache.set('c', caller('g'), later);
    assert.equal(cache.size, 2);
    assert.equal(cache.get('a'), undefined);
  });

  it('caches nothing with a TTL of 0', () => {
    const cache = new CallerCache(bus, { ttlMs: 0, maxEntries: 2 });
    cache.set('a', caller('g'), Date.now() + 60_000);
    assert.equal(cache.get('a'), undefined);
  });
});
