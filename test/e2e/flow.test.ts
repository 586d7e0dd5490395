// The whole MCP OAuth flow on real parts: SDK client → 401 → discovery → DCR → authorize →
// confirm → upstream login → token → tools/list → tools/call → refresh.
import assert from 'node:assert/strict';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { connectWithOAuth, TestOAuthProvider, whoami } from '../helpers/mcp-client.js';
import { startStack, type Stack } from '../helpers/stack.js';

describe('end-to-end OAuth flow with the MCP SDK client', function () {
  this.timeout(60_000);
  let stack: Stack;
  let auth: TestOAuthProvider;
  let client: Client;
  /** Tokens the tests obtain besides the client's own (rotations), for the log check. */
  const alsoIssued: string[] = [];

  before(async () => {
    stack = await startStack();
    auth = new TestOAuthProvider();
    client = await connectWithOAuth(stack.mcpUrl, auth);
  });
  after(async () => {
    await client?.close();
    await stack?.stop();
  });

  it('shows the confirm page with the client name and its redirect target', () => {
    const consent = auth.pages[0]!;
    assert.equal(consent.status, 200);
    assert.match(consent.html, /SDK Test Client/);
    assert.match(consent.html, /http:\/\/127\.0\.0\.1:33418/);
    assert.match(consent.html, /name="csrf"/);
  });

  it('registered a native client for the loopback redirect and returned a code with iss', () => {
    assert.ok(auth.client?.client_id);
    assert.equal(auth.callback?.searchParams.get('iss'), stack.baseUrl);
  });

  it('lists and calls tools through the proxy', async () => {
    const { tools } = await client.listTools();
    assert.deepEqual(tools.map((t) => t.name).sort(), ['echo', 'whoami']);
    const echoed = await client.callTool({ name: 'echo', arguments: { text: 'hello through the proxy' } });
    assert.deepEqual(echoed.content, [{ type: 'text', text: 'hello through the proxy' }]);
  });

  it('gives the MCP server the upstream token, never the proxy token or cookies', async () => {
    const seen = await whoami(client);
    const upstreamToken = seen.authorization?.replace(/^Bearer /, '') ?? '';
    assert.notEqual(upstreamToken, auth.savedTokens?.access_token);
    assert.equal(await stack.idp.isAccessTokenValid(upstreamToken), true);
    assert.equal(seen.headers['x-dynamic-client-id'], auth.client?.client_id);
    assert.equal('x-authorization-scope' in seen.headers, true);
    assert.equal(seen.headers.cookie, undefined);
  });

  it('issued a refresh token and refreshes it, rotating it', async () => {
    const before = auth.savedTokens!;
    assert.ok(before.refresh_token);
    const response = await fetch(`${stack.baseUrl}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: before.refresh_token!,
        client_id: auth.client!.client_id,
      }),
    });
    assert.equal(response.status, 200);
    const tokens = (await response.json()) as { access_token: string; refresh_token: string; scope?: string };
    alsoIssued.push(tokens.access_token, tokens.refresh_token);
    assert.notEqual(tokens.refresh_token, before.refresh_token);
    // The granted scope (the SDK asks for the resource metadata's scopes_supported: openid; a
    // refresh token came too), in the first token response and at refresh; never "".
    assert.equal(before.scope, 'openid offline_access');
    assert.equal(tokens.scope, 'openid offline_access');
    const call = await fetch(stack.mcpUrl, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${tokens.access_token}`,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} }),
    });
    assert.equal(call.status, 200);
  });

  it('refreshes the upstream token once and retries when the MCP server answers 401', async () => {
    const refreshesBefore = stack.idp.refreshGrants();
    await stack.idp.revokeAllAccessTokens();
    const seen = await whoami(client);
    assert.equal(stack.idp.refreshGrants(), refreshesBefore + 1);
    assert.equal(await stack.idp.isAccessTokenValid(seen.authorization!.replace(/^Bearer /, '')), true);
  });

  it('revokes the grant and challenges the client when the upstream refresh fails', async () => {
    await stack.idp.revokeAllAccessTokens();
    stack.idp.failNextRefresh();
    const response = await fetch(stack.mcpUrl, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${auth.savedTokens!.access_token}`,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list', params: {} }),
    });
    assert.equal(response.status, 401);
    assert.match(response.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
    assert.match(response.headers.get('www-authenticate') ?? '', new RegExp(`resource_metadata="${stack.baseUrl}/.well-known/oauth-protected-resource/mcp"`));
    // The grant is gone: its refresh token no longer works either.
    const refresh = await fetch(`${stack.baseUrl}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: auth.savedTokens!.refresh_token!, client_id: auth.client!.client_id }),
    });
    assert.equal(refresh.status, 400);
  });

  it('never logs a token, code, cookie, key or secret issued or used in the whole run', async () => {
    // A confidential client too: its secret and registration access token are used once each.
    const registered = (await (
      await fetch(`${stack.baseUrl}/reg`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ redirect_uris: ['https://app.example.com/cb'], token_endpoint_auth_method: 'client_secret_post' }),
      })
    ).json()) as { client_id: string; client_secret: string; registration_access_token: string };
    await fetch(`${stack.baseUrl}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: 'x'.repeat(43), client_id: registered.client_id, client_secret: registered.client_secret }),
    });
    await fetch(`${stack.baseUrl}/reg/${registered.client_id}`, { headers: { authorization: `Bearer ${registered.registration_access_token}` } });

    const fromUrls = auth.browser.history.flatMap((href) => {
      const params = new URL(href).searchParams;
      return ['code', 'state', 'nonce', 'code_challenge'].map((name) => params.get(name));
    });
    // Every cookie value, except the interaction cookies' own: those hold the interaction uid,
    // which is in the page paths by design (the signature cookies beside them are checked).
    const cookieValues = auth.browser.setCookies
      .map(({ line }) => line.split(';')[0]!)
      .filter((pair) => !/^_(idp_)?(interaction|interaction_resume|resume)=/.test(pair))
      .map((pair) => pair.split('=').slice(1).join('='));
    const csrf = auth.pages.map((page) => /name="csrf" value="([^"]+)"/.exec(page.html)?.[1]);
    const { provider: settings } = stack.config;
    const keyParts = settings.jwks.flatMap((jwk) => ['d', 'p', 'q', 'dp', 'dq', 'qi'].map((part) => (jwk as Record<string, unknown>)[part]));
    const vaultKeys = stack.config.vaultKeys.flatMap((key) => ['base64', 'base64url', 'hex'].map((encoding) => key.toString(encoding as BufferEncoding)));
    const secrets = [
      auth.savedTokens?.access_token,
      auth.savedTokens?.refresh_token,
      ...alsoIssued,
      auth.callback?.searchParams.get('code'),
      ...stack.idp.issuedTokens(), // upstream access, refresh and ID tokens, refreshes included
      ...fromUrls, // upstream codes, states, nonces, challenges
      ...cookieValues,
      ...csrf,
      registered.client_secret,
      registered.registration_access_token,
      stack.idp.clientSecret,
      ...keyParts,
      ...vaultKeys,
      ...settings.cookieKeys,
    ].filter((s): s is string => typeof s === 'string' && s.length >= 16);
    assert.ok(stack.idp.issuedTokens().length >= 4, 'upstream tokens were collected');
    assert.ok(cookieValues.length >= 4, 'cookies were collected');
    assert.ok(stack.logs.length > 20, 'there are logs to check');
    for (const secret of new Set(secrets)) {
      const line = stack.logs.find((l) => l.includes(secret));
      assert.equal(line, undefined, `a log line contains a secret: ${line}`);
    }
  });
});
