// Upstream IdP tokens, stored per grant and encrypted at rest with AES-256-GCM. The grant id is
// the additional authenticated data, so a ciphertext cannot be moved to another grant. Several
// keys allow rotation: the first encrypts, every key decrypts.
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { nowSeconds, type KeyValueStore } from '../storage/store.js';
import { keys } from '../storage/keys.js';

export interface UpstreamTokens {
  accessToken: string;
  refreshToken?: string;
  /** Epoch seconds at which the access token expires, when the IdP said. */
  expiresAt?: number;
  scope?: string;
  tokenType?: string;
  /** The IDENTITY_PROVIDERS block it came from (unset: the only provider). */
  provider?: string;
}

const keyId = (key: Buffer): string => createHash('sha256').update(key).digest('hex').slice(0, 8);

export class UpstreamTokenVault {
  readonly #keys: Map<string, Buffer>;
  readonly #current: { id: string; key: Buffer };

  constructor(
    private readonly store: KeyValueStore,
    keys: Buffer[],
  ) {
    if (keys.length === 0 || keys.some((k) => k.length !== 32)) throw new Error('vault keys must be 32 bytes each');
    this.#keys = new Map(keys.map((k) => [keyId(k), k]));
    this.#current = { id: keyId(keys[0]!), key: keys[0]! };
  }

  encrypt(grantId: string, tokens: UpstreamTokens): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.#current.key, iv).setAAD(Buffer.from(grantId));
    const body = Buffer.concat([cipher.update(JSON.stringify(tokens), 'utf8'), cipher.final()]);
    return ['v1', this.#current.id, iv, body, cipher.getAuthTag()]
      .map((part) => (typeof part === 'string' ? part : part.toString('base64url')))
      .join('.');
  }

  /** Undefined when the value was written with a key we no longer have, or tampered with. */
  decrypt(grantId: string, sealed: string): UpstreamTokens | undefined {
    const [version, id, iv, body, tag] = sealed.split('.');
    const key = id ? this.#keys.get(id) : undefined;
    if (version !== 'v1' || !key || !iv || !body || !tag) return undefined;
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'))
        .setAAD(Buffer.from(grantId))
        .setAuthTag(Buffer.from(tag, 'base64url'));
      const plain = Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]);
      return JSON.parse(plain.toString('utf8')) as UpstreamTokens;
    } catch {
      return undefined;
    }
  }

  /** Stores the tokens for as long as the grant lives; destroying the grant deletes them. */
  async save(grantId: string, tokens: UpstreamTokens, ttlSeconds: number): Promise<void> {
    const key = keys.upstreamTokens(grantId);
    await this.store.set(key, this.encrypt(grantId, tokens), ttlSeconds);
    await this.store.indexAdd(keys.grantIndex(grantId), key, nowSeconds() + ttlSeconds);
  }

  /** Replaces the tokens of a live grant, keeping its expiry. False when the grant is gone. */
  async update(grantId: string, tokens: UpstreamTokens): Promise<boolean> {
    return this.store.replace(keys.upstreamTokens(grantId), this.encrypt(grantId, tokens));
  }

  /**
   * After a key rotation: rewrites every entry not sealed with the current key (keeping its
   * expiry), so older keys can be removed. Entries no key opens are counted, not touched.
   */
  async reencryptAll(): Promise<{ reencrypted: number; current: number; unreadable: number }> {
    const counts = { reencrypted: 0, current: 0, unreadable: 0 };
    for await (const key of this.store.keysWithPrefix(keys.upstreamTokensPrefix)) {
      const grantId = key.slice(keys.upstreamTokensPrefix.length);
      const sealed = await this.store.get(key);
      if (sealed === undefined) continue;
      if (sealed.split('.')[1] === this.#current.id) {
        counts.current++;
        continue;
      }
      const tokens = this.decrypt(grantId, sealed);
      if (!tokens) {
        counts.unreadable++;
        continue;
      }
      if (await this.update(grantId, tokens)) counts.reencrypted++;
    }
    return counts;
  }

  async load(grantId: string): Promise<UpstreamTokens | undefined> {
    const sealed = await this.store.get(keys.upstreamTokens(grantId));
    return sealed === undefined ? undefined : this.decrypt(grantId, sealed);
  }
}
