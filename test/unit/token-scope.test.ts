import assert from 'node:assert/strict';
import { grantedScope } from '../../src/provider/token-scope.js';

describe('the scope of token responses', () => {
  it("names the grant's OpenID scopes and the access token's, once each", () => {
    assert.equal(grantedScope('openid offline_access', ''), 'openid offline_access');
    assert.equal(grantedScope('openid offline_access', 'mcp:tools'), 'openid offline_access mcp:tools');
    assert.equal(grantedScope('openid', 'openid mcp:tools'), 'openid mcp:tools');
  });

  it('says offline_access when a refresh token comes with the response', () => {
    assert.equal(grantedScope('openid', 'mcp:tools', true), 'openid offline_access mcp:tools');
    assert.equal(grantedScope('openid offline_access', '', true), 'openid offline_access');
  });

  it('leaves the member out rather than saying ""', () => {
    assert.equal(grantedScope('', ''), undefined);
    assert.equal(grantedScope(' ', ' '), undefined);
  });
});
