import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { MemoryStore } from '../../src/storage/memory-store.js';
import { RedisStore } from '../../src/storage/redis-store.js';
import { nowSeconds, type KeyValueStore } from '../../src/storage/store.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';

/** What the contract suite needs to know about one implementation. */
interface Harness {
  /** The store under test, empty at the start of every test. */
  store(): KeyValueStore;
  /**
   * Asserts that `key` expires `ttlSeconds` after the current (test) time. MemoryStore runs on a
   * frozen clock that this moves (and the read past the expiry drops the key); Redis cannot be
   * time travelled, so its PTTL is checked instead.
   */
  assertExpiresIn(key: string, ttlSeconds: number): Promise<void>;
  /** Moves the test clock (MemoryStore) forward; undefined for Redis. */
  advance?: (ms: number) => void;
}

function contractSuite(setup: () => Harness): void {
  let h: Harness;
  let store: KeyValueStore;
  beforeEach(() => {
    h = setup();
    store = h.store();
  });

  it('get, set and del', async () => {
    assert.equal(await store.get('k1'), undefined);
    await store.set('k1', 'v1', 60);
    await store.set('k2', 'v2', 60);
    await store.set('k3', 'v3', 60);
    assert.equal(await store.get('k1'), 'v1');
    await store.set('k1', 'v1b', 60);
    assert.equal(await store.get('k1'), 'v1b');
    await store.del('k1', 'k2', 'missing');
    assert.equal(await store.get('k1'), undefined);
    assert.equal(await store.get('k2'), undefined);
    assert.equal(await store.get('k3'), 'v3');
    await store.del();
    assert.equal(await store.get('k3'), 'v3');
    await store.set('empty', '', 60);
    assert.equal(await store.get('empty'), '');
  });

  it('set expires after ttlSeconds', async () => {
    await store.set('k', 'v', 1);
    await h.assertExpiresIn('k', 1);
    await store.set('long', 'v', 3600);
    await h.assertExpiresIn('long', 3600);
  });

  it('setIfAbsent writes only once', async () => {
    assert.equal(await store.setIfAbsent('lock', 'first', 30), true);
    assert.equal(await store.setIfAbsent('lock', 'second', 30), false);
    assert.equal(await store.get('lock'), 'first');
    await h.assertExpiresIn('lock', 30);
    await store.del('lock');
    assert.equal(await store.setIfAbsent('lock', 'third', 30), true);
    assert.equal(await store.get('lock'), 'third');
  });

  it('setIfAbsent: one winner among concurrent callers', async () => {
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => store.setIfAbsent('race', `owner-${i}`, 30)));
    assert.equal(results.filter(Boolean).length, 1);
    assert.equal(await store.get('race'), `owner-${results.indexOf(true)}`);
  });

  it('replace keeps the expiry and fails on a missing key', async () => {
    await store.set('k', 'v1', 10);
    assert.equal(await store.replace('k', 'v2'), true);
    assert.equal(await store.get('k'), 'v2');
    await h.assertExpiresIn('k', 10);
    if (h.advance) {
      // A replacement later in the lifetime does not push the expiry either.
      await store.set('later', 'v1', 10);
      h.advance(4_000);
      assert.equal(await store.replace('later', 'v2'), true);
      await h.assertExpiresIn('later', 6);
    }

    assert.equal(await store.replace('missing', 'v'), false);
    assert.equal(await store.get('missing'), undefined, 'replace does not create keys');
  });

  it('take is single-use', async () => {
    await store.set('once', 'value', 60);
    assert.equal(await store.take('once'), 'value');
    assert.equal(await store.take('once'), undefined);
    assert.equal(await store.get('once'), undefined);
    assert.equal(await store.take('missing'), undefined);

    await store.set('contended', 'value', 60);
    const taken = await Promise.all(Array.from({ length: 10 }, () => store.take('contended')));
    assert.deepEqual(
      taken.filter((t) => t !== undefined),
      ['value'],
    );
  });

  it('extend pushes the expiry of an existing key out, never in, and ignores missing keys', async () => {
    await store.set('k', 'v', 10);
    h.advance?.(5_000); // MemoryStore: half-way through the first lifetime
    await store.extend('k', 100);
    assert.equal(await store.get('k'), 'v');
    await h.assertExpiresIn('k', 100);
    await store.extend('k', 20);
    await h.assertExpiresIn('k', 100);

    await store.extend('missing', 100);
    assert.equal(await store.get('missing'), undefined);
  });

  it('indexAdd and indexMembers: unexpired members only', async () => {
    const now = nowSeconds();
    assert.deepEqual(await store.indexMembers('idx'), []);
    await store.indexAdd('idx', 'b', now + 100);
    await store.indexAdd('idx', 'a', now + 200);
    await store.indexAdd('idx', 'past', now - 1);
    await store.indexAdd('idx', 'now', now);
    assert.deepEqual((await store.indexMembers('idx')).sort(), ['a', 'b']);
    assert.deepEqual(await store.indexMembers('other'), []);
  });

  it('indexAdd keeps the later expiry of a re-added member', async () => {
    const now = nowSeconds();
    await store.indexAdd('idx', 'm', now + 100);
    await store.indexAdd('idx', 'm', now - 10);
    assert.deepEqual(await store.indexMembers('idx'), ['m'], 'an earlier expiry does not shorten the member');

    await store.indexAdd('idx', 'n', now - 10);
    await store.indexAdd('idx', 'n', now + 100);
    assert.deepEqual((await store.indexMembers('idx')).sort(), ['m', 'n'], 'a later expiry extends the member');
  });

  it('indexRemove drops members before they expire', async () => {
    const now = nowSeconds();
    await store.indexAdd('idx', 'a', now + 100);
    await store.indexAdd('idx', 'b', now + 100);
    await store.indexRemove('idx', 'a', 'missing');
    assert.deepEqual(await store.indexMembers('idx'), ['b']);
    await store.indexRemove('idx', 'b');
    assert.deepEqual(await store.indexMembers('idx'), []);
    await store.indexRemove('no-such-index', 'x');
    await store.indexRemove('idx');
  });

  it('del removes an index', async () => {
    const now = nowSeconds();
    await store.indexAdd('idx', 'a', now + 100);
    await store.del('idx');
    assert.deepEqual(await store.indexMembers('idx'), []);
  });

  it('ping answers', async () => {
    await store.ping();
  });
}

