// The state of one upstream sign-in, created only after the user confirmed, valid 10 minutes
// and usable once. Its `state` value is what the IdP sends back to our fixed callback URL.
import type { KeyValueStore } from '../storage/store.js';
import type { AuthorizationChecks } from '../identity/upstream.js';

export interface UpstreamSignIn extends AuthorizationChecks {
  /** The interaction (our authorization request) the sign-in belongs to. */
  uid: string;
  /** Set when the confirm page was skipped on this account's remembered consent. */
  rememberedFor?: string;
}

const TTL_SECONDS = 600;
const key = (state: string): string => `upstream-state:${state}`;
const isState = (state: unknown): state is string => typeof state === 'string' && /^[\w-]{16,128}$/.test(state);

export class UpstreamSignIns {
  constructor(private readonly store: KeyValueStore) {}

  async begin(signIn: UpstreamSignIn): Promise<void> {
    await this.store.set(key(signIn.state), JSON.stringify(signIn), TTL_SECONDS);
  }

  /** Looks a sign-in up without using it (to route the callback to its interaction). */
  async peek(state: unknown): Promise<UpstreamSignIn | undefined> {
    if (!isState(state)) return undefined;
    const raw = await this.store.get(key(state));
    return raw === undefined ? undefined : (JSON.parse(raw) as UpstreamSignIn);
  }

  /** Uses the sign-in up: a second callback with the same state finds nothing. */
  async take(state: unknown): Promise<UpstreamSignIn | undefined> {
    if (!isState(state)) return undefined;
    const raw = await this.store.take(key(state));
    return raw === undefined ? undefined : (JSON.parse(raw) as UpstreamSignIn);
  }
}
