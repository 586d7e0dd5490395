// A user's grants for operators: the account → grants index the adapter keeps as grants are
// saved and destroyed, lookup by account id or email, summaries without tokens, revocation.
import assert from 'node:assert/strict';
import type { Adapter } from 'oidc-provider';
import { AccountStore } from '../../src/identity/accounts.js';
import { UpstreamTokenVault } from '../../src/identity/vault.js';
import { destroyGrant } from '../../src/grants/end.js';
import { createAdapterClass } from '../../src/provider/adapter.js';
import { keys } from '../../src/storage/keys.js';
import { UserGrants } from '../../src/provider/user-grants.js';
import { InvalidationBus, type Invalidation } from '../../src/storage/invalidation.js';
import { MemoryStore } from '../../src/storage/memory-store.js';
import { nowSeconds } from '../../src/storage/store.js';

describe('user grants', () => {
  let store: MemoryStore;
  let adapter: (model: string) => Adapter;
  let accounts: AccountStore;
  let grants: UserGrants;
  let vault: UpstreamTokenVault;

  /** A grant as oidc-provider saves it, with tokens and upstream tokens as the proxy stores them. */
  async function signIn(grantId: string, accountId: string, clientId: string, { ttl = 3600, iat = nowSeconds() } = {}): Promise<void> {
    await adapter('Grant').upsert(
      grantId,
      { jti: grantId, kind: 'Grant', accountId, clientId, iat, exp: iat + ttl, openid: { scope: 'openid offline_access' }, resources: { 'https://p.example.com/mcp': 'mcp:tools' } },
      ttl,
    );
    await adapter('AccessToken').upsert(`at-${grantId}`, { jti: `at-${grantId}`, grantId, accountId, clientId }, 600);
    await adapter('RefreshToken').upsert(`rt-${grantId}`, { jti: `rt-${grantId}`, grantId, accountId, clientId }, ttl);
    await vault.save(grantId, { accessToken: `upstream-at-${grantId}`, refreshToken: `upstream-rt-${grantId}` }, ttl);
  }

  beforeEach(async () => {
    store = new MemoryStore();
    const Adapter = createAdapterClass(store);
    adapter = (model) => new Adapter(model);
    accounts = new AccountStore(store, 3600);
    grants = new UserGrants(store, accounts);
    vault = new UpstreamTokenVault(store, [Buffer.alloc(32, 1)]);
    await adapter('Client').upsert('client-1', { client_id: 'client-1', client_name: 'Claude' });
    await accounts.save('user-1', { email: 'Alice@Example.com' });
    await accounts.save('user-2', { email: 'bob@example.com' });
  });
  afterEach(() => store.close());

  it('indexes grants under their account as the adapter saves them, and forgets destroyed ones', async () => {
    await signIn('g1', 'user-1', 'client-1');
    await signIn('g2', 'user-1', 'https://app.example.com/client.json');
    await signIn('g3', 'user-2', 'client-1');
    assert.deepEqual((await store.indexMembers(keys.accountGrants('user-1'))).sort(), ['g1', 'g2']);

    await adapter('Grant').destroy('g1'); // oidc-provider revoking the grant
    assert.deepEqual(await store.indexMembers(keys.accountGrants('user-1')), ['g2']);
    await destroyGrant(store, 'g2'); // the proxy ending it (upstream refresh refused)
    assert.deepEqual(await store.indexMembers(keys.accountGrants('user-1')), []);
    assert.deepEqual(await store.indexMembers(keys.accountGrants('user-2')), ['g3']);
  });

  it('index members expire with their grant', async () => {
    const realNow = Date.now;
    try {
      await signIn('short', 'user-1', 'client-1', { ttl: 60 });
      await signIn('long', 'user-1', 'client-1', { ttl: 3600 });
      const start = Date.now();
      Date.now = () => start + 61_000;
      assert.deepEqual(await store.indexMembers(keys.accountGrants('user-1')), ['long']);
      assert.deepEqual((await grants.list('user-1')).map((g) => g.grantId), ['long']);
    } finally {
      Date.now = realNow;
    }
  });

  it('finds accounts by id, and by email case-insensitively', async () => {
    await signIn('g1', 'user-1', 'client-1');
    assert.deepEqual(await grants.findAccounts('user-1'), ['user-1']);
    assert.deepEqual(await grants.findAccounts('alice@example.com'), ['user-1']);
    assert.deepEqual(await grants.findAccounts('ALICE@EXAMPLE.COM'), ['user-1']);
    assert.deepEqual(await grants.findAccounts('user-2'), ['user-2'], 'an account without grants is still known');
    assert.deepEqual(await grants.findAccounts('nobody'), []);
    assert.deepEqual(await grants.findAccounts('carol@example.com'), []);

    // The email changed at a later sign-in: the old one no longer finds the account.
    await accounts.save('user-1', { email: 'alice@new.example.com' });
    assert.deepEqual(await grants.findAccounts('alice@example.com'), []);
    assert.deepEqual(await grants.findAccounts('alice@new.example.com'), ['user-1']);
  });

  it('describes each grant without any token, oldest first', async () => {
    const now = nowSeconds();
    await signIn('g2', 'user-1', 'https://app.example.com/client.json', { iat: now - 10 });
    await signIn('g1', 'user-1', 'client-1', { iat: now - 20 });
    const listed = await grants.list('user-1');
    assert.deepEqual(listed[0], {
      grantId: 'g1',
      accountId: 'user-1',
      email: 'Alice@Example.com',
      clientId: 'client-1',
      clientName: 'Claude',
      scopes: ['openid', 'offline_access', 'mcp:tools'],
      createdAt: now - 20,
      expiresAt: now - 20 + 3600,
      tokens: { access: 1, refresh: 1 },
      upstream: true,
    });
    assert.equal(listed[1]!.grantId, 'g2');
    assert.equal(listed[1]!.clientName, undefined, 'no stored registration: the client id says who it is');
    assert.doesNotMatch(JSON.stringify(listed), /at-g|rt-g|upstream-/, 'token ids (the tokens themselves) are counted, never listed');
    assert.deepEqual(await grants.list('nobody'), []);
  });

  it('revokes a grant: records, tokens, upstream tokens and the index entry, told to every instance', async () => {
    await signIn('g1', 'user-1', 'client-1');
    await signIn('g2', 'user-1', 'client-1');
    const bus = new InvalidationBus(store);
    const heard: (Invalidation | 'everything')[] = [];
    bus.on((i) => heard.push(i));
    const ended: string[] = [];

    const revoked = await grants.revoke('g1', { bus, onGrantEnd: async (id) => void ended.push(`${id}:${(await vault.load(id))?.accessToken}`) });
    assert.equal(revoked?.grantId, 'g1');
    assert.deepEqual(ended, ['g1:upstream-at-g1'], 'told while the upstream tokens can still be read (to revoke them at the IdP)');
    assert.deepEqual(heard, [{ grantId: 'g1' }]);
    assert.equal(await grants.get('g1'), undefined);
    assert.equal(await adapter('AccessToken').find('at-g1'), undefined);
    assert.equal(await adapter('RefreshToken').find('rt-g1'), undefined);
    assert.equal(await vault.load('g1'), undefined);
    assert.deepEqual((await grants.list('user-1')).map((g) => g.grantId), ['g2'], 'the other grant lives on');

    assert.equal(await grants.revoke('g1', { bus }), undefined, 'already gone');
    assert.deepEqual(heard, [{ grantId: 'g1' }]);
  });
});
