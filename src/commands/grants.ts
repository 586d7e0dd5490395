// `mcp-auth-proxy grants <user>`: a user's grants in Redis (client, scopes, times, how many
// tokens), never a token.
import { AccountStore } from '../identity/accounts.js';
import { UserGrants, type GrantSummary } from '../provider/user-grants.js';
import { EXIT, UsageError, type Command } from './command.js';
import { withRedis } from './operator-store.js';

export const USER_ARGUMENT_HELP = `<user> is the user's account id at the identity provider (its \`sub\`, as in the proxy's logs
and the X-MCP-User-Id header) or their email address (as of their last sign-in).`;

export const command: Command = {
  help: `Usage: <cli> grants <user> [--json]

Lists the user's grants: one per sign-in of an MCP client, with the client, the scopes, when it
was created and when it expires at the latest, and how many tokens it holds (never the tokens).
${USER_ARGUMENT_HELP}
Reads the proxy's configuration (environment and .env); needs Redis.

Options:
  --json      A JSON array of {grantId, accountId, email, clientId, clientName, scopes,
              createdAt, expiresAt (ISO 8601), tokens: {access, refresh}, upstream}.
  -h, --help  Show this help.

Exit status: 0 listed (possibly none); 1 failure.

Example (Heroku): heroku run <cli> grants alice@example.com
`,
  options: { json: { type: 'boolean' } },
  async run({ values, positionals }, io) {
    if (positionals.length !== 1 || !positionals[0]) throw new UsageError(positionals.length === 0 ? 'which user? give an account id or an email' : `one user at a time, got ${positionals.length}`);
    const user = positionals[0];
    return withRedis(io, async (store, config) => {
      const grants = new UserGrants(store, new AccountStore(store, config.provider.grantTtl));
      const accounts = await grants.findAccounts(user);
      const found = (await Promise.all(accounts.map((id) => grants.list(id)))).flat();
      if (values.json) {
        io.out(`${JSON.stringify(found.map(toJson), null, 2)}\n`);
      } else if (found.length === 0) {
        io.out(`No grants for ${user}.\n`);
      } else {
        io.out(formatGrants(found));
      }
      return EXIT.ok;
    });
  },
};

export const isoTime = (seconds: number | undefined): string | null =>
  seconds === undefined ? null : new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');

function toJson(grant: GrantSummary) {
  return { ...grant, createdAt: isoTime(grant.createdAt), expiresAt: isoTime(grant.expiresAt) };
}

export const describeClient = (grant: GrantSummary): string =>
  grant.clientName ? `${grant.clientName} (${grant.clientId})` : grant.clientId;

export const describeUser = (grant: GrantSummary): string => (grant.email ? `${grant.accountId} <${grant.email}>` : grant.accountId);

/** One table per user: columns sized to their content. */
export function formatGrants(grants: GrantSummary[]): string {
  const byUser = new Map<string, GrantSummary[]>();
  for (const grant of grants) byUser.set(grant.accountId, [...(byUser.get(grant.accountId) ?? []), grant]);
  const blocks = [...byUser.values()].map((list) => {
    const rows = [
      ['GRANT', 'CLIENT', 'SCOPES', 'CREATED', 'EXPIRES', 'TOKENS'],
      ...list.map((g) => [
        g.grantId,
        describeClient(g),
        g.scopes.join(' ') || '-',
        isoTime(g.createdAt) ?? '-',
        isoTime(g.expiresAt) ?? '-',
        `${g.tokens.access} access, ${g.tokens.refresh} refresh${g.upstream ? '' : ', no upstream tokens'}`,
      ]),
    ];
    const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
    const table = rows.map((r) => `  ${r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ')}`);
    return [`${describeUser(list[0]!)}: ${list.length} grant(s)`, ...table].join('\n');
  });
  return `${blocks.join('\n\n')}\n`;
}
