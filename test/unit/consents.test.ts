import assert from 'node:assert/strict';
import { Consents } from '../../src/interactions/consents.js';
import { MemoryStore } from '../../src/storage/memory-store.js';

describe('consent memory (MCP_AUTH_PROXY_CONSENT_TTL)', () => {
  const realNow = Date.now;
  let now = 1_700_000_000_000;
  let store: MemoryStore;
  beforeEach(() => {
    Date.now = () => now;
    store = new MemoryStore();
  });
  afterEach(async () => {
    Date.now = realNow;
    await store.close();
  });

  it('remembers per (user, client), for the configured lifetime', async () => {
    const consents = new Consents(store, 60);
    await consents.remember('alice', 'https://client.example/cimd.json');
    assert.equal(await consents.isRemembered('alice', 'https://client.example/cimd.json'), true);
    assert.equal(await consents.isRemembered('bob', 'https://client.example/cimd.json'), false, 'another user of the same client');
    assert.equal(await consents.isRemembered('alice', 'other-client'), false);
    now += 59_999;
    assert.equal(await consents.isRemembered('alice', 'https://client.example/cimd.json'), true);
    now += 1;
    assert.equal(await consents.isRemembered('alice', 'https://client.example/cimd.json'), false, 'forgotten after the lifetime');
  });

  it('never remembers with a lifetime of 0 (always ask)', async () => {
    const consents = new Consents(store, 0);
    await consents.remember('alice', 'c');
    assert.equal(await consents.isRemembered('alice', 'c'), false);
  });

  it('keeps users apart even when ids contain the separator', async () => {
    const consents = new Consents(store, 60);
    await consents.remember('a:b', 'c');
    assert.equal(await consents.isRemembered('a', 'b:c'), false);
  });
});
