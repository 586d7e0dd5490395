// IDENTITY_PROVIDER=local on the real stack: the proxy's own accounts (argon2id and bcrypt hashes),
// its sign-in page where an IdP's would be, throttling per account, and what the MCP server gets
// (identity headers; no upstream token: nothing, or MCP_SERVER_BEARER_TOKEN).
import assert from 'node:assert/strict';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import bcrypt from 'bcryptjs';
import { Secret, TOTP } from 'otpauth';
import { hashPassword, MAX_FAILURES_PER_ACCOUNT, newTotpSecret } from '../../src/identity/local-sign-in.js';
import { connectWithOAuth, TestOAuthProvider, whoami } from '../helpers/mcp-client.js';
import { startStack, type Stack } from '../helpers/stack.js';

const ALICE = { username: 'alice@example.com', password: 'correct horse battery staple' };
const BOB = { username: 'bob', password: 'bobs own passphrase' };
const CAROL = { username: 'carol', password: 'carols second factor too' };
const CAROL_TOTP = newTotpSecret('carol', 'test').secret;
const carolsCode = (): string => new TOTP({ secret: Secret.fromBase32(CAROL_TOTP), algorithm: 'SHA1', digits: 6, period: 30 }).generate();

const as = (credentials: Record<string, string>): TestOAuthProvider => {
  const auth = new TestOAuthProvider();
  auth.credentials = credentials;
  return auth;
};

/** Signs in; on a refusal, the last page the browser saw. */
async function attempt(stack: Stack, credentials: Record<string, string>): Promise<{ client?: Client; page: TestOAuthProvider['pages'][number] }> {
  const auth = as(credentials);
  try {
    const client = await connectWithOAuth(stack.mcpUrl, auth);
    return { client, page: auth.pages.at(-1)! };
  } catch {
    return { page: auth.pages.at(-1)! };
  }
}

