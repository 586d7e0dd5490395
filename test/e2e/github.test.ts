// IDENTITY_PROVIDER=github on the real stack, against a faithful stand-in of GitHub (Enterprise
// Server layout, test/helpers/github.ts): the SDK client signs in through GitHub's login form, the
// user is GitHub's numeric id with the verified primary email, organisation and team allowlists
// decide who may sign in, GitHub App tokens are refreshed when they expire, and ending a grant
// revokes the token through GitHub's own endpoint.
import assert from 'node:assert/strict';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { startGithubStandIn, type GithubStandIn } from '../helpers/github.js';
import { connectWithOAuth, TestOAuthProvider, whoami } from '../helpers/mcp-client.js';
import { startStack, type Stack } from '../helpers/stack.js';
import { until } from '../helpers/wait.js';

/** A stack signing in with the stand-in; the MCP fixture checks each token at GitHub's /user. */
async function githubStack(github: GithubStandIn, env: Record<string, string> = {}): Promise<Stack> {
  const stack = await startStack({
    env: { IDENTITY_PROVIDER: 'github', IDENTITY_SERVER_URL: github.url, IDENTITY_CLIENT_ID: github.clientId, IDENTITY_CLIENT_SECRET: github.clientSecret, ...env },
    mcpEnv: { MCP_FIXTURE_TOKEN_CHECK_URL: `${github.url}/api/v3/user` },
  });
  github.register(`${stack.baseUrl}/interaction/identity/callback`);
  return stack;
}

const signIn = (github: GithubStandIn): TestOAuthProvider => {
  const auth = new TestOAuthProvider();
  auth.credentials = { login: github.account.login, password: github.account.password };
  return auth;
};

