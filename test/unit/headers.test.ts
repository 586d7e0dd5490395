// What the MCP server is told about the provider (IDENTITY_PROVIDERS): its block's name, only
// with the identity headers, and never as the client claims it.
import assert from 'node:assert/strict';
import type { McpCaller } from '../../src/mcp/caller.js';
import { upstreamRequestHeaders, type ForwardedIdentity } from '../../src/mcp/headers.js';

const caller: McpCaller = { grantId: 'g', clientId: 'c', accountId: 'corp:42', email: undefined, groups: [], scope: 'mcp', upstream: { accessToken: 'up', provider: 'corp' } };
const forwarded = (send: boolean): ForwardedIdentity => ({
  identity: { send, userId: 'x-mcp-user-id', userEmail: 'x-mcp-user-email', clientId: 'x-mcp-client-id' },
  scope: { source: 'none', identityScope: '' },
  credentials: { mode: 'user', headers: {} },
  publicOrigin: new URL('https://proxy.example.test'),
});

describe('upstream request headers: the identity provider', () => {
  it("names the grant's provider with the identity headers, replacing a client's copy", () => {
    const headers = upstreamRequestHeaders({ 'x-mcp-identity-provider': 'github' }, caller, caller.upstream, forwarded(true), undefined);
    assert.equal(headers['x-mcp-identity-provider'], 'corp');
    assert.equal(headers['x-mcp-user-id'], 'corp:42');
  });

  it('says nothing with identity headers off, nor with one provider, and drops the client copy', () => {
    const off = upstreamRequestHeaders({ 'x-mcp-identity-provider': 'github' }, caller, caller.upstream, forwarded(false), undefined);
    assert.equal(off['x-mcp-identity-provider'], undefined);
    const single = upstreamRequestHeaders({ 'x-mcp-identity-provider': 'github' }, caller, { accessToken: 'up' }, forwarded(true), undefined);
    assert.equal(single['x-mcp-identity-provider'], undefined);
  });
});
