// IDENTITY_PROVIDER=heroku on the real stack, against the Heroku Identity stand-in
// (test/helpers/heroku-identity.ts: OAuth 2.0 without discovery, the user in the token response's
// user_id, the account from the Platform API). Heroku's own hosts need no metadata file; the
// stand-in is given one, as an operator would for another host.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { metadataFileOf, startHerokuIdentity, type HerokuIdentity } from '../helpers/heroku-identity.js';
import { connectWithOAuth, TestOAuthProvider, whoami } from '../helpers/mcp-client.js';
import { freePort } from '../helpers/ports.js';
import { startStack } from '../helpers/stack.js';
import { TEST_USER } from '../helpers/upstream-idp.js';

describe('signing in with Heroku Identity (IDENTITY_PROVIDER=heroku)', function () {
  this.timeout(60_000);
  let heroku: HerokuIdentity;
  let dir: string;
  let port: number;
  let env: Record<string, string>;
  /** The MCP server checks each token as a Heroku app would: GET /account. */
  let mcpEnv: Record<string, string>;
  before(async () => {
    port = await freePort();
    heroku = await startHerokuIdentity({ redirectUris: [`http://127.0.0.1:${port}/interaction/identity/callback`] });
    dir = await mkdtemp(join(tmpdir(), 'heroku-preset-'));
    const metadata = join(dir, 'heroku-metadata.json');
    await writeFile(metadata, metadataFileOf(heroku));
    mcpEnv = { MCP_FIXTURE_TOKEN_CHECK_URL: heroku.accountUrl };
    env = { IDENTITY_PROVIDER: 'heroku', IDENTITY_SERVER_URL: heroku.issuer, IDENTITY_SERVER_METADATA_FILE: metadata };
  });
  after(async () => {
    await heroku?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('names the user from user_id, adds the email from the Platform API, and asks for the global scope', async () => {
    const stack = await startStack({ port, idp: heroku, mcpEnv, env: { ...env, IDENTITY_ALLOWED_DOMAINS: 'example.com' } });
    let client: Client | undefined;
    try {
      client = await connectWithOAuth(stack.mcpUrl, new TestOAuthProvider());
      const seen = await whoami(client);
      assert.equal(seen.headers['x-mcp-user-id'], TEST_USER.sub);
      assert.equal(seen.headers['x-mcp-user-email'], TEST_USER.email, 'from GET /account: the token response has no email');
      assert.equal(seen.headers['x-authorization-scope'], 'global');
      assert.equal(stack.config.branding.title.endsWith(' | Heroku'), false, 'the stand-in is not a Heroku host');
    } finally {
      await client?.close();
      await stack.stop();
    }
  });

  it('without the preset, the same configuration knows no email (the reason for the preset)', async () => {
    const { IDENTITY_PROVIDER: _preset, ...oidc } = env;
    const stack = await startStack({ port, idp: heroku, mcpEnv, env: { ...oidc, IDENTITY_SCOPE: 'global' } });
    let client: Client | undefined;
    try {
      client = await connectWithOAuth(stack.mcpUrl, new TestOAuthProvider());
      const seen = await whoami(client);
      assert.equal(seen.headers['x-mcp-user-id'], TEST_USER.sub);
      assert.equal(seen.headers['x-mcp-user-email'], undefined);
    } finally {
      await client?.close();
      await stack.stop();
    }
  });
});
