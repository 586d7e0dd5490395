import assert from 'node:assert/strict';
import type { Adapter, AdapterPayload } from 'oidc-provider';
import {
  createAdapterClass,
  DEFAULT_RECORD_TTL_SECONDS,
  DEFAULT_UNUSED_REGISTRATION_TTL_SECONDS,
  MAX_ANONYMOUS_RECORD_BYTES,
} from '../../src/provider/adapter.js';
import { keys } from '../../src/storage/keys.js';
import { MemoryStore } from '../../src/storage/memory-store.js';

const START = 1_700_000_000_000; // a whole second

describe('oidc-provider adapter over MemoryStore', () => {
  const realNow = Date.now;
  let now = START;
  let store: MemoryStore;
  let Store: new (model: string) => Adapter;

  beforeEach(() => {
    now = START;
    Date.now = () => now;
    store = new MemoryStore();
    Store = createAdapterClass(store);
  });
  afterEach(async () => {
    Date.now = realNow;
    await store.close();
  });

  it('upserts and finds records per model', async () => {
    const tokens = new Store('AccessToken');
    const codes = new Store('AuthorizationCode');
    const payload: AdapterPayload = { jti: 'at-1', accountId: 'alice', clientId: 'client-1', scope: 'openid' };
    await tokens.upsert('at-1', payload, 60);
    assert.deepEqual(await tokens.find('at-1'), payload);
    assert.equal(await codes.find('at-1'), undefined, 'models have separate namespaces');
    assert.equal(await store.get(keys.record('AccessToken', 'at-1')), JSON.stringify(payload));
    assert.equal(await tokens.find('missing'), undefined);

    const updated = { ...payload, scope: 'openid offline_access' };
    await tokens.upsert('at-1', updated, 60);
    assert.deepEqual(await tokens.find('at-1'), updated);
  });

  it('expires records after expiresIn', async () => {
    const tokens = new Store('AccessToken');
    await tokens.upsert('at-1', { jti: 'at-1' }, 60);
    now = START + 59_999;
    assert.deepEqual(await tokens.find('at-1'), { jti: 'at-1' });
    now = START + 60_000;
    assert.equal(await tokens.find('at-1'), undefined);
  });

  it('gives records without expiresIn DEFAULT_RECORD_TTL_SECONDS, and registrations the unused-registration lifetime', async () => {
    assert.equal(DEFAULT_RECORD_TTL_SECONDS, 30 * 24 * 3600);
    const records = new Store('ReplayDetection');
    await records.upsert('no-ttl', { jti: 'no-ttl' });
    await records.upsert('zero-ttl', { jti: 'zero-ttl' }, 0);
    await records.upsert('negative-ttl', { jti: 'negative-ttl' }, -5);
    const clients = new Store('Client');
    await clients.upsert('client-1', { client_id: 'client-1' });
    now = START + DEFAULT_UNUSED_REGISTRATION_TTL_SECONDS * 1000 - 1;
    assert.deepEqual(await clients.find('client-1'), { client_id: 'client-1' });
    now = START + DEFAULT_UNUSED_REGISTRATION_TTL_SECONDS * 1000;
    assert.equal(await clients.find('client-1'), undefined, 'nobody signed in with it: gone after a day');
    now = START + DEFAULT_RECORD_TTL_SECONDS * 1000 - 1;
    for (const id of ['no-ttl', 'zero-ttl', 'negative-ttl']) assert.deepEqual(await records.find(id), { jti: id }, id);
    now = START + DEFAULT_RECORD_TTL_SECONDS * 1000;
    for (const id of ['no-ttl', 'zero-ttl', 'negative-ttl']) assert.equal(await records.find(id), undefined, id);
  });

  it('keeps a registration (client and its registration access token) as long as its newest grant', async () => {
    Store = createAdapterClass(store, { unusedRegistrationTtlSeconds: 600 });
    const clients = new Store('Client');
    const tokens = new Store('RegistrationAccessToken');
    const grants = new Store('Grant');
    await clients.upsert('client-1', { client_id: 'client-1' });
    await tokens.upsert('rat-1', { jti: 'rat-1', clientId: 'client-1' });
    await clients.upsert('client-2', { client_id: 'client-2' });
    now = START + 500_000;
    await grants.upsert('g1', { jti: 'g1', clientId: 'client-1', accountId: 'alice' }, 7200);
    now = START + 600_000;
    assert.ok(await clients.find('client-1'), 'signed in with: kept');
    assert.ok(await tokens.find('rat-1'));
    assert.equal(await clients.find('client-2'), undefined, 'never signed in with: gone');
    now = START + 500_000 + 7_200_000;
    assert.equal(await clients.find('client-1'), undefined, 'gone with its grant');
    assert.equal(await tokens.find('rat-1'), undefined);
  });

  it('refuses records over 16 kB for what anyone may create without signing in', async () => {
    const big = { jti: 'x', client_name: 'x'.repeat(MAX_ANONYMOUS_RECORD_BYTES) };
    for (const model of ['Client', 'RegistrationAccessToken', 'Interaction', 'DeviceCode']) {
      await assert.rejects(new Store(model).upsert('x', big, 60), { error: 'invalid_request' }, model);
      assert.equal(await store.get(keys.record(model, 'x')), undefined, model);
    }
    await new Store('Session').upsert('x', big, 60);
  });

  it('finds by uid and by user code', async () => {
    const sessions = new Store('Session');
    await sessions.upsert('sess-1', { jti: 'sess-1', uid: 'uid-1', accountId: 'alice' }, 60);
    assert.deepEqual(await sessions.findByUid('uid-1'), { jti: 'sess-1', uid: 'uid-1', accountId: 'alice' });
    assert.equal(await sessions.findByUid('uid-2'), undefined);

    const devices = new Store('DeviceCode');
    await devices.upsert('dc-1', { jti: 'dc-1', userCode: 'ABCD-EFGH', grantId: 'g1' }, 60);
    assert.deepEqual(await devices.findByUserCode('ABCD-EFGH'), { jti: 'dc-1', userCode: 'ABCD-EFGH', grantId: 'g1' });
    assert.equal(await devices.findByUserCode('ZZZZ-ZZZZ'), undefined);

    // The lookups expire with their records.
    now = START + 60_000;
    assert.equal(await sessions.findByUid('uid-1'), undefined);
    assert.equal(await devices.findByUserCode('ABCD-EFGH'), undefined);
  });

  it('findByUid finds nothing once the record is destroyed', async () => {
    const sessions = new Store('Session');
    await sessions.upsert('sess-1', { jti: 'sess-1', uid: 'uid-1' }, 60);
    await sessions.destroy('sess-1');
    assert.equal(await sessions.findByUid('uid-1'), undefined);
    assert.equal(await sessions.find('sess-1'), undefined);
  });

  it('consume marks consumable models and keeps the record', async () => {
    for (const model of ['AuthorizationCode', 'RefreshToken', 'DeviceCode', 'BackchannelAuthenticationRequest']) {
      const adapter = new Store(model);
      await adapter.upsert('id-1', { jti: 'id-1', grantId: 'g1' }, 60);
      now = START + 5_000;
      await adapter.consume('id-1');
      assert.deepEqual(await adapter.find('id-1'), { jti: 'id-1', grantId: 'g1', consumed: START / 1000 + 5 }, model);
      // Consuming does not extend the record's life.
      now = START + 60_000;
      assert.equal(await adapter.find('id-1'), undefined, model);
      now = START;
      await adapter.consume('missing');
      assert.equal(await adapter.find('missing'), undefined, 'consume does not create records');
    }
  });

  it('consume is single use under races: one caller consumes, every other is a replay that ends the grant', async () => {
    const replays: string[] = [];
    Store = createAdapterClass(store, { onReplay: async (grantId) => void replays.push(grantId) });
    for (const model of ['AuthorizationCode', 'RefreshToken', 'DeviceCode']) {
      replays.length = 0;
      const adapter = new Store(model);
      await adapter.upsert('race', { jti: 'race', grantId: 'g-race', exp: START / 1000 + 60 }, 60);
      const outcomes = await Promise.allSettled(Array.from({ length: 6 }, () => adapter.consume('race')));
      assert.equal(outcomes.filter((o) => o.status === 'fulfilled').length, 1, model);
      for (const o of outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected')) {
        assert.equal((o.reason as { error?: string }).error, 'invalid_grant', model);
      }
      assert.deepEqual(replays, Array(5).fill('g-race'), model);
      await adapter.destroy('race');
      assert.equal(await store.get(`consumed:${keys.record(model, 'race')}`), undefined, 'destroy takes the marker along');
    }
  });

  it('a refresh token consumed again within the grace window is served; after it, it is a replay', async () => {
    const replays: string[] = [];
    Store = createAdapterClass(store, { refreshReplayGraceSeconds: 2, onReplay: async (grantId) => void replays.push(grantId) });
    const tokens = new Store('RefreshToken');
    await tokens.upsert('rt', { jti: 'rt', grantId: 'g1', exp: START / 1000 + 600 }, 600);
    await tokens.consume('rt');
    now = START + 1_999;
    await tokens.consume('rt');
    assert.deepEqual(replays, []);
    now = START + 2_000;
    await assert.rejects(tokens.consume('rt'), { error: 'invalid_grant' });
    assert.deepEqual(replays, ['g1']);
    // Codes have no grace.
    const codes = new Store('AuthorizationCode');
    await codes.upsert('c', { jti: 'c', grantId: 'g2' }, 60);
    await codes.consume('c');
    await assert.rejects(codes.consume('c'), { error: 'invalid_grant' });
  });

  it('a record consumed before single use was atomic (no marker) is consumed', async () => {
    const tokens = new Store('AuthorizationCode');
    await tokens.upsert('old', { jti: 'old', grantId: 'g1', consumed: START / 1000 - 100 }, 60);
    await assert.rejects(tokens.consume('old'), { error: 'invalid_grant' });
  });

  it('consume leaves other models alone', async () => {
    for (const model of ['AccessToken', 'ClientCredentials', 'Session', 'Grant', 'Interaction']) {
      const adapter = new Store(model);
      await adapter.upsert('id-1', { jti: 'id-1' }, 60);
      await adapter.consume('id-1');
      assert.deepEqual(await adapter.find('id-1'), { jti: 'id-1' }, model);
    }
  });

  it('destroy removes one record', async () => {
    const tokens = new Store('AccessToken');
    await tokens.upsert('at-1', { jti: 'at-1', grantId: 'g1' }, 60);
    await tokens.upsert('at-2', { jti: 'at-2', grantId: 'g1' }, 60);
    await tokens.destroy('at-1');
    assert.equal(await tokens.find('at-1'), undefined);
    assert.deepEqual(await tokens.find('at-2'), { jti: 'at-2', grantId: 'g1' });
    await tokens.destroy('missing');
  });

  it('indexes tokens under their grant', async () => {
    await new Store('AccessToken').upsert('at-1', { jti: 'at-1', grantId: 'g1' }, 60);
    await new Store('RefreshToken').upsert('rt-1', { jti: 'rt-1', grantId: 'g1' }, 3600);
    await new Store('AccessToken').upsert('at-2', { jti: 'at-2' }, 60);
    assert.deepEqual((await store.indexMembers(keys.grantIndex('g1'))).sort(), ['AccessToken:at-1', 'RefreshToken:rt-1']);
    now = START + 60_000;
    assert.deepEqual(await store.indexMembers(keys.grantIndex('g1')), ['RefreshToken:rt-1'], 'index entries expire with their tokens');
  });

  it("revokeByGrantId removes every token of the grant across models, not other grants'", async () => {
    const models = ['AccessToken', 'RefreshToken', 'AuthorizationCode', 'DeviceCode'];
    for (const model of models) {
      await new Store(model).upsert(`${model}-g1`, { jti: `${model}-g1`, grantId: 'g1' }, 600);
      await new Store(model).upsert(`${model}-g2`, { jti: `${model}-g2`, grantId: 'g2' }, 600);
    }
    await new Store('Grant').upsert('g1', { jti: 'g1', accountId: 'alice' }, 600);

    await new Store('AccessToken').revokeByGrantId('g1');
    for (const model of models) {
      assert.equal(await new Store(model).find(`${model}-g1`), undefined, `${model} of g1`);
      assert.deepEqual(await new Store(model).find(`${model}-g2`), { jti: `${model}-g2`, grantId: 'g2' }, `${model} of g2`);
    }
    assert.deepEqual(await store.indexMembers(keys.grantIndex('g1')), []);
    assert.equal((await store.indexMembers(keys.grantIndex('g2'))).length, models.length);
    // Only the tokens: the Grant record itself is the provider's to destroy.
    assert.deepEqual(await new Store('Grant').find('g1'), { jti: 'g1', accountId: 'alice' });
  });

  it('destroying a Grant removes its tokens (and whatever else is indexed under it)', async () => {
    const grants = new Store('Grant');
    const tokens = new Store('AccessToken');
    const refresh = new Store('RefreshToken');
    await grants.upsert('g1', { jti: 'g1', accountId: 'alice' }, 600);
    await grants.upsert('g2', { jti: 'g2', accountId: 'bob' }, 600);
    await tokens.upsert('at-1', { jti: 'at-1', grantId: 'g1' }, 60);
    await refresh.upsert('rt-1', { jti: 'rt-1', grantId: 'g1' }, 600);
    await tokens.upsert('at-2', { jti: 'at-2', grantId: 'g2' }, 60);
    await store.set('upstream:g1', 'sealed', 600);
    await store.indexAdd(keys.grantIndex('g1'), 'upstream:g1', START / 1000 + 600);

    await grants.destroy('g1');
    assert.equal(await grants.find('g1'), undefined);
    assert.equal(await tokens.find('at-1'), undefined);
    assert.equal(await refresh.find('rt-1'), undefined);
    assert.equal(await store.get('upstream:g1'), undefined);
    assert.deepEqual(await grants.find('g2'), { jti: 'g2', accountId: 'bob' });
    assert.deepEqual(await tokens.find('at-2'), { jti: 'at-2', grantId: 'g2' });

    // Destroying another model's record with the same id does not touch the grant index.
    await tokens.upsert('at-3', { jti: 'at-3', grantId: 'g2' }, 60);
    await new Store('Session').destroy('g2');
    assert.deepEqual(await tokens.find('at-3'), { jti: 'at-3', grantId: 'g2' });
  });
});
