// `mcp-auth-proxy config`: the effective configuration (environment and .env, as `start` reads
// them), secrets masked, then every problem found; non-zero when the proxy would refuse to start.
import { readEnvFile } from '../config/index.js';
import { reportConfiguration, type ConfigReport } from '../config/report.js';
import { EXIT, UsageError, type Command } from './command.js';

export const command: Command = {
  help: `Usage: <cli> config [--json]

Prints every setting with its effective value and where it came from (environment, .env,
default, derived, unset), then every problem that would stop the proxy at startup and warnings.
Secrets are never printed: only what is public anyway (key ids, the Redis host) or that they are
set. Reads the environment and the .env file of the current directory, as \`start\` does.
It does not connect to anything: \`<cli> verify\` boots everything for that.

Options:
  --json      One JSON object: {"settings": [{name, value, source, from?, secret, description}],
              "problems": [...], "warnings": [...], "policy"?: [...]}.
  -h, --help  Show this help.

Exit status: 0 no problems (warnings allowed); 1 problems found.

Example (Heroku): heroku run <cli> config
`,
  options: { json: { type: 'boolean' } },
  async run({ values, positionals }, io) {
    if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    const report = reportConfiguration(io.env, readEnvFile());
    io.out(values.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
    return report.problems.length > 0 ? EXIT.failed : EXIT.ok;
  },
};

export function formatReport({ settings, problems, warnings, policy }: ConfigReport): string {
  const width = Math.max(...settings.map((s) => s.name.length));
  const lines = settings.map((s) => {
    const source = s.from ? `${s.source}, as ${s.from}` : s.source;
    return `${s.name.padEnd(width)}  ${s.value ?? '(unset)'}  [${source}]`;
  });
  if (policy) lines.push('', 'Policy in effect (MCP_AUTH_PROXY_POLICY; deny wins, then allow, then the default):', ...policy.map((line) => `  ${line}`));
  lines.push('');
  if (problems.length === 0) lines.push('No problems found.');
  else lines.push(`${problems.length} problem(s) found; the proxy will not start:`, ...problems.map((p) => `  - ${p}`));
  if (warnings.length > 0) lines.push('', `${warnings.length} warning(s):`, ...warnings.map((w) => `  - ${w}`));
  return `${lines.join('\n')}\n`;
}
