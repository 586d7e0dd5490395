import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { rateLimit } from '../../src/http/rate-limit.js';
import { MemoryStore } from '../../src/storage/memory-store.js';

describe('rate limit of the authorization endpoints', () => {
  it('answers 429 with Retry-After once an IP spends its window budget', async () => {
    const store = new MemoryStore();
    const app = express();
    app.use('/auth', rateLimit(store, { name: 'authorize', max: 3, windowMs: 60_000 }));
    app.get('/auth', (_req, res) => res.send('ok'));
    app.get('/other', (_req, res) => res.send('ok'));
    const server = app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const statuses = [];
      for (let i = 0; i < 4; i++) statuses.push((await fetch(`${base}/auth`)).status);
      assert.deepEqual(statuses, [200, 200, 200, 429]);
      const limited = await fetch(`${base}/auth`);
      assert.equal(limited.status, 429);
      const retryAfter = Number(limited.headers.get('retry-after'));
      assert.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After ${retryAfter}`);
      assert.equal(((await limited.json()) as { error: string }).error, 'too_many_requests');
      assert.equal((await fetch(`${base}/other`)).status, 200, 'other routes are not limited');
    } finally {
      server.close();
      await store.close();
    }
  });
});
