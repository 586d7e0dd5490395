// IDENTITY_PROVIDERS on the real stack: GitHub (the stand-in) and a company OpenID Provider (the
// test IdP) at once. The chooser comes after the confirmation; each sign-in is an identity of its
// provider (`<block>:<id>`), its grant refreshes at that provider, the MCP server is told which,
// and IDENTITY_LINK_VERIFIED_EMAILS makes one verified email one account.
import assert from 'node:assert/strict';
import { startGithubStandIn, type GithubStandIn } from '../helpers/github.js';
import { connectWithOAuth, TestOAuthProvider, whoami } from '../helpers/mcp-client.js';
import { freePort } from '../helpers/ports.js';
import { startStack, type Stack } from '../helpers/stack.js';
import { startUpstreamIdp, TEST_USER, type UpstreamIdp } from '../helpers/upstream-idp.js';

describe('several identity providers at once (IDENTITY_PROVIDERS)', function () {
  this.timeout(60_000);
  let port: number;
  let github: GithubStandIn;
  let corp: UpstreamIdp;

  before(async () => {
    port = await freePort();
    const callback = `http://127.0.0.1:${port}/interaction/identity/callback`;
    github = await startGithubStandIn({ callbackUrl: callback });
    corp = await startUpstreamIdp({ redirectUris: [callback] });
  });
  after(async () => {
    await github?.stop();
    await corp?.stop();
  });

  /** Both providers as blocks; the fixture accepts tokens of either (no token check). */
  const stackWith = (env: Record<string, string> = {}, mcpEnv: Record<string, string> = { MCP_FIXTURE_TOKEN_CHECK_URL: '' }): Promise<Stack> =>
    startStack({
      port,
      idp: corp,
      env: {
        IDENTITY_PROVIDERS: 'github,corp',
        IDENTITY_GITHUB_SERVER_URL: github.url,
        IDENTITY_GITHUB_CLIENT_ID: github.clientId,
        IDENTITY_GITHUB_CLIENT_SECRET: github.clientSecret,
        IDENTITY_CORP_SERVER_URL: corp.issuer,
        IDENTITY_CORP_CLIENT_ID: corp.clientId,
        IDENTITY_CORP_CLIENT_SECRET: corp.clientSecret,
        IDENTITY_CORP_TITLE: 'Acme SSO',
        ...env,
      },
      mcpEnv,
    });

  const signIn = (provider: string): TestOAuthProvider => {
    const auth = new TestOAuthProvider();
    auth.provider = provider;
    if (provider === 'github') auth.credentials = { login: github.account.login, password: github.account.password };
    return auth;
  };

  describe('two providers', () => {
    let stack: Stack;
    before(async () => {
      stack = await stackWith();
    });
    after(() => stack?.stop());

    it('asks which provider after the confirmation, one button each, titled', async () => {
      const auth = signIn('github');
      const client = await connectWithOAuth(stack.mcpUrl, auth);
      await client.close();
      const chooser = auth.pages.find((page) => /name="provider"/.test(page.html))!;
      assert.ok(chooser, 'a chooser page');
      assert.match(chooser.html, /Continue with GitHub/);
      assert.match(chooser.html, /Continue with Acme SSO/);
      assert.match(chooser.html, /name="csrf"/);
    });

    it("each sign-in is its provider's identity, and the MCP server is told which", async () => {
      for (const [provider, id, token] of [
        ['github', 'github:1234567', /^Bearer gho_/],
        ['corp', `corp:${TEST_USER.sub}`, /^Bearer /],
      ] as const) {
        const client = await connectWithOAuth(stack.mcpUrl, signIn(provider));
        try {
          const seen = await whoami(client);
          assert.equal(seen.headers['x-mcp-identity-provider'], provider);
          assert.equal(seen.headers['x-mcp-user-id'], id);
          assert.match(seen.authorization ?? '', token);
        } finally {
          await client.close();
        }
      }
    });
  });

  it('refreshes a grant at its own provider, not the first one', async () => {
    // The MCP server checks tokens at the company IdP: a revoked one is refused, and the proxy refreshes.
    const stack = await stackWith({}, { MCP_FIXTURE_TOKEN_CHECK_URL: `${corp.issuer}/me` });
    const client = await connectWithOAuth(stack.mcpUrl, signIn('corp'));
    try {
      const before = { corp: corp.refreshGrants(), github: github.refreshes() };
      const first = (await whoami(client)).authorization;
      await corp.revokeAllAccessTokens();
      const second = await whoami(client);
      assert.equal(corp.refreshGrants(), before.corp + 1, 'refreshed at corp');
      assert.equal(github.refreshes(), before.github, 'not at github, the first block');
      assert.notEqual(second.authorization, first);
      assert.equal(second.headers['x-mcp-identity-provider'], 'corp', 'the refreshed tokens keep their provider');
    } finally {
      await client.close();
      await stack.stop();
    }
  });

  it('with IDENTITY_LINK_VERIFIED_EMAILS, one verified email is one account across providers', async () => {
    const primary = github.account.emails.find((e) => e.primary)!;
    const original = primary.email;
    primary.email = TEST_USER.email;
    const stack = await stackWith({ IDENTITY_LINK_VERIFIED_EMAILS: 'true' });
    try {
      const ids: string[] = [];
      for (const provider of ['github', 'corp']) {
        const client = await connectWithOAuth(stack.mcpUrl, signIn(provider));
        ids.push((await whoami(client)).headers['x-mcp-user-id']!);
        await client.close();
      }
      assert.deepEqual(ids, [`email:${TEST_USER.email}`, `email:${TEST_USER.email}`]);
    } finally {
      primary.email = original;
      await stack.stop();
    }
  });
});
