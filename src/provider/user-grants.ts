// A user's grants as operators see them: found by account id (the upstream `sub`) or email,
// described without any token (record keys of opaque tokens are the tokens themselves, so the
// grant's index is only counted, never shown), and revoked one by one.
import type { AdapterPayload } from 'oidc-provider';
import type { AccountStore } from '../identity/accounts.js';
import type { KeyValueStore } from '../storage/store.js';
import { destroyGrant, type DestroyGrant } from '../grants/end.js';
import { keys } from '../storage/keys.js';

export interface GrantSummary {
  grantId: string;
  accountId: string;
  email: string | undefined;
  clientId: string;
  /** The client's registered name, when it has a stored registration. */
  clientName: string | undefined;
  scopes: string[];
  /** Epoch seconds. */
  createdAt: number | undefined;
  expiresAt: number | undefined;
  /** How many live tokens the grant holds (counted, never listed). */
  tokens: { access: number; refresh: number };
  /** False once its upstream tokens are gone: it can no longer reach the MCP server. */
  upstream: boolean;
}

interface GrantPayload extends AdapterPayload {
  openid?: { scope?: string };
  resources?: Record<string, string>;
}

export class UserGrants {
  constructor(
    private readonly store: KeyValueStore,
    private readonly accounts: AccountStore,
  ) {}

  /** Account ids matching `user`: the account id itself, and (when it looks like one) accounts with that email. */
  async findAccounts(user: string): Promise<string[]> {
    const found = new Set<string>();
    if ((await this.accounts.exists(user)) || (await this.store.indexMembers(keys.accountGrants(user))).length > 0) found.add(user);
    if (user.includes('@')) for (const id of await this.accounts.findByEmail(user)) found.add(id);
    return [...found];
  }

  /** The user's live grants, oldest first. */
  async list(accountId: string): Promise<GrantSummary[]> {
    const ids = await this.store.indexMembers(keys.accountGrants(accountId));
    const grants = await Promise.all(ids.map((id) => this.get(id)));
    return grants
      .filter((g): g is GrantSummary => g !== undefined && g.accountId === accountId)
      .sort((a, b) => (a.createdAt ?? 0) - (b.createdAt ?? 0));
  }

  async get(grantId: string): Promise<GrantSummary | undefined> {
    const raw = await this.store.get(keys.record('Grant', grantId));
    if (raw === undefined) return undefined;
    const grant = JSON.parse(raw) as GrantPayload;
    const accountId = String(grant.accountId);
    const clientId = String(grant.clientId);
    const members = await this.store.indexMembers(keys.grantIndex(grantId));
    const count = (model: string) => members.filter((key) => key.startsWith(keys.recordPrefix(model))).length;
    const scopes = [grant.openid?.scope, ...Object.values(grant.resources ?? {})].flatMap((s) => (s ? s.split(' ') : []));
    return {
      grantId,
      accountId,
      email: (await this.accounts.find(accountId)).email,
      clientId,
      clientName: await this.#clientName(clientId),
      scopes: [...new Set(scopes.filter(Boolean))],
      createdAt: typeof grant.iat === 'number' ? grant.iat : undefined,
      expiresAt: typeof grant.exp === 'number' ? grant.exp : undefined,
      tokens: { access: count('AccessToken'), refresh: count('RefreshToken') },
      upstream: members.some((key) => key.startsWith(keys.upstreamTokensPrefix)),
    };
  }

  /**
   * Ends the grant everywhere (its tokens and upstream tokens deleted, every instance's caches told
   * through `end.bus`, `end.onGrantEnd` first, `end.audit` last); undefined when there was no such grant.
   */
  async revoke(grantId: string, end: DestroyGrant): Promise<GrantSummary | undefined> {
    const grant = await this.get(grantId);
    if (!grant) return undefined;
    await destroyGrant(this.store, grantId, end);
    return grant;
  }

  async #clientName(clientId: string): Promise<string | undefined> {
    const raw = await this.store.get(keys.record('Client', clientId));
    const name = raw === undefined ? undefined : (JSON.parse(raw) as { client_name?: unknown }).client_name;
    return typeof name === 'string' ? name : undefined;
  }
}
