// `mcp-auth-proxy revoke`: ends grants the way the proxy itself does (records and tokens deleted,
// every running instance's bearer cache told through Redis pub/sub at once), revokes their upstream
// tokens at the IdP when it can (best effort), and forgets the user's confirmation of the client.
import type { Config } from '../config/types.js';
import { AccountStore } from '../identity/accounts.js';
import { UpstreamIdentity } from '../identity/upstream.js';
import { UpstreamTokenVault } from '../identity/vault.js';
import { Consents } from '../interactions/consents.js';
import { UserGrants } from '../provider/user-grants.js';
import { InvalidationBus } from '../storage/invalidation.js';
import { AuditLog } from '../telemetry/audit.js';
import { createLogger } from '../logging.js';
import { pino } from 'pino';
import { EXIT, UsageError, type Command } from './command.js';
import { describeClient, describeUser, USER_ARGUMENT_HELP } from './grants.js';
import { withRedis } from './operator-store.js';

export const command: Command = {
  help: `Usage: <cli> revoke <grant-id>...
       <cli> revoke --user <user> [--client <client-id>]

Revokes grants (ids as \`<cli> grants\` lists them), or every grant of a user (of one
client only with --client). Each revoked grant's tokens stop working on every running instance
at once; its upstream tokens are revoked at the identity provider when it offers revocation (best
effort); the user must confirm the client again at their next sign-in. It does not stop the user
from signing in again: restrict that with IDENTITY_ALLOWED_* or at the identity provider.
${USER_ARGUMENT_HELP}
Reads the proxy's configuration (environment and .env); needs Redis.

Options:
  --user USER        Revoke every grant of this user.
  --client CLIENT    With --user: only the grants of this client id.
  -h, --help         Show this help.

Exit status: 0 revoked; 3 a grant id or user had nothing to revoke (the others were revoked);
1 failure.

Examples (Heroku):
  heroku run <cli> revoke --user alice@example.com
  heroku run <cli> revoke 3nZ7u0DPFR1iX5bq9mYwPq
`,
  options: { user: { type: 'string' }, client: { type: 'string' } },
  async run({ values, positionals }, io) {
    const user = values.user as string | undefined;
    const client = values.client as string | undefined;
    if (user !== undefined && positionals.length > 0) throw new UsageError('give grant ids or --user, not both');
    if (user === undefined && positionals.length === 0) throw new UsageError('which grants? give grant ids, or --user <user>');
    if (user === '') throw new UsageError('--user needs an account id or an email');
    if (client !== undefined && user === undefined) throw new UsageError('--client goes with --user');

    return withRedis(io, async (store, config) => {
      const grants = new UserGrants(store, new AccountStore(store, config.provider.grantTtl));
      let targets: string[];
      let missing = false;
      if (user !== undefined) {
        const accounts = await grants.findAccounts(user);
        const listed = (await Promise.all(accounts.map((id) => grants.list(id)))).flat();
        targets = listed.filter((g) => client === undefined || g.clientId === client).map((g) => g.grantId);
        if (targets.length === 0) {
          io.err(`Nothing to revoke: no grants for ${user}${client !== undefined ? ` with client ${client}` : ''}.\n`);
          return EXIT.incomplete;
        }
      } else {
        targets = [...new Set(positionals)];
      }

      const upstream = new UpstreamRevoker(config, new UpstreamTokenVault(store, config.vaultKeys));
      const bus = new InvalidationBus(store);
      const consents = new Consents(store, config.provider.consentTtl);
      // The same grant.revoked audit line the proxy writes, on stderr beside the command's own output
      // (a one-off dyno's output; `heroku run:detached` sends it to the app's log).
      const audit = { log: new AuditLog(createLogger(config, pino.destination(2))), reason: 'operator' as const };
      for (const grantId of targets) {
        const grant = await grants.get(grantId);
        let upstreamOutcome = 'it held no upstream tokens';
        const revoked =
          grant &&
          (await grants.revoke(grantId, {
            bus,
            audit,
            onGrantEnd: async (id) => {
              if (grant.upstream) upstreamOutcome = await upstream.revoke(id);
            },
          }));
        if (!revoked) {
          missing = true;
          io.err(`No grant ${grantId} (already revoked or expired?).\n`);
          continue;
        }
        await consents.forget(revoked.accountId, revoked.clientId);
        io.out(`Revoked grant ${grantId} of ${describeUser(revoked)} for ${describeClient(revoked)}; ${upstreamOutcome}.\n`);
      }
      return missing ? EXIT.incomplete : EXIT.ok;
    });
  },
};

/** Revokes a grant's upstream tokens at the IdP, saying what happened; never throws. */
class UpstreamRevoker {
  /** Connected once per provider, on the first grant that needs it (discovery is a network round trip). */
  readonly #idps = new Map<string, Promise<UpstreamIdentity | Error>>();

  constructor(
    private readonly config: Config,
    private readonly vault: UpstreamTokenVault,
  ) {}

  async revoke(grantId: string): Promise<string> {
    const tokens = await this.vault.load(grantId);
    if (!tokens) return 'its upstream tokens could not be read with the configured vault keys, so they were not revoked at the identity provider';
    // The provider the grant signed in with (IDENTITY_PROVIDERS), else the only one.
    const settings = this.config.identities.find((block) => block.name === tokens.provider) ?? this.config.identity;
    if (!this.#idps.has(settings.name)) this.#idps.set(settings.name, UpstreamIdentity.connect(settings).catch((err: Error) => err));
    const idp = await this.#idps.get(settings.name)!;
    if (idp instanceof Error) return `upstream tokens not revoked: ${idp.message}`;
    if (!idp.revocationSupported) return 'the identity provider offers no token revocation; its tokens expire on their own';
    try {
      await idp.revoke(tokens);
      return 'upstream tokens revoked at the identity provider';
    } catch (err) {
      return `upstream token revocation failed (${(err as Error).message})`;
    }
  }
}
