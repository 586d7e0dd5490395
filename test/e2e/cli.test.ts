// The operator's command line as a real process against a running stack: keys from `jwks` sign
// the proxy's ID tokens (jose verifies them through /jwks), `grants` lists a signed-in user's grant
// without a token, and `revoke` ends it on the running proxy at once (its bearer cache told through
// Redis pub/sub) and at the upstream IdP.
import assert from 'node:assert/strict';
import type { JsonWebKey } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import * as jose from 'jose';
import { UpstreamTokenVault, type UpstreamTokens } from '../../src/identity/vault.js';
import { runCliProcess, SOURCE_ENTRY, type CliRun } from '../helpers/cli-process.js';
import { connectWithOAuth, TestOAuthProvider, listTools } from '../helpers/mcp-client.js';
import { freePort } from '../helpers/ports.js';
import { startStack, type Stack } from '../helpers/stack.js';
import { TEST_USER } from '../helpers/upstream-idp.js';

describe('mcp-auth-proxy command line against a running proxy', function () {
  this.timeout(60_000);
  let tmp: string;
  let keys: JsonWebKey[];
  let stack: Stack;
  let env: Record<string, string>;
  let auth: TestOAuthProvider;
  let client: Client;
  let upstreamTokens: UpstreamTokens;

  const run = (args: string[], options: { env?: Record<string, string>; stdin?: string } = {}): Promise<CliRun> =>
    runCliProcess(SOURCE_ENTRY, args, { cwd: tmp, env: options.env ?? env, stdin: options.stdin ?? '' });

  const callMcp = (token: string) => listTools(stack.mcpUrl, token);

  before(async () => {
    // An empty working directory: no developer's .env leaks into the commands.
    tmp = await mkdtemp(join(tmpdir(), 'mcp-auth-proxy-cli-'));
    // The keys come from the command itself: an Ed25519 set rotated to a new P-256 key first.
    const first = await run(['jwks', '--type', 'ed25519'], { env: {} });
    assert.equal(first.code, 0, first.stderr);
    const rotated = await run(['jwks', '--rotate', '--from', '-', '--type', 'p-256'], { env: {}, stdin: first.stdout });
    assert.equal(rotated.code, 0, rotated.stderr);
    keys = JSON.parse(rotated.stdout) as JsonWebKey[];
    assert.deepEqual(keys.slice(1), JSON.parse(first.stdout), '--rotate keeps the old key second');

    stack = await startStack({ env: { OIDC_PROVIDER_JWKS: rotated.stdout.trim() } });
    // The proxy's configuration, as an operator's shell (heroku run) has it.
    env = {
      BASE_URL: stack.baseUrl,
      LOCAL_INSECURE: 'true',
      MCP_SERVER_URL: stack.config.mcp.serverUrl!.href,
      IDENTITY_SERVER_URL: stack.idp.issuer,
      IDENTITY_CLIENT_ID: stack.idp.clientId,
      IDENTITY_CLIENT_SECRET: stack.idp.clientSecret,
      MCP_AUTH_PROXY_REDIS_URL: stack.redis.url,
      OIDC_PROVIDER_JWKS: rotated.stdout.trim(),
    };
    auth = new TestOAuthProvider();
    client = await connectWithOAuth(stack.mcpUrl, auth);
  });
  after(async () => {
    await client?.close();
    await stack?.stop();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it('signs ID tokens with the first `jwks` key, publishes every public key, and jose verifies them', async () => {
    const idToken = auth.savedTokens?.id_token;
    assert.ok(idToken, 'the token response carries an ID token (openid)');
    const jwksUrl = new URL(`${stack.baseUrl}/jwks`);
    const { payload, protectedHeader } = await jose.jwtVerify(idToken, jose.createRemoteJWKSet(jwksUrl), {
      issuer: stack.baseUrl,
      audience: auth.client!.client_id,
    });
    assert.equal(protectedHeader.kid, keys[0]!.kid);
    assert.equal(protectedHeader.alg, 'ES256');
    assert.equal(payload.sub, TEST_USER.sub);

    const published = (await (await fetch(jwksUrl)).json()) as { keys: JsonWebKey[] };
    assert.deepEqual(published.keys.map((k) => k.kid), keys.map((k) => k.kid), 'both keys, in order: the old one still verifies');
    assert.ok(published.keys.every((k) => k.d === undefined), 'never the private part');
    // The old (Ed25519) key verifies what it signs, through the published set.
    const oldKey = await jose.importJWK(keys[1] as jose.JWK, 'EdDSA');
    const signedByOld = await new jose.SignJWT({ probe: true }).setProtectedHeader({ alg: 'EdDSA', kid: String(keys[1]!.kid) }).sign(oldKey);
    assert.equal((await jose.jwtVerify(signedByOld, jose.createRemoteJWKSet(jwksUrl))).payload.probe, true);
  });

  it('lists the signed-in user\'s grant by account id and by email, never a token', async () => {
    const byId = await run(['grants', TEST_USER.sub, '--json']);
    assert.equal(byId.code, 0, byId.stderr);
    const listed = JSON.parse(byId.stdout) as Record<string, unknown>[];
    assert.equal(listed.length, 1);
    const grant = listed[0]!;
    assert.equal(grant.accountId, TEST_USER.sub);
    assert.equal(grant.email, TEST_USER.email);
    assert.equal(grant.clientId, auth.client!.client_id);
    assert.equal(grant.clientName, 'SDK Test Client');
    assert.ok((grant.scopes as string[]).includes('openid'));
    assert.deepEqual(grant.tokens, { access: 1, refresh: 1 });
    assert.equal(grant.upstream, true);
    for (const field of ['createdAt', 'expiresAt']) assert.match(String(grant[field]), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/, field);
    const lifetime = (Date.parse(String(grant.expiresAt)) - Date.parse(String(grant.createdAt))) / 1000;
    assert.equal(lifetime, stack.config.provider.grantTtl);

    const byEmail = await run(['grants', TEST_USER.email.toUpperCase()]);
    assert.equal(byEmail.code, 0, byEmail.stderr);
    assert.match(byEmail.stdout, new RegExp(`^${TEST_USER.sub} <${TEST_USER.email}>: 1 grant\\(s\\)\\n  GRANT +CLIENT +SCOPES +CREATED +EXPIRES +TOKENS\\n  ${grant.grantId} +SDK Test Client \\(${auth.client!.client_id}\\) +openid`));
    assert.match(byEmail.stdout, /1 access, 1 refresh\n$/);

    const loaded = await new UpstreamTokenVault(stack.proxy.store, stack.config.vaultKeys).load(String(grant.grantId));
    assert.ok(loaded?.accessToken && loaded.refreshToken);
    upstreamTokens = loaded;
    for (const output of [byId, byEmail]) {
      const printed = output.stdout + output.stderr;
      for (const token of [auth.savedTokens!.access_token, auth.savedTokens!.refresh_token!, loaded.accessToken, loaded.refreshToken!]) {
        assert.ok(!printed.includes(token), 'no token in the output');
      }
    }

    const nobody = await run(['grants', 'nobody@example.com']);
    assert.deepEqual([nobody.code, nobody.stdout], [0, 'No grants for nobody@example.com.\n']);
  });

  it('revokes the grant: the very next /mcp request on the running proxy gets a 401 challenge', async () => {
    const token = auth.savedTokens!.access_token;
    assert.equal((await callMcp(token)).status, 200, 'valid, and now in the proxy\'s bearer cache');
    assert.ok(await stack.idp.isAccessTokenValid(upstreamTokens.accessToken));

    const revoked = await run(['revoke', '--user', TEST_USER.email]);
    assert.equal(revoked.code, 0, revoked.stderr);
    assert.match(
      revoked.stdout,
      new RegExp(`^Revoked grant \\S+ of ${TEST_USER.sub} <${TEST_USER.email}> for SDK Test Client \\(${auth.client!.client_id}\\); upstream tokens revoked at the identity provider\\.\\n$`),
    );

    // No retry: the cache entry is gone before the command has exited (Redis hands a PUBLISH to
    // subscribers before answering it). The proxy's own bearer check refuses the token: a cached
    // token would have gone on to the MCP server, and its 401 says something else.
    const response = await callMcp(token);
    assert.equal(response.status, 401);
    assert.match(
      response.headers.get('www-authenticate') ?? '',
      /^Bearer error="invalid_token", error_description="The access token is invalid or expired", resource_metadata="/,
    );
    assert.equal(await stack.idp.isAccessTokenValid(upstreamTokens.accessToken), false, 'revoked at the IdP too');

    const refresh = await fetch(`${stack.baseUrl}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: auth.savedTokens!.refresh_token!, client_id: auth.client!.client_id }),
    });
    assert.equal(refresh.status, 400);
    assert.equal(((await refresh.json()) as { error: string }).error, 'invalid_grant');

    const after = await run(['grants', TEST_USER.sub]);
    assert.deepEqual([after.code, after.stdout], [0, `No grants for ${TEST_USER.sub}.\n`]);
    const again = await run(['revoke', '--user', TEST_USER.sub]);
    assert.equal(again.code, 3, 'nothing left to revoke');
    assert.match(again.stderr, /^Nothing to revoke: no grants for user-1\.\n$/);
  });

  it('signs in again after the revocation, confirming the client again', async () => {
    // The same browser (its session says who signed in) and client: only a remembered
    // confirmation would skip the page, and revoke forgot it.
    auth.savedTokens = undefined;
    auth.pages.length = 0;
    await client.close();
    client = await connectWithOAuth(stack.mcpUrl, auth);
    assert.match(auth.pages[0]?.html ?? '', /action="[^"]*\/confirm"/, 'the confirm page, not straight to the IdP');
    const listed = JSON.parse((await run(['grants', TEST_USER.sub, '--json'])).stdout) as unknown[];
    assert.equal(listed.length, 1, 'a new grant');
  });

  it('revokes one grant by id, or only the grants of one client with --client', async () => {
    const [grant] = JSON.parse((await run(['grants', TEST_USER.sub, '--json'])).stdout) as { grantId: string; clientId: string }[];
    assert.ok(grant);
    const otherClient = await run(['revoke', '--user', TEST_USER.sub, '--client', 'some-other-client']);
    assert.equal(otherClient.code, 3);
    assert.match(otherClient.stderr, /^Nothing to revoke: no grants for user-1 with client some-other-client\.\n$/);

    const byId = await run(['revoke', grant.grantId, 'no-such-grant']);
    assert.equal(byId.code, 3, 'one of the two was not there');
    assert.match(byId.stdout, new RegExp(`^Revoked grant ${grant.grantId} of ${TEST_USER.sub} `));
    assert.match(byId.stderr, /^No grant no-such-grant/m);
    // The proxy's own audit line, for the app's log (on Heroku, a one-off dyno's output is in it).
    const audit = byId.stderr.split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as Record<string, unknown>);
    assert.deepEqual(
      audit.map(({ audit: event, grantId, accountId, reason }) => ({ event, grantId, accountId, reason })),
      [{ event: 'grant.revoked', grantId: grant.grantId, accountId: TEST_USER.sub, reason: 'operator' }],
    );
    assert.ok(!byId.stderr.includes(auth.savedTokens!.access_token));
    assert.equal((await callMcp(auth.savedTokens!.access_token)).status, 401);
  });

  it('refuses without Redis (explaining that the in-memory store is per process), with Redis unreachable, or without configuration', async () => {
    const { MCP_AUTH_PROXY_REDIS_URL: _redis, ...withoutRedis } = env;
    for (const args of [['grants', TEST_USER.sub], ['revoke', '--user', TEST_USER.sub], ['vault-reencrypt']]) {
      const result = await run(args, { env: withoutRedis });
      assert.equal(result.code, 1, args.join(' '));
      assert.equal(result.stdout, '');
      assert.match(result.stderr, /^MCP_AUTH_PROXY_REDIS_URL \(or REDIS_URL\) is not set\. Without Redis each proxy process keeps .* in its own memory, which no other process can reach/);
    }
    const unreachable = await run(['grants', TEST_USER.sub], { env: { ...env, MCP_AUTH_PROXY_REDIS_URL: `redis://:hunter22@127.0.0.1:${await freePort()}` } });
    assert.equal(unreachable.code, 1);
    assert.match(unreachable.stderr, /^MCP_AUTH_PROXY_REDIS_URL: cannot connect to Redis at 127\.0\.0\.1:\d+ \(/);
    assert.doesNotMatch(unreachable.stderr, /hunter22/);
    const noConfig = await run(['grants', TEST_USER.sub], { env: {} });
    assert.equal(noConfig.code, 1);
    assert.match(noConfig.stderr, /^Nothing is configured here \(`npm start` would run the local demo\)/);
    const partial = await run(['grants', TEST_USER.sub], { env: { BASE_URL: env.BASE_URL! } });
    assert.equal(partial.code, 1);
    assert.match(partial.stderr, /^Invalid configuration:\n( {2}- .*\n)* {2}- MCP_SERVER_URL: is required/);
    assert.match(partial.stderr, /`node \S+ config` shows the effective configuration/);
  });
});
