// Vault key rotation on a real Redis: re-encrypting every entry with the new first key.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { cli } from '../helpers/command-io.js';
import { UpstreamTokenVault } from '../../src/identity/vault.js';
import { RedisStore } from '../../src/storage/redis-store.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { privateJwks } from '../helpers/keys.js';

describe('vault key rotation', function () {
  this.timeout(20_000);
  let redis: RedisServer;
  let store: RedisStore;
  const [oldKey, newKey] = [randomBytes(32), randomBytes(32)];

  before(async () => {
    redis = await startRedis();
    store = new RedisStore({ url: redis.url, prefix: 'rot:', tlsVerify: false });
    await store.connect();
  });
  after(async () => {
    await store?.close();
    await redis?.stop();
  });

  it('rewrites entries sealed with an old key, keeps their expiry, and then the old key can go', async () => {
    const before = new UpstreamTokenVault(store, [oldKey]);
    await before.save('g1', { accessToken: 'a1', refreshToken: 'r1' }, 600);
    await before.save('g2', { accessToken: 'a2' }, 600);
    const rotated = new UpstreamTokenVault(store, [newKey, oldKey]);
    await rotated.save('g3', { accessToken: 'a3' }, 600);

    assert.deepEqual(await rotated.reencryptAll(), { reencrypted: 2, current: 1, unreadable: 0 });
    const ttl = await store.client.ttl('upstream:g1');
    assert.ok(ttl > 590 && ttl <= 600, `ttl ${ttl}`);

    const onlyNew = new UpstreamTokenVault(store, [newKey]);
    assert.deepEqual(await onlyNew.load('g1'), { accessToken: 'a1', refreshToken: 'r1' });
    assert.deepEqual(await onlyNew.load('g2'), { accessToken: 'a2' });
    assert.deepEqual(await onlyNew.reencryptAll(), { reencrypted: 0, current: 3, unreadable: 0 });
  });

  it('runs as a command from the configuration, and reports entries no key opens', async () => {
    const unknown = new UpstreamTokenVault(store, [randomBytes(32)]);
    await unknown.save('g4', { accessToken: 'a4' }, 600);
    const result = await cli(['vault-reencrypt'], {
      BASE_URL: 'https://proxy.example.com',
      MCP_SERVER_URL: 'http://localhost:3000/mcp',
      IDENTITY_SERVER_URL: 'https://idp.example.com',
      IDENTITY_CLIENT_ID: 'abc',
      MCP_AUTH_PROXY_REDIS_URL: redis.url,
      MCP_AUTH_PROXY_REDIS_PREFIX: 'rot:',
      MCP_AUTH_PROXY_VAULT_KEYS: [newKey.toString('base64'), oldKey.toString('hex')].join(','),
      OIDC_PROVIDER_JWKS: privateJwks(),
    });
    assert.equal(result.code, 3, 'entries left unreadable: done, but not all of it');
    assert.equal(result.stdout, 're-encrypted 0, already current 3, unreadable with the configured keys 1\n');
  });
});