describe('KeyValueStore contract', () => {
  describe('MemoryStore', () => {
    const realNow = Date.now;
    const START = 1_700_000_000_000; // a whole second
    let now = START;
    let store: MemoryStore;

    beforeEach(() => {
      now = START;
      Date.now = () => now;
    });
    afterEach(async () => {
      Date.now = realNow;
      await store?.close();
    });

    contractSuite(() => ({
      store: () => (store = new MemoryStore()),
      advance: (ms) => {
        now += ms;
      },
      async assertExpiresIn(key, ttlSeconds) {
        const at = now;
        const value = await store.get(key);
        try {
          now = at + ttlSeconds * 1000 - 1;
          assert.equal(await store.get(key), value, `${key} expired before ${ttlSeconds}s`);
          now = at + ttlSeconds * 1000;
          assert.equal(await store.get(key), undefined, `${key} still there after ${ttlSeconds}s`);
        } finally {
          now = at;
        }
      },
    }));

    it('index members expire on their own (frozen clock)', async () => {
      store = new MemoryStore();
      const t = nowSeconds();
      await store.indexAdd('idx', 'short', t + 10);
      await store.indexAdd('idx', 'long', t + 20);
      now += 9_999;
      assert.deepEqual((await store.indexMembers('idx')).sort(), ['long', 'short']);
      now += 1;
      assert.deepEqual(await store.indexMembers('idx'), ['long']);
      now += 10_000;
      assert.deepEqual(await store.indexMembers('idx'), []);
    });

    it('setIfAbsent succeeds again once the value expired (frozen clock)', async () => {
      store = new MemoryStore();
      assert.equal(await store.setIfAbsent('lock', 'a', 30), true);
      now += 29_999;
      assert.equal(await store.setIfAbsent('lock', 'b', 30), false);
      now += 1;
      assert.equal(await store.setIfAbsent('lock', 'c', 30), true);
      assert.equal(await store.get('lock'), 'c');
      assert.equal(await store.take('lock'), 'c');
    });

    // Expiry is kept in milliseconds, as Redis `EX` is exact: a value written late in a second
    // must not lose the rest of that second.
    it('a 1-second value written late in a second lives a full second', async () => {
      store = new MemoryStore();
      now = START + 999;
      await store.set('k', 'v', 1);
      now = START + 1_000;
      assert.equal(await store.get('k'), 'v', 'expired 1 ms after being written with ttlSeconds = 1');
    });
  });

  describe('RedisStore', () => {
    let redis: RedisServer | undefined;
    let store: RedisStore | undefined;
    let raw: Redis | undefined;

    before(async () => {
      redis = await startRedis();
      store = new RedisStore({ url: redis.url, prefix: 'test:', tlsVerify: false });
      await store.connect();
      raw = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 0 });
      await raw.connect();
    });
    after(async () => {
      await store?.close();
      raw?.disconnect();
      await redis?.stop();
    });
    beforeEach(async () => {
      await raw!.flushdb();
    });

    contractSuite(() => ({
      store: () => store!,
      async assertExpiresIn(key, ttlSeconds) {
        const pttl = await store!.client.pttl(key);
        assert.ok(pttl > 0 && pttl <= ttlSeconds * 1000, `PTTL of ${key} is ${pttl}, expected (0, ${ttlSeconds * 1000}]`);
        // Allow for the time the test took, but no more than a second.
        assert.ok(pttl > ttlSeconds * 1000 - 1000, `PTTL of ${key} is ${pttl}, expected about ${ttlSeconds * 1000}`);
      },
    }));

    it('prefixes every key', async () => {
      assert.equal(store!.client.options.keyPrefix, 'test:');
      await store!.set('key', 'v', 60);
      await store!.indexAdd('idx', 'key', nowSeconds() + 60);
      assert.equal(await raw!.get('test:key'), 'v');
      assert.equal(await raw!.exists('key'), 0);
      assert.equal(await raw!.type('test:idx'), 'zset');
      assert.deepEqual((await raw!.keys('*')).sort(), ['test:idx', 'test:key']);
      // Index members are unprefixed keys; deleting them goes through the prefix again.
      await store!.del(...(await store!.indexMembers('idx')), 'idx');
      assert.deepEqual(await raw!.keys('*'), []);
    });

    it("reads another program's keys of other types as absent, and replaces them when writing (Heroku's proxy under oidc:)", async () => {
      await raw!.hset('test:RefreshToken:r1', { payload: '{"jti":"r1"}' });
      await raw!.rpush('test:grant:g1', 'test:AccessToken:a1');
      assert.equal(await store!.get('RefreshToken:r1'), undefined);
      assert.equal(await store!.take('RefreshToken:r1'), undefined);
      assert.deepEqual(await store!.indexMembers('grant:g1'), []);
      await store!.indexRemove('grant:g1', 'AccessToken:a1');
      await store!.indexAdd('grant:g1', 'AccessToken:a2', nowSeconds() + 60);
      assert.equal(await raw!.type('test:grant:g1'), 'zset');
      assert.deepEqual(await store!.indexMembers('grant:g1'), ['AccessToken:a2']);
      // Other errors still fail loudly.
      await raw!.set('test:counter', 'not a number');
      await assert.rejects(store!.increment('counter', 60), /not an integer/);
    });

    it('keeps the index key as long as its longest-lived member', async () => {
      const now = nowSeconds();
      await store!.indexAdd('idx', 'a', now + 10);
      const first = await raw!.pttl('test:idx');
      assert.ok(first > 0 && first <= 10_000, `PTTL ${first}`);
      await store!.indexAdd('idx', 'b', now + 100);
      const extended = await raw!.pttl('test:idx');
      assert.ok(extended > 10_000 && extended <= 100_000, `PTTL ${extended}`);
      await store!.indexAdd('idx', 'c', now + 20);
      const kept = await raw!.pttl('test:idx');
      assert.ok(kept > 20_000 && kept <= 100_000, `a shorter member shortened the index to PTTL ${kept}`);
    });

    it('keeps the later score of a re-added member and prunes expired members on write', async () => {
      const now = nowSeconds();
      await store!.indexAdd('idx', 'm', now + 100);
      await store!.indexAdd('idx', 'm', now + 10);
      assert.equal(await raw!.zscore('test:idx', 'm'), String(now + 100));
      await store!.indexAdd('idx', 'm', now + 200);
      assert.equal(await raw!.zscore('test:idx', 'm'), String(now + 200));

      await raw!.zadd('test:idx', now - 5, 'stale');
      assert.deepEqual(await store!.indexMembers('idx'), ['m']);
      await store!.indexAdd('idx', 'n', now + 50);
      assert.equal(await raw!.zscore('test:idx', 'stale'), null);
    });

    it('replace keeps the TTL (KEEPTTL), not a persistent key', async () => {
      await store!.set('k', 'v', 10);
      assert.equal(await store!.replace('k', 'v2'), true);
      const pttl = await raw!.pttl('test:k');
      assert.ok(pttl > 9_000 && pttl <= 10_000, `PTTL ${pttl}`);
    });
  });
});
