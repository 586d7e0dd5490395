// The policy language (MCP_AUTH_PROXY_POLICY): reading it inline, from JSON and YAML files,
// every problem named by rule and key, and what it decides.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decide, visible, type PolicySubject } from '../../src/policy/decide.js';
import { describePolicy, PolicyError, readPolicy } from '../../src/policy/policy.js';

const MINIMAL = '{"default":"allow","rules":[{"effect":"deny","tools":["whoami"],"users":["tester"]}]}';

const tester: PolicySubject = { userId: 'tester', email: 'tester@example.com', groups: [], clientId: 'c1' };
const alice: PolicySubject = { userId: 'alice', email: 'Alice@Example.com', groups: ['staff'], clientId: 'c1' };
const call = (name: string) => ({ method: 'tools/call', named: { kind: 'tools' as const, name } });

function problemsOf(raw: string): string[] {
  try {
    readPolicy(raw);
  } catch (err) {
    assert.ok(err instanceof PolicyError, String(err));
    return err.problems;
  }
  assert.fail('the policy was accepted');
}

describe('policy (MCP_AUTH_PROXY_POLICY)', () => {
  let dir: string;
  before(() => (dir = mkdtempSync(join(tmpdir(), 'policy-'))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('the issue\'s minimal form works exactly as written, inline and in a .json file', () => {
    const file = join(dir, 'policy.json');
    writeFileSync(file, MINIMAL);
    for (const policy of [readPolicy(MINIMAL), readPolicy(file)]) {
      assert.equal(decide(policy, tester, call('whoami')).allowed, false);
      assert.equal(decide(policy, tester, call('echo')).allowed, true);
      assert.equal(decide(policy, alice, call('whoami')).allowed, true);
      assert.equal(decide(policy, tester, { method: 'tools/list' }).allowed, true);
    }
    assert.equal(readPolicy(file).source, file);
  });

  it('reads YAML files', () => {
    const file = join(dir, 'policy.yaml');
    writeFileSync(
      file,
      ['default: deny', 'rules:', '  - name: staff tools', '    effect: allow', '    tools: ["issues_*", get_me]', '    groups: [staff]', ''].join('\n'),
    );
    const policy = readPolicy(file);
    assert.equal(decide(policy, alice, call('issues_list')).allowed, true);
    assert.equal(decide(policy, alice, call('merge_pull_request')).allowed, false);
    assert.equal(decide(policy, tester, call('issues_list')).allowed, false);
    // A default of deny still lets a client connect and list.
    for (const method of ['initialize', 'ping', 'tools/list', 'notifications/initialized']) assert.equal(decide(policy, tester, { method }).allowed, true, method);
    assert.equal(decide(policy, tester, { method: 'tasks/list' }).allowed, false);
    assert.deepEqual(describePolicy(policy), [`default: deny (from ${file})`, 'rule 1 (staff tools): allow tools issues_*, get_me for groups staff']);
  });

  it('deny wins over allow; subjects by email, domain, group, client; targets by method glob', () => {
    const policy = readPolicy(
      JSON.stringify({
        default: 'allow',
        rules: [
          { effect: 'allow', tools: ['*'], domains: ['example.com'] },
          { effect: 'deny', tools: ['delete_*'], emails: ['alice@example.com'] },
          { effect: 'deny', methods: ['resources/*'], clients: ['c2'] },
          { effect: 'deny', prompts: ['secret?'], groups: ['contractors'] },
        ],
      }),
    );
    assert.equal(decide(policy, alice, call('delete_repo')).allowed, false, 'email, case-insensitive');
    assert.equal(decide(policy, alice, call('delete_repo')).rule?.number, 2);
    assert.equal(decide(policy, tester, call('delete_repo')).allowed, true);
    assert.equal(decide(policy, { ...tester, clientId: 'c2' }, { method: 'resources/read', named: { kind: 'resources', name: 'file:///x' } }).allowed, false);
    assert.equal(decide(policy, { ...tester, groups: ['contractors'] }, { method: 'prompts/get', named: { kind: 'prompts', name: 'secret1' } }).allowed, false);
    assert.equal(decide(policy, { ...tester, groups: ['contractors'] }, { method: 'prompts/get', named: { kind: 'prompts', name: 'secret12' } }).allowed, true);
    assert.equal(visible(policy, alice, 'tools', 'delete_repo'), false);
    assert.equal(visible(policy, alice, 'tools', 'list_repos'), true);
  });

  it('names a user with or without their identity provider block', () => {
    const policy = readPolicy('{"rules":[{"effect":"deny","users":["1234"]}]}');
    assert.equal(decide(policy, { ...tester, userId: 'github:1234' }, call('x')).allowed, false);
    assert.equal(decide(policy, { ...tester, userId: '1234' }, call('x')).allowed, false);
    // No targets: the rule is about everything, connecting included.
    assert.equal(decide(policy, { ...tester, userId: '1234' }, { method: 'initialize' }).allowed, false);
  });

  it('names every problem by rule and key', () => {
    assert.deepEqual(
      problemsOf(
        JSON.stringify({
          default: 'block',
          extra: 1,
          rules: [{ effect: 'deny', tool: ['x'] }, { name: 'bad', effect: 'maybe', users: [] }, 'x', { effect: 'allow', emails: ['example.com'] }],
        }),
      ),
      [
        'unknown key "extra" (a policy has "default" and "rules")',
        '"default" must be "allow" or "deny", got "block"',
        'rule 1: unknown key "tool" (did you mean "tools"?)',
        'rule 2 ("bad"): "effect" must be "allow" or "deny", got "maybe"',
        'rule 2 ("bad"): "users" must be a non-empty list of names',
        'rule 3: must be an object',
        'rule 4: "emails" must be email addresses (use "domains" for a whole domain)',
      ],
    );
    assert.match(problemsOf('{"rules": [')[0]!, /^inline JSON is not valid JSON/);
    assert.match(problemsOf(join(dir, 'missing.json'))[0]!, /^cannot read ".*missing\.json"/);
    writeFileSync(join(dir, 'bad.yml'), 'rules: [ {effect: deny');
    assert.match(problemsOf(join(dir, 'bad.yml'))[0]!, /bad\.yml" is not valid YAML/);
    writeFileSync(join(dir, 'policy.txt'), MINIMAL);
    assert.deepEqual(problemsOf(join(dir, 'policy.txt')), [`"${join(dir, 'policy.txt')}" must end in .json, .yaml or .yml`]);
  });
});
