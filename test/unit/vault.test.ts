import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { UpstreamTokenVault, type UpstreamTokens } from '../../src/identity/vault.js';
import { destroyGrant } from '../../src/grants/end.js';
import { createAdapterClass } from '../../src/provider/adapter.js';
import { keys } from '../../src/storage/keys.js';
import { MemoryStore } from '../../src/storage/memory-store.js';

const TOKENS: UpstreamTokens = {
  accessToken: 'upstream-access-token-0123456789',
  refreshToken: 'upstream-refresh-token-9876543210',
  expiresAt: 1_900_000_000,
  scope: 'openid email',
  tokenType: 'Bearer',
};
const keyId = (key: Buffer): string => createHash('sha256').update(key).digest('hex').slice(0, 8);

/** Flips one bit of the decoded base64url part `index` of a sealed value. */
function tamper(sealed: string, index: number): string {
  const parts = sealed.split('.');
  const bytes = Buffer.from(parts[index]!, 'base64url');
  bytes[0] = bytes[0]! ^ 0x01;
  parts[index] = bytes.toString('base64url');
  return parts.join('.');
}

describe('UpstreamTokenVault', () => {
  const realNow = Date.now;
  let store: MemoryStore;
  const keyA = randomBytes(32);
  const keyB = randomBytes(32);

  beforeEach(() => {
    store = new MemoryStore();
  });
  afterEach(async () => {
    Date.now = realNow;
    await store.close();
  });

  it('refuses keys that are not 32 bytes, and no keys', () => {
    assert.throws(() => new UpstreamTokenVault(store, []), { message: 'vault keys must be 32 bytes each' });
    assert.throws(() => new UpstreamTokenVault(store, [keyA, randomBytes(16)]), { message: 'vault keys must be 32 bytes each' });
  });

  it('round-trips tokens through the store', async () => {
    const vault = new UpstreamTokenVault(store, [keyA]);
    await vault.save('grant-1', TOKENS, 3600);
    assert.deepEqual(await vault.load('grant-1'), TOKENS);
    assert.deepEqual(await new UpstreamTokenVault(store, [keyA]).load('grant-1'), TOKENS);
    await vault.save('grant-2', { accessToken: 'only-access' }, 3600);
    assert.deepEqual(await vault.load('grant-2'), { accessToken: 'only-access' });
    assert.equal(await vault.load('grant-3'), undefined);
  });

  it('stores ciphertext under upstream:<grantId>, not the tokens', async () => {
    const vault = new UpstreamTokenVault(store, [keyA]);
    await vault.save('grant-1', TOKENS, 3600);
    const sealed = await store.get('upstream:grant-1');
    assert.ok(sealed);
    const parts = sealed.split('.');
    assert.equal(parts.length, 5);
    assert.equal(parts[0], 'v1');
    assert.equal(parts[1], keyId(keyA));
    assert.equal(Buffer.from(parts[2]!, 'base64url').length, 12, 'a 96-bit IV');
    assert.equal(Buffer.from(parts[4]!, 'base64url').length, 16, 'a 128-bit tag');
    for (const secret of [TOKENS.accessToken, TOKENS.refreshToken!, 'openid email', Buffer.from(TOKENS.accessToken).toString('base64url')]) {
      assert.equal(sealed.includes(secret), false, `the stored value contains ${secret}`);
    }
    // A fresh IV every time: the same tokens never give the same ciphertext.
    assert.notEqual(vault.encrypt('grant-1', TOKENS), vault.encrypt('grant-1', TOKENS));
  });

  it('binds the ciphertext to its grant (AAD)', async () => {
    const vault = new UpstreamTokenVault(store, [keyA]);
    await vault.save('grant-1', TOKENS, 3600);
    const sealed = (await store.get('upstream:grant-1'))!;
    assert.deepEqual(vault.decrypt('grant-1', sealed), TOKENS);
    assert.equal(vault.decrypt('grant-2', sealed), undefined);
    // Moved to another grant's key in the store, it does not load either.
    await store.set('upstream:grant-2', sealed, 3600);
    assert.equal(await vault.load('grant-2'), undefined);
  });

  it('refuses tampered or malformed values', async () => {
    const vault = new UpstreamTokenVault(store, [keyA]);
    const sealed = vault.encrypt('grant-1', TOKENS);
    assert.deepEqual(vault.decrypt('grant-1', sealed), TOKENS);
    assert.equal(vault.decrypt('grant-1', tamper(sealed, 2)), undefined, 'tampered IV');
    assert.equal(vault.decrypt('grant-1', tamper(sealed, 3)), undefined, 'tampered body');
    assert.equal(vault.decrypt('grant-1', tamper(sealed, 4)), undefined, 'tampered tag');
    assert.equal(vault.decrypt('grant-1', sealed.replace(/^v1\./, 'v2.')), undefined, 'unknown version');
    assert.equal(vault.decrypt('grant-1', sealed.split('.').slice(0, 4).join('.')), undefined, 'no tag');
    assert.equal(vault.decrypt('grant-1', ''), undefined);
    assert.equal(vault.decrypt('grant-1', 'garbage'), undefined);

    await store.set('upstream:grant-1', tamper(sealed, 3), 3600);
    assert.equal(await vault.load('grant-1'), undefined);
  });

  it('rotates keys: the first key encrypts, every key decrypts', async () => {
    const vaultA = new UpstreamTokenVault(store, [keyA]);
    const vaultBA = new UpstreamTokenVault(store, [keyB, keyA]);
    const vaultB = new UpstreamTokenVault(store, [keyB]);
    await vaultA.save('grant-1', TOKENS, 3600);
    assert.ok((await store.get('upstream:grant-1'))!.startsWith(`v1.${keyId(keyA)}.`));

    assert.deepEqual(await vaultBA.load('grant-1'), TOKENS);
    assert.equal(await vaultB.load('grant-1'), undefined, 'a vault without key A cannot read it');

    const next = { ...TOKENS, accessToken: 'rotated-access' };
    assert.equal(await vaultBA.update('grant-1', next), true);
    assert.ok((await store.get('upstream:grant-1'))!.startsWith(`v1.${keyId(keyB)}.`));
    assert.deepEqual(await vaultB.load('grant-1'), next);
    assert.equal(await vaultA.load('grant-1'), undefined, 'key A alone cannot read what key B wrote');

    await vaultBA.save('grant-2', TOKENS, 3600);
    assert.ok((await store.get('upstream:grant-2'))!.startsWith(`v1.${keyId(keyB)}.`));
  });

  it('update replaces the tokens and keeps the expiry; false for a missing grant', async () => {
    let now = 1_700_000_000_000;
    Date.now = () => now;
    const vault = new UpstreamTokenVault(store, [keyA]);
    await vault.save('grant-1', TOKENS, 100);

    now += 50_000;
    const next = { accessToken: 'new-access', refreshToken: 'new-refresh' };
    assert.equal(await vault.update('grant-1', next), true);
    assert.deepEqual(await vault.load('grant-1'), next);
    const again = { accessToken: 'newer-access' };
    assert.equal(await vault.update('grant-1', again), true);
    assert.deepEqual(await vault.load('grant-1'), again);

    now = 1_700_000_000_000 + 99_999;
    assert.deepEqual(await vault.load('grant-1'), again);
    now = 1_700_000_000_000 + 100_000;
    assert.equal(await vault.load('grant-1'), undefined, 'the update did not extend the original lifetime');
    assert.equal(await vault.update('grant-1', next), false, 'expired grants are not revived');
    assert.equal(await vault.load('grant-1'), undefined);

    assert.equal(await vault.update('missing', next), false);
    assert.equal(await store.get('upstream:missing'), undefined);
  });

  it('registers the tokens under the grant, so destroying the grant removes them', async () => {
    const vault = new UpstreamTokenVault(store, [keyA]);
    await vault.save('grant-1', TOKENS, 3600);
    await vault.save('grant-2', TOKENS, 3600);
    assert.deepEqual(await store.indexMembers(keys.grantIndex('grant-1')), ['upstream:grant-1']);

    await destroyGrant(store, 'grant-1');
    assert.equal(await vault.load('grant-1'), undefined);
    assert.equal(await store.get('upstream:grant-1'), undefined);
    assert.deepEqual(await store.indexMembers(keys.grantIndex('grant-1')), []);
    assert.deepEqual(await vault.load('grant-2'), TOKENS, 'other grants keep their tokens');
  });

  it('goes with its grant when the provider destroys the Grant record', async () => {
    const Adapter = createAdapterClass(store);
    const grants = new Adapter('Grant');
    await grants.upsert('grant-1', { jti: 'grant-1', accountId: 'alice', clientId: 'client' }, 3600);
    const vault = new UpstreamTokenVault(store, [keyA]);
    await vault.save('grant-1', TOKENS, 3600);
    await grants.destroy('grant-1');
    assert.equal(await grants.find('grant-1'), undefined);
    assert.equal(await vault.load('grant-1'), undefined);
  });
});
