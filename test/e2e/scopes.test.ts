// Scopes of the MCP resource (PROVIDER_SCOPE beyond openid/offline_access): advertised, put in
// the 401 challenge, required at /mcp with a 403 insufficient_scope step-up challenge.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Browser } from '../helpers/browser.js';
import { listTools } from '../helpers/mcp-client.js';
import { startStack, type Stack } from '../helpers/stack.js';
import { TEST_USER } from '../helpers/upstream-idp.js';

const REDIRECT = 'http://127.0.0.1:45679/cb';

describe('resource scopes and step-up', function () {
  this.timeout(60_000);
  let stack: Stack;
  let clientId: string;

  async function tokenFor(scope: string): Promise<string> {
    const verifier = randomBytes(32).toString('base64url');
    const auth = new URL(`${stack.baseUrl}/auth`);
    auth.search = new URLSearchParams({
      client_id: clientId,
      response_type: 'code',
      redirect_uri: REDIRECT,
      scope,
      resource: stack.mcpUrl,
      code_challenge: createHash('sha256').update(verifier).digest('base64url'),
      code_challenge_method: 'S256',
    }).toString();
    const browser = new Browser();
    const atClient = (u: URL) => u.href.startsWith(REDIRECT);
    const consent = await browser.open(auth.href, atClient);
    const login = await browser.submit(consent, { actionIncludes: '/confirm', button: { name: 'action', value: 'confirm' }, stopAt: atClient });
    const done = await browser.submit(login, { fields: { username: TEST_USER.username, password: TEST_USER.password }, stopAt: atClient });
    assert.ok(done.redirectedTo, `no redirect to the client: ${done.status} ${done.url} ${done.html.slice(0, 300)}`);
    const code = new URL(done.redirectedTo).searchParams.get('code')!;
    const response = await fetch(`${stack.baseUrl}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: REDIRECT, client_id: clientId }),
    });
    assert.equal(response.status, 200);
    const body = (await response.json()) as { access_token: string; scope?: string };
    issuedScopes.push(body.scope);
    return body.access_token;
  }
  const issuedScopes: (string | undefined)[] = [];

  const callMcp = (token?: string) => listTools(stack.mcpUrl, token);

  before(async () => {
    stack = await startStack({ env: { PROVIDER_SCOPE: 'openid offline_access mcp:tools', MCP_AUTH_PROXY_SCOPE_HEADER: 'proxy' } });
    const response = await fetch(`${stack.baseUrl}/reg`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none' }),
    });
    clientId = ((await response.json()) as { client_id: string }).client_id;
  });
  after(async () => stack?.stop());

  it('advertises the resource scopes and names them in the 401 challenge', async () => {
    const meta = (await (await fetch(`${stack.baseUrl}/.well-known/oauth-authorization-server`)).json()) as { scopes_supported: string[] };
    assert.deepEqual(meta.scopes_supported.sort(), ['mcp:tools', 'offline_access', 'openid']);
    const prm = (await (await fetch(`${stack.baseUrl}/.well-known/oauth-protected-resource/mcp`)).json()) as { scopes_supported: string[] };
    assert.deepEqual(prm.scopes_supported, ['mcp:tools']);
    const response = await callMcp();
    assert.equal(
      response.headers.get('www-authenticate'),
      `Bearer resource_metadata="${stack.baseUrl}/.well-known/oauth-protected-resource/mcp", scope="mcp:tools"`,
    );
  });

  it('answers a token without them with 403 insufficient_scope and the step-up challenge', async () => {
    const response = await callMcp(await tokenFor('openid'));
    assert.equal(response.status, 403);
    const challenge = response.headers.get('www-authenticate')!;
    assert.match(challenge, /^Bearer error="insufficient_scope"/);
    assert.match(challenge, /scope="mcp:tools"/);
    assert.match(challenge, /resource_metadata="/);
  });

  it('says in the token response what was granted: OpenID scopes and resource scopes, never ""', async () => {
    await tokenFor('openid offline_access mcp:tools');
    assert.equal(issuedScopes.at(-1), 'openid offline_access mcp:tools');
    // Every client that registered the refresh_token grant gets a refresh token: offline access.
    await tokenFor('openid');
    assert.equal(issuedScopes.at(-1), 'openid offline_access');
  });

  it('lets a token with them through, with the scope passed to the MCP server', async () => {
    const token = await tokenFor('openid mcp:tools');
    const response = await fetch(`${stack.mcpUrl}/headers`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(response.status, 200);
    const headers = (await response.json()) as Record<string, string>;
    assert.equal(headers['x-authorization-scope'], 'mcp:tools');
  });
});
