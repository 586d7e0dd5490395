// `mcp-auth-proxy policy`: what MCP_AUTH_PROXY_POLICY says, in general (show) and for one person
// (check). Reads the policy alone, so it also checks a policy before it is deployed (--policy).
import { readEnvironment } from '../config/index.js';
import { decide, type PolicySubject } from '../policy/decide.js';
import { describePolicy, PolicyError, readPolicy, type Policy } from '../policy/policy.js';
import { EXIT, UsageError, type Command, type CommandIO } from './command.js';

export const command: Command = {
  help: `Usage: <cli> policy show [--policy VALUE]
       <cli> policy check <user> [<tool>] [--email EMAIL] [--group GROUP]... [--client CLIENT_ID] [--policy VALUE]

show    Prints the policy in effect: its default, then each rule (what it allows or denies, for whom).
check   What the policy lets <user> do: with <tool>, whether they may call it and which rule (or the
        default) decides; without, the rules that concern them. <user> is the account id (the
        IdP's subject, as in the logs and X-MCP-User-Id) or, when it contains @, the email.
        What the proxy learns at sign-in is given here: --email, each --group, --client.

The policy is MCP_AUTH_PROXY_POLICY (environment, then .env), or --policy (inline JSON or the
path of a .json, .yaml or .yml file) to check one before deploying it.

Exit status: 0 allowed (check with a tool) or shown; 3 denied; 1 no policy, or an invalid one
(every problem is named).

Examples:
  <cli> policy check alice@example.com merge_pull_request --group contractors
  heroku run <cli> policy show
`,
  options: { email: { type: 'string' }, group: { type: 'string', multiple: true }, client: { type: 'string' }, policy: { type: 'string' } },
  async run({ values, positionals }, io) {
    const [action, user, tool, extra] = positionals;
    if (action !== 'show' && action !== 'check') throw new UsageError(action === undefined ? 'expected show or check' : `unknown action "${action}" (show or check)`);
    const policy = loadPolicy(typeof values.policy === 'string' ? values.policy : undefined, io);
    if (!policy) return EXIT.failed;
    if (action === 'show') {
      if (user !== undefined) throw new UsageError(`unexpected argument "${user}"`);
      io.out(`${describePolicy(policy).join('\n')}\n`);
      return EXIT.ok;
    }
    if (user === undefined) throw new UsageError('policy check needs a <user>');
    if (extra !== undefined) throw new UsageError(`unexpected argument "${extra}"`);
    const subject: PolicySubject = {
      userId: user.includes('@') ? '' : user,
      email: typeof values.email === 'string' ? values.email : user.includes('@') ? user : undefined,
      groups: Array.isArray(values.group) ? values.group.map(String) : [],
      clientId: typeof values.client === 'string' ? values.client : '',
    };
    if (tool === undefined) {
      io.out(`${concerning(policy, subject).join('\n')}\n`);
      return EXIT.ok;
    }
    const decision = decide(policy, subject, { method: 'tools/call', named: { kind: 'tools', name: tool } });
    const by = decision.rule ? `rule ${decision.rule.number}${decision.rule.name ? ` (${decision.rule.name})` : ''}` : `the default: ${policy.default}`;
    io.out(`${decision.allowed ? 'allowed' : 'denied'}: ${user} ${decision.allowed ? 'may' : 'may not'} call ${tool} (${by})\n`);
    return decision.allowed ? EXIT.ok : EXIT.incomplete;
  },
};

function loadPolicy(given: string | undefined, io: CommandIO): Policy | undefined {
  const raw = given ?? readEnvironment(io.env).MCP_AUTH_PROXY_POLICY;
  if (raw === undefined || raw.trim() === '') {
    io.err('No policy: MCP_AUTH_PROXY_POLICY is not set (give one with --policy); without one, everyone may call everything.\n');
    return undefined;
  }
  try {
    return readPolicy(raw);
  } catch (err) {
    if (!(err instanceof PolicyError)) throw err;
    io.err(`MCP_AUTH_PROXY_POLICY is invalid:\n${err.problems.map((p) => `  - ${p}`).join('\n')}\n`);
    return undefined;
  }
}

/** The default, and each rule that concerns this person (whatever it targets). */
function concerning(policy: Policy, subject: PolicySubject): string[] {
  const lines = describePolicy(policy);
  const kept = policy.rules.filter((rule) => {
    // A rule concerns them when it would decide some request of theirs: test it on its own.
    const alone: Policy = { ...policy, rules: [{ ...rule, targets: {} }] };
    return decide(alone, subject, { method: 'tools/call', named: { kind: 'tools', name: '' } }).rule !== undefined;
  });
  return [lines[0]!, ...(kept.length ? kept.map((rule) => lines[rule.number]!) : ['no rule concerns them: the default decides'])];
}
