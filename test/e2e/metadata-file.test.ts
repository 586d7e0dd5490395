// An IdP configured through IDENTITY_SERVER_METADATA_FILE (no discovery), as for Heroku Identity.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { connectWithOAuth, TestOAuthProvider } from '../helpers/mcp-client.js';
import { startStack, type Stack } from '../helpers/stack.js';

describe('upstream IdP from a static metadata file', function () {
  this.timeout(60_000);
  let dir: string;
  let stack: Stack;
  let client: Client;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'idp-metadata-'));
    stack = await startStack({ metadataFile: join(dir, 'metadata.json') });
    client = await connectWithOAuth(stack.mcpUrl, new TestOAuthProvider());
  });
  after(async () => {
    await client?.close();
    await stack?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('signs in and proxies without discovery', async () => {
    assert.equal(stack.config.identity.metadata?.issuer, stack.idp.issuer);
    const { tools } = await client.listTools();
    assert.ok(tools.some((t) => t.name === 'whoami'));
  });
});
