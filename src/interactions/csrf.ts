// A single-use anti-CSRF token per interaction, checked when the confirm form is posted.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { KeyValueStore } from '../storage/store.js';

const TTL_SECONDS = 600;
const key = (uid: string): string => `csrf:${uid}`;

export class CsrfTokens {
  constructor(private readonly store: KeyValueStore) {}

  async issue(uid: string): Promise<string> {
    const token = randomBytes(24).toString('base64url');
    await this.store.set(key(uid), token, TTL_SECONDS);
    return token;
  }

  async redeem(uid: string, presented: unknown): Promise<boolean> {
    const expected = await this.store.take(key(uid));
    if (expected === undefined || typeof presented !== 'string') return false;
    const a = Buffer.from(expected);
    const b = Buffer.from(presented);
    return a.length === b.length && timingSafeEqual(a, b);
  }
}
