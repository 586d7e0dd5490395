// Per-IdP in-memory storage implementing oidc-provider's Adapter contract, for the development
// identity provider. Its own store, not oidc-provider's built-in memory adapter: that one is a
// process-wide LRU shared with any other oidc-provider in the process (the proxy itself), and it
// cannot enumerate or drop tokens (which the tests do).
import type { Adapter, AdapterPayload } from 'oidc-provider';

interface Entry {
  payload: AdapterPayload;
  expiresAt?: number; // epoch ms
}

export class MemoryAdapterStore {
  private readonly entries = new Map<string, Entry>();
  private readonly uidIndex = new Map<string, string>(); // session uid -> key
  private readonly userCodeIndex = new Map<string, string>();
  private readonly grantIndex = new Map<string, Set<string>>(); // grantId -> keys

  adapterFor(model: string): Adapter {
    const key = (id: string) => `${model}:${id}`;
    return {
      upsert: async (id, payload, expiresIn) => {
        const k = key(id);
        this.entries.set(k, { payload, expiresAt: expiresIn ? Date.now() + expiresIn * 1000 : undefined });
        if (model === 'Session' && payload.uid) this.uidIndex.set(payload.uid, k);
        if (payload.userCode) this.userCodeIndex.set(payload.userCode, k);
        if (payload.grantId && model !== 'Grant' && model !== 'Session') {
          const set = this.grantIndex.get(payload.grantId) ?? new Set<string>();
          set.add(k);
          this.grantIndex.set(payload.grantId, set);
        }
      },
      find: async (id) => this.get(key(id)),
      findByUid: async (uid) => this.get(this.uidIndex.get(uid)),
      findByUserCode: async (code) => this.get(this.userCodeIndex.get(code)),
      consume: async (id) => {
        const e = this.entries.get(key(id));
        if (e) e.payload.consumed = Math.floor(Date.now() / 1000);
      },
      destroy: async (id) => {
        this.entries.delete(key(id));
      },
      revokeByGrantId: async (grantId) => {
        for (const k of this.grantIndex.get(grantId) ?? []) this.entries.delete(k);
        this.grantIndex.delete(grantId);
      },
    };
  }

  /** Drops every stored instance of a model (e.g. all access tokens). */
  deleteModel(model: string): void {
    for (const k of this.entries.keys()) if (k.startsWith(`${model}:`)) this.entries.delete(k);
  }

  private get(k: string | undefined): AdapterPayload | undefined {
    if (k === undefined) return undefined;
    const e = this.entries.get(k);
    if (!e) return undefined;
    if (e.expiresAt !== undefined && e.expiresAt <= Date.now()) {
      this.entries.delete(k);
      return undefined;
    }
    return e.payload;
  }
}
