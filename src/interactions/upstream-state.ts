// The state of one upstream sign-in, created only after the user confirmed, valid 10 minutes
// and usable once. Its `state` value is what the IdP sends back to our fixed callback URL.
// One sign-in at a time per interaction: confirming again (a double click, a second tab, a
// reload of a remembered consent) joins the sign-in under way instead of starting another.
import type { KeyValueStore } from '../storage/store.js';
import type { AuthorizationChecks } from '../identity/upstream.js';
import { keys } from '../storage/keys.js';

export interface UpstreamSignIn extends AuthorizationChecks {
  /** The interaction (our authorization request) the sign-in belongs to. */
  uid: string;
  /** Set when the confirm page was skipped on this account's remembered consent. */
  rememberedFor?: string;
  /** The identity provider it goes to (its block name). */
  provider?: string;
}

const TTL_SECONDS = 600;
const isState = (state: unknown): state is string => typeof state === 'string' && /^[\w-]{16,128}$/.test(state);

export class UpstreamSignIns {
  constructor(private readonly store: KeyValueStore) {}

  /**
   * Starts the sign-in whose browser goes to `url` (the IdP's authorization URL for its checks),
   * unless one is under way for the interaction: then nothing is stored and that one's URL is
   * the answer.
   */
  async begin(signIn: UpstreamSignIn, url: string): Promise<string> {
    await this.store.set(keys.upstreamState(signIn.state), JSON.stringify(signIn), TTL_SECONDS);
    if (await this.store.setIfAbsent(keys.upstreamSignIn(signIn.uid), url, TTL_SECONDS)) return url;
    const current = await this.store.get(keys.upstreamSignIn(signIn.uid));
    if (current !== undefined) {
      await this.store.del(keys.upstreamState(signIn.state));
      return current;
    }
    // The other sign-in ended in between: this one goes ahead.
    await this.store.set(keys.upstreamSignIn(signIn.uid), url, TTL_SECONDS);
    return url;
  }

  /** Looks a sign-in up without using it (to route the callback to its interaction). */
  async peek(state: unknown): Promise<UpstreamSignIn | undefined> {
    if (!isState(state)) return undefined;
    const raw = await this.store.get(keys.upstreamState(state));
    return raw === undefined ? undefined : (JSON.parse(raw) as UpstreamSignIn);
  }

  /** Uses the sign-in up: a second callback with the same state finds nothing. */
  async take(state: unknown): Promise<UpstreamSignIn | undefined> {
    if (!isState(state)) return undefined;
    const raw = await this.store.take(keys.upstreamState(state));
    if (raw === undefined) return undefined;
    const signIn = JSON.parse(raw) as UpstreamSignIn;
    // Done with: a later confirmation of this interaction (another person signed in) starts anew.
    await this.store.del(keys.upstreamSignIn(signIn.uid));
    return signIn;
  }
}