describe('local accounts (IDENTITY_PROVIDER=local)', function () {
  this.timeout(60_000);
  let users: string;
  before(async () => {
    users = [
      `${ALICE.username}:${await hashPassword(ALICE.password)}`,
      `${BOB.username}:${await bcrypt.hash(BOB.password, 4)}`,
      `${CAROL.username}:${await hashPassword(CAROL.password)}:${CAROL_TOTP}`,
    ].join(',');
  });

  describe('with no credentials for the MCP server', () => {
    let stack: Stack;
    before(async () => {
      // A server that does not check the user's token at an IdP: there is none.
      stack = await startStack({ env: { IDENTITY_PROVIDER: 'local', IDENTITY_LOCAL_USERS: users }, mcpEnv: { MCP_FIXTURE_TOKEN_CHECK_URL: '' } });
    });
    after(() => stack?.stop());

    it('signs in on our own page (argon2id), and the MCP server gets who it is and no Authorization', async () => {
      const { client, page } = await attempt(stack, ALICE);
      assert.ok(client, `not signed in: ${page.status} ${page.html.slice(0, 300)}`);
      try {
        const seen = await whoami(client);
        assert.equal(seen.authorization, null);
        assert.equal(seen.headers['x-mcp-user-id'], ALICE.username);
        assert.equal(seen.headers['x-mcp-user-email'], ALICE.username);
      } finally {
        await client.close();
      }
    });

    it("takes bcrypt hashes (sigbit's PASSWORD_HASH) and names without an @ (no email)", async () => {
      const { client } = await attempt(stack, { username: 'BOB', password: BOB.password });
      assert.ok(client);
      try {
        const seen = await whoami(client);
        assert.equal(seen.headers['x-mcp-user-id'], 'bob');
        assert.equal(seen.headers['x-mcp-user-email'], undefined);
      } finally {
        await client.close();
      }
    });

    it("asks an account with a TOTP secret for its authenticator's code, and takes each code once", async () => {
      const withoutCode = await attempt(stack, CAROL);
      assert.equal(withoutCode.page.status, 401);
      assert.match(withoutCode.page.html, /Authentication code/);
      assert.equal((await attempt(stack, { ...CAROL, code: '000000' === carolsCode() ? '111111' : '000000' })).page.status, 401);
      const code = carolsCode();
      const signedIn = await attempt(stack, { ...CAROL, code });
      assert.ok(signedIn.client, `not signed in: ${signedIn.page.status}`);
      await signedIn.client.close();
      const replayed = await attempt(stack, { ...CAROL, code });
      assert.equal(replayed.page.status, 401, 'a code already used is refused');
      assert.ok((await attempt(stack, ALICE)).client, 'accounts without a secret need no code');
    });

    it('says the same for a wrong password and an unknown name, and keeps the name typed', async () => {
      const wrong = await attempt(stack, { username: BOB.username, password: 'not it' });
      const unknown = await attempt(stack, { username: 'mallory', password: 'not it' });
      for (const { client, page } of [wrong, unknown]) {
        assert.equal(client, undefined);
        assert.equal(page.status, 401);
        assert.match(page.html, /The user name, password or authentication code is not correct\./);
        assert.match(page.html, /name="csrf"/, 'the page shown again is a protected form');
      }
      assert.match(wrong.page.html, /value="bob"/);
    });

    it(`locks an account after ${MAX_FAILURES_PER_ACCOUNT} failures, even for the right password`, async () => {
      // bob failed once above.
      for (let i = 1; i < MAX_FAILURES_PER_ACCOUNT; i++) assert.equal((await attempt(stack, { username: BOB.username, password: `wrong ${i}` })).page.status, 401);
      const locked = await attempt(stack, BOB);
      assert.equal(locked.client, undefined);
      assert.equal(locked.page.status, 429);
      assert.equal(locked.page.headers.get('retry-after'), '900');
      assert.match(locked.page.html, /Too many failed sign-ins/);
      assert.ok((await attempt(stack, ALICE)).client, 'other accounts still sign in');
    });

    it('writes no password or hash into the logs', () => {
      const logs = stack.logs.join('\n');
      for (const secret of [ALICE.password, BOB.password, ...users.split(/[,:]\$/).slice(1)]) assert.ok(!logs.includes(secret));
      assert.ok(logs.includes('local sign-in refused'));
    });
  });

  it('counts failures across instances (the counts are in Redis)', async () => {
    const env = { IDENTITY_PROVIDER: 'local', IDENTITY_LOCAL_USERS: users };
    const first = await startStack({ env, mcpEnv: { MCP_FIXTURE_TOKEN_CHECK_URL: '' } });
    const second = await startStack({ env, redis: first.redis, mcpEnv: { MCP_FIXTURE_TOKEN_CHECK_URL: '' } });
    try {
      for (let i = 0; i < MAX_FAILURES_PER_ACCOUNT; i++) {
        const stack = i % 2 === 0 ? first : second;
        assert.equal((await attempt(stack, { username: ALICE.username, password: `wrong ${i}` })).page.status, 401);
      }
      assert.equal((await attempt(second, ALICE)).page.status, 429);
      assert.equal((await attempt(first, ALICE)).page.status, 429);
    } finally {
      await second.stop();
      await first.stop();
    }
  });

  it('sends MCP_SERVER_BEARER_TOKEN when it is set (static credentials by default)', async () => {
    const stack = await startStack({
      env: { IDENTITY_PROVIDER: 'local', IDENTITY_LOCAL_USERS: users, MCP_SERVER_BEARER_TOKEN: 'server-own-token' },
      mcpEnv: { MCP_FIXTURE_TOKEN_CHECK_URL: '' },
    });
    const { client } = await attempt(stack, ALICE);
    try {
      assert.ok(client);
      assert.equal((await whoami(client)).authorization, 'Bearer server-own-token');
    } finally {
      await client?.close();
      await stack.stop();
    }
  });
});
