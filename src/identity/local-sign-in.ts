// Local accounts (IDENTITY_PROVIDER=local): the proxy is its own identity provider, for teams
// without one. Passwords are checked against argon2id (argon2) or bcrypt (bcryptjs) hashes, never
// with crypto of our own; an unknown name costs the same hash check as a known one, so timing
// does not tell which names exist. Failures are counted per account and per address, and a
// sign-in that succeeds leaves a one-time code, bound to its upstream `state`, that the callback
// redeems exactly as it would an IdP's.
import { randomBytes } from 'node:crypto';
import argon2 from 'argon2';
import bcrypt from 'bcryptjs';
import { Secret, TOTP } from 'otpauth';
import type { LocalUser } from '../config/parsers.js';
import { keys } from '../storage/keys.js';
import type { KeyValueStore } from '../storage/store.js';

/** Who signed in, in the shape the upstream identity gives (upstream.ts; not imported: it imports this). */
export interface LocalIdentity {
  subject: string;
  claims: { email?: string; email_verified?: boolean; name?: string };
  profile: Record<string, unknown>;
}

/** Failed sign-ins allowed per account, and per client address, in FAILURE_WINDOW_SECONDS. */
export const MAX_FAILURES_PER_ACCOUNT = 5;
export const MAX_FAILURES_PER_ADDRESS = 20;
export const FAILURE_WINDOW_SECONDS = 15 * 60;
const CODE_TTL_SECONDS = 60;

/** Hashes a password for IDENTITY_LOCAL_USERS: argon2id with the library's defaults (OWASP's). */
export const hashPassword = (password: string): Promise<string> => argon2.hash(password, { type: argon2.argon2id });

export type PasswordCheck = { ok: true; user: LocalUser } | { ok: false; reason: 'wrong' | 'throttled' };

/** RFC 6238 as authenticator apps do it: SHA-1, 6 digits, 30 s; a step either side for clock drift. */
const TOTP_WINDOW = 1;
const TOTP_USED_TTL_SECONDS = 120;
const totpOf = (secret: string): TOTP => new TOTP({ secret: Secret.fromBase32(secret), algorithm: 'SHA1', digits: 6, period: 30 });

/** A new TOTP secret for an account, and the otpauth:// URI an authenticator app scans. */
export function newTotpSecret(name: string, issuer: string): { secret: string; uri: string } {
  const secret = new Secret({ size: 20 });
  const totp = new TOTP({ issuer, label: name, secret, algorithm: 'SHA1', digits: 6, period: 30 });
  return { secret: secret.base32, uri: totp.toString() };
}

interface CodeRecord {
  name: string;
  state: string;
}

export class LocalSignIn {
  readonly #users: Map<string, LocalUser>;
  /** Checked when the name is unknown, so that an unknown name takes as long as a wrong password. */
  readonly #decoy: Promise<string>;

  constructor(
    users: readonly LocalUser[],
    private readonly store: KeyValueStore,
  ) {
    this.#users = new Map(users.map((user) => [user.name.toLowerCase(), user]));
    this.#decoy = hashPassword(randomBytes(16).toString('hex'));
  }

  /** Whether any account has a second factor: the page then asks for a code. */
  get usesTotp(): boolean {
    return [...this.#users.values()].some((user) => user.totp !== undefined);
  }

  /**
   * Checks a password (and, for an account with a TOTP secret, the authenticator's code, usable
   * once), unless the account or the address has failed too often lately.
   */
  async check(name: string, password: string, address: string, code = ''): Promise<PasswordCheck> {
    if (await this.#throttled(name, address)) return { ok: false, reason: 'throttled' };
    const user = this.#users.get(name.toLowerCase());
    const matches = await verify(user?.hash ?? (await this.#decoy), password);
    if (user && matches && (await this.#secondFactor(user, code))) {
      await this.store.del(keys.loginFailures('account', user.name));
      return { ok: true, user };
    }
    await this.store.increment(keys.loginFailures('account', name), FAILURE_WINDOW_SECONDS);
    await this.store.increment(keys.loginFailures('address', address), FAILURE_WINDOW_SECONDS);
    return { ok: false, reason: 'wrong' };
  }

  /** True without a TOTP secret; else a current code not used before (a replay is refused). */
  async #secondFactor(user: LocalUser, code: string): Promise<boolean> {
    if (!user.totp) return true;
    const token = code.replace(/\s/g, '');
    if (!/^\d{6}$/.test(token)) return false;
    const totp = totpOf(user.totp);
    const delta = totp.validate({ token, window: TOTP_WINDOW });
    if (delta === null) return false;
    return this.store.setIfAbsent(keys.totpUsed(user.name, totp.counter() + delta), '1', TOTP_USED_TTL_SECONDS);
  }

  async #throttled(name: string, address: string): Promise<boolean> {
    const [account, fromAddress] = await Promise.all([
      this.store.get(keys.loginFailures('account', name)),
      this.store.get(keys.loginFailures('address', address)),
    ]);
    return Number(account ?? 0) >= MAX_FAILURES_PER_ACCOUNT || Number(fromAddress ?? 0) >= MAX_FAILURES_PER_ADDRESS;
  }

  /** The one-time code the callback redeems for this sign-in (`state` is its upstream state). */
  async issueCode(user: LocalUser, state: string): Promise<string> {
    const code = randomBytes(32).toString('base64url');
    await this.store.set(keys.localCode(code), JSON.stringify({ name: user.name, state } satisfies CodeRecord), CODE_TTL_SECONDS);
    return code;
  }

  /** Who signed in, from the callback's query; undefined when the code is unknown, used or not this sign-in's. */
  async redeem(query: URLSearchParams, state: string): Promise<LocalIdentity | undefined> {
    const code = query.get('code');
    if (!code || query.get('state') !== state) return undefined;
    const raw = await this.store.take(keys.localCode(code));
    if (raw === undefined) return undefined;
    const record = JSON.parse(raw) as CodeRecord;
    if (record.state !== state || !this.#users.has(record.name.toLowerCase())) return undefined;
    const email = record.name.includes('@') ? record.name : undefined;
    // The operator wrote the address down: it is as verified as the account.
    const claims = { name: record.name, ...(email ? { email, email_verified: true } : {}) };
    return { subject: record.name, claims, profile: { sub: record.name, ...claims } };
  }
}

async function verify(hash: string, password: string): Promise<boolean> {
  try {
    return hash.startsWith('$argon2') ? await argon2.verify(hash, password) : await bcrypt.compare(password, hash);
  } catch {
    return false;
  }
}
