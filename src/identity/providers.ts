// The identity providers of this proxy, by name: one (the IDENTITY_* settings), or the blocks of
// IDENTITY_PROVIDERS. A grant remembers the provider it was signed in with (in its upstream
// tokens), so its refreshes, its access policy and its revocation go to that one.
import type { Logger } from 'pino';
import type { BackoffOptions } from './discovery.js';
import type { IdentityBlock } from '../config/types.js';
import type { KeyValueStore } from '../storage/store.js';
import { LocalSignIn } from './local-sign-in.js';
import { UpstreamIdentity } from './upstream.js';
import type { UpstreamTokens } from './vault.js';

export interface SignInProvider {
  settings: IdentityBlock;
  upstream: UpstreamIdentity;
  /** For a local block: its accounts and codes. */
  local: LocalSignIn | undefined;
}

export class IdentityProviders {
  readonly #byName: Map<string, SignInProvider>;

  constructor(readonly all: readonly SignInProvider[]) {
    this.#byName = new Map(all.map((p) => [p.settings.name, p]));
  }

  /**
   * Starts every provider (discovery retried in the background for each), or with `connect`
   * loads each now and throws on any failure (the release check, one-off commands).
   */
  static async start(
    blocks: readonly IdentityBlock[],
    store: KeyValueStore,
    logger: Logger,
    { connect = false, backoff }: { connect?: boolean; backoff?: BackoffOptions } = {},
  ): Promise<IdentityProviders> {
    const started: SignInProvider[] = [];
    try {
      for (const settings of blocks) {
        const local = settings.provider.kind === 'local' ? new LocalSignIn(settings.localUsers, store) : undefined;
        const upstream = connect ? await UpstreamIdentity.connect(settings, local) : await UpstreamIdentity.start(settings, logger, { local, ...(backoff ? { backoff } : {}) });
        started.push({ settings, upstream, local });
      }
    } catch (err) {
      for (const provider of started) provider.upstream.stop();
      throw err;
    }
    return new IdentityProviders(started);
  }

  /** More than one: the user chooses, and the MCP server is told which. */
  get several(): boolean {
    return this.all.length > 1;
  }

  get default(): SignInProvider {
    return this.all[0]!;
  }

  /** The provider of this name; undefined names (grants of one provider) are the default. */
  get(name: string | undefined): SignInProvider | undefined {
    return name === undefined ? this.default : this.#byName.get(name);
  }

  /** The provider a grant's upstream tokens came from. */
  of(tokens: UpstreamTokens): SignInProvider {
    return this.get(tokens.provider) ?? this.default;
  }

  /** The local block, when there is one (at most one: configuration). */
  get local(): LocalSignIn | undefined {
    return this.all.find((p) => p.local)?.local;
  }

  get metadataLoaded(): boolean {
    return this.all.every((p) => p.upstream.metadataLoaded);
  }

  stop(): void {
    for (const provider of this.all) provider.upstream.stop();
  }
}