describe('signing in with GitHub (IDENTITY_PROVIDER=github)', function () {
  this.timeout(60_000);

  describe('an OAuth app', () => {
    let github: GithubStandIn;
    let stack: Stack;
    let client: Client;
    let auth: TestOAuthProvider;
    before(async () => {
      github = await startGithubStandIn();
      stack = await githubStack(github);
      auth = signIn(github);
      client = await connectWithOAuth(stack.mcpUrl, auth);
    });
    after(async () => {
      await client?.close();
      await stack?.stop();
      await github?.stop();
    });

    it("gives the MCP server the user's GitHub token, id and verified primary email", async () => {
      const seen = await whoami(client);
      assert.match(seen.authorization ?? '', /^Bearer gho_/);
      assert.equal(seen.headers['x-mcp-user-id'], '1234567', 'the numeric id: logins can be renamed and reused');
      assert.equal(seen.headers['x-mcp-user-email'], 'octo@example.com');
      assert.equal(seen.headers['x-authorization-scope'], 'read:user user:email', "GitHub's comma-separated scope, as OAuth spells it");
    });

    it('asked for read:user and user:email only, with PKCE, JSON from the token endpoint and a User-Agent at the API', () => {
      assert.deepEqual(github.authorizations, [{ scopes: ['read:user', 'user:email'], pkce: true }]);
      const tokenRequests = github.requests.filter((r) => r.path === '/login/oauth/access_token');
      assert.ok(tokenRequests.length > 0 && tokenRequests.every((r) => r.accept?.includes('application/json')));
      const apiRequests = github.requests.filter((r) => r.path.startsWith('/api/v3/') && r.userAgent === 'mcp-auth-proxy');
      assert.deepEqual([...new Set(apiRequests.map((r) => r.path))].sort(), ['/api/v3/user', '/api/v3/user/emails']);
    });

    it('the stand-in answers form-encoded when JSON is not asked for, as GitHub does', async () => {
      const response = await fetch(`${github.url}/login/oauth/access_token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ client_id: github.clientId, client_secret: github.clientSecret, code: 'nope' }),
      });
      assert.equal(response.status, 200);
      assert.equal(new URLSearchParams(await response.text()).get('error'), 'bad_verification_code');
    });

    it("revokes the user's GitHub token through GitHub's own endpoint when the grant ends", async () => {
      const githubToken = (await whoami(client)).authorization!.replace(/^Bearer /, '');
      const revoke = await fetch(`${stack.baseUrl}/token/revocation`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token: auth.savedTokens!.refresh_token!, token_type_hint: 'refresh_token', client_id: auth.client!.client_id }),
      });
      assert.equal(revoke.status, 200);
      // The IdP call is made after the grant is gone, without holding up the client.
      await until(() => github.revoked.includes(githubToken), 'GitHub was asked to revoke the token');
      const check = await fetch(`${github.url}/api/v3/user`, { headers: { authorization: `Bearer ${githubToken}`, 'user-agent': 'test' } });
      assert.equal(check.status, 401);
    });
  });

  describe('a GitHub App with expiring user tokens', () => {
    let github: GithubStandIn;
    let stack: Stack;
    let client: Client;
    before(async () => {
      github = await startGithubStandIn({ expiringTokens: true });
      stack = await githubStack(github);
      client = await connectWithOAuth(stack.mcpUrl, signIn(github));
    });
    after(async () => {
      await client?.close();
      await stack?.stop();
      await github?.stop();
    });

    it('refreshes the token when GitHub ends it, and the call goes through', async () => {
      const before = (await whoami(client)).authorization;
      github.expireAccessTokens();
      const after = (await whoami(client)).authorization;
      assert.equal(github.refreshes(), 1);
      assert.match(after ?? '', /^Bearer ghu_/);
      assert.notEqual(after, before);
    });
  });

  describe('allowlists (IDENTITY_ALLOWED_GITHUB_ORGS, IDENTITY_ALLOWED_GITHUB_USERS)', () => {
    let github: GithubStandIn;
    before(async () => {
      github = await startGithubStandIn();
    });
    after(() => github?.stop());

    for (const [env, allowed] of [
      [{ IDENTITY_ALLOWED_GITHUB_ORGS: 'acme/platform' }, true],
      [{ IDENTITY_ALLOWED_GITHUB_ORGS: 'ACME' }, true],
      [{ IDENTITY_ALLOWED_GITHUB_ORGS: 'acme/security,other-org' }, false],
      [{ IDENTITY_ALLOWED_GITHUB_USERS: 'Octo-Tester' }, true],
      [{ IDENTITY_ALLOWED_GITHUB_USERS: 'someone-else', IDENTITY_ALLOWED_GITHUB_ORGS: 'other-org' }, false],
    ] as const) {
      it(`${JSON.stringify(env)}: ${allowed ? 'signs in' : 'refuses the sign-in'}`, async () => {
        const stack = await githubStack(github, env);
        const auth = signIn(github);
        try {
          if (allowed) {
            const client = await connectWithOAuth(stack.mcpUrl, auth);
            await client.close();
          } else {
            await assert.rejects(connectWithOAuth(stack.mcpUrl, auth));
            assert.ok(stack.logs.some((line) => line.includes('access policy')), 'the refusal is logged');
          }
          if ('IDENTITY_ALLOWED_GITHUB_ORGS' in env) assert.ok(github.authorizations.at(-1)!.scopes.includes('read:org'), 'read:org is asked for to see private memberships');
        } finally {
          await stack.stop();
        }
      });
    }
  });

  it('a policy\'s group rules see the GitHub user\'s organisations and teams (read:org is asked for)', async () => {
    const github = await startGithubStandIn();
    const stack = await githubStack(github, { MCP_AUTH_PROXY_POLICY: JSON.stringify({ rules: [{ effect: 'deny', tools: ['echo'], groups: ['acme/platform'] }] }) });
    try {
      const client = await connectWithOAuth(stack.mcpUrl, signIn(github));
      try {
        assert.deepEqual((await client.listTools()).tools.map((t) => t.name), ['whoami']);
      } finally {
        await client.close();
      }
      assert.ok(github.authorizations.at(-1)!.scopes.includes('read:org'));
    } finally {
      await stack.stop();
      await github.stop();
    }
  });

  it('says the server is misconfigured when GitHub refuses the client secret (an error sent with HTTP 200)', async () => {
    const github = await startGithubStandIn();
    const stack = await githubStack(github, { IDENTITY_CLIENT_SECRET: 'not-the-secret' });
    try {
      const auth = signIn(github);
      await assert.rejects(connectWithOAuth(stack.mcpUrl, auth));
      const last = auth.pages.at(-1)!;
      assert.match(last.html, /This server cannot sign you in right now/);
      assert.ok(stack.logs.some((line) => line.includes('IDENTITY_CLIENT_SECRET')), 'the log tells the operator which setting');
    } finally {
      await stack.stop();
      await github.stop();
    }
  });
});
