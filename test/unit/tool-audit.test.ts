// What a tool-call audit line may carry of arguments and results (MCP_AUTH_PROXY_AUDIT_ARGUMENTS).
import assert from 'node:assert/strict';
import { redactValue, sessionTag } from '../../src/telemetry/tool-audit.js';

describe('tool-call audit: redaction', () => {
  it('replaces fields named like secrets at any depth, cuts long strings and deep nesting', () => {
    assert.deepEqual(
      redactValue({ query: 'open issues', auth: { github_token: 'ghp_x', password: 'p', nested: { apiKey: 'k', 'private-key': 'pk', cookie: 'c' } }, list: [{ secret: 's', ok: 1 }] }),
      { query: 'open issues', auth: { github_token: '[redacted]', password: '[redacted]', nested: { apiKey: '[redacted]', 'private-key': '[redacted]', cookie: '[redacted]' } }, list: [{ secret: '[redacted]', ok: 1 }] },
    );
    assert.equal(String(redactValue('x'.repeat(300))).length, 257);
    assert.equal(JSON.stringify(redactValue({ a: { b: { c: { d: { e: { f: { g: 1 } } } } } } })), '{"a":{"b":{"c":{"d":{"e":{"f":"[nested]"}}}}}}');
  });

  it('names a session by a digest, the same each time', () => {
    assert.equal(sessionTag('abc'), sessionTag('abc'));
    assert.notEqual(sessionTag('abc'), 'abc');
    assert.equal(sessionTag(undefined), undefined);
  });
});
