// `mcp-auth-proxy policy show|check`: the policy as operators read it, and what it lets one person do.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli } from '../helpers/command-io.js';

const POLICY = JSON.stringify({
  default: 'allow',
  rules: [
    { effect: 'deny', tools: ['whoami'], users: ['tester'] },
    { name: 'contractors', effect: 'deny', tools: ['merge_*'], groups: ['contractors'] },
    { effect: 'allow', tools: ['merge_docs'], domains: ['example.com'] },
  ],
});

describe('command line: policy', () => {
  let dir: string;
  before(() => (dir = mkdtempSync(join(tmpdir(), 'policy-cli-'))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('check <user> <tool>: allowed or denied, and by what', async () => {
    const env = { MCP_AUTH_PROXY_POLICY: POLICY };
    assert.deepEqual(await cli(['policy', 'check', 'tester', 'whoami'], env), { code: 3, stdout: 'denied: tester may not call whoami (rule 1)\n', stderr: '' });
    assert.deepEqual(await cli(['policy', 'check', 'tester', 'echo'], env), { code: 0, stdout: 'allowed: tester may call echo (the default: allow)\n', stderr: '' });
    // Deny wins even where another rule allows.
    const merge = await cli(['policy', 'check', 'bob@example.com', 'merge_docs', '--group', 'contractors'], env);
    assert.deepEqual(merge, { code: 3, stdout: 'denied: bob@example.com may not call merge_docs (rule 2 (contractors))\n', stderr: '' });
    assert.equal((await cli(['policy', 'check', 'bob@example.com', 'merge_docs'], env)).stdout, 'allowed: bob@example.com may call merge_docs (rule 3)\n');
  });

  it('check <user>: the rules that concern them', async () => {
    const { code, stdout } = await cli(['policy', 'check', 'bob@example.com', '--group', 'contractors', '--policy', POLICY]);
    assert.equal(code, 0);
    assert.equal(stdout, ['default: allow (from inline)', 'rule 2 (contractors): deny tools merge_* for groups contractors', 'rule 3: allow tools merge_docs for domains example.com', ''].join('\n'));
  });

  it('show, from a YAML file given with --policy', async () => {
    const file = join(dir, 'policy.yml');
    writeFileSync(file, 'default: deny\nrules:\n  - effect: allow\n    tools: [echo]\n');
    assert.deepEqual(await cli(['policy', 'show', '--policy', file]), { code: 0, stdout: `default: deny (from ${file})\nrule 1: allow tools echo for everyone\n`, stderr: '' });
  });

  it('no policy, an invalid one, a wrong command line', async () => {
    const none = await cli(['policy', 'show']);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /MCP_AUTH_PROXY_POLICY is not set/);
    const invalid = await cli(['policy', 'show'], { MCP_AUTH_PROXY_POLICY: '{"rules":[{"effect":"maybe","tool":"x"}]}' });
    assert.equal(invalid.code, 1);
    assert.equal(invalid.stderr, 'MCP_AUTH_PROXY_POLICY is invalid:\n  - rule 1: unknown key "tool" (did you mean "tools"?)\n  - rule 1: "effect" must be "allow" or "deny", got "maybe"\n');
    assert.equal((await cli(['policy', 'frob'], { MCP_AUTH_PROXY_POLICY: POLICY })).code, 2);
    assert.equal((await cli(['policy', 'check'], { MCP_AUTH_PROXY_POLICY: POLICY })).code, 2);
  });
});

describe('command line: config with a policy', () => {
  const BASE = {
    BASE_URL: 'https://proxy.example.com',
    MCP_SERVER_URL: 'http://localhost:3000/mcp',
    IDENTITY_SERVER_URL: 'https://idp.example.com',
    IDENTITY_CLIENT_ID: 'abc',
  };

  it('prints the policy in effect after the settings', async () => {
    const { code, stdout } = await cli(['config'], { ...BASE, MCP_AUTH_PROXY_POLICY: POLICY });
    assert.equal(code, 0);
    assert.ok(
      stdout.includes(
        [
          'Policy in effect (MCP_AUTH_PROXY_POLICY; deny wins, then allow, then the default):',
          '  default: allow (from inline)',
          '  rule 1: deny tools whoami for users tester',
          '  rule 2 (contractors): deny tools merge_* for groups contractors',
          '  rule 3: allow tools merge_docs for domains example.com',
        ].join('\n'),
      ),
      stdout,
    );
    const json = JSON.parse((await cli(['config', '--json'], { ...BASE, MCP_AUTH_PROXY_POLICY: POLICY })).stdout) as { policy: string[] };
    assert.equal(json.policy.length, 4);
  });

  it('an invalid policy is a problem that stops the proxy, naming the rule', async () => {
    const { code, stdout } = await cli(['config'], { ...BASE, MCP_AUTH_PROXY_POLICY: '{"rules":[{"effect":"deny","tool":["x"]}]}' });
    assert.equal(code, 1);
    assert.match(stdout, /- MCP_AUTH_PROXY_POLICY: rule 1: unknown key "tool" \(did you mean "tools"\?\)/);
  });
});
