// The registration and authorization requests of real MCP clients, as MISSION.md records them,
// each replayed through the whole flow: DCR → authorize → confirm → upstream login → code →
// token (with the client's own auth method) → /mcp.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Browser } from '../helpers/browser.js';
import { startStack, type Stack } from '../helpers/stack.js';
import { TEST_USER } from '../helpers/upstream-idp.js';

interface ClientReplay {
  name: string;
  registration: Record<string, unknown>;
  /** The redirect_uri the client sends at /auth (may differ from the registered one: loopback ports). */
  redirectUri: string;
  authorize?: Record<string, string>;
  /** Resource as the client writes it (default <BASE_URL>/mcp). */
  resource?: (stack: Stack) => string;
}

const REPLAYS: ClientReplay[] = [
  {
    name: 'Claude (web/desktop)',
    registration: {
      client_name: 'Claude',
      redirect_uris: ['https://claude.ai/api/mcp/auth_callback', 'https://claude.com/api/mcp/auth_callback'],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_post',
      scope: 'openid offline_access',
    },
    redirectUri: 'https://claude.ai/api/mcp/auth_callback',
    authorize: { scope: 'openid offline_access', prompt: 'consent', state: randomBytes(8).toString('hex') },
  },
  {
    name: 'Claude Code',
    registration: {
      client_name: 'Claude Code (my-server)',
      redirect_uris: ['http://localhost:54321/callback'],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
      application_type: 'native',
    },
    // Another port than registered (RFC 8252 §7.3), and a trailing slash on the resource.
    redirectUri: 'http://localhost:61000/callback',
    resource: (stack) => `${stack.mcpUrl}/`,
  },
  {
    name: 'Cursor',
    registration: {
      client_name: 'Cursor',
      redirect_uris: ['cursor://anysphere.cursor-mcp/oauth/callback', 'https://cursor.com/oauth/callback', 'http://127.0.0.1:8765/callback'],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
      application_type: 'web', // mislabelled: custom scheme and loopback make it native
    },
    redirectUri: 'cursor://anysphere.cursor-mcp/oauth/callback',
  },
  {
    name: 'VS Code',
    registration: {
      client_name: 'Visual Studio Code',
      redirect_uris: ['http://127.0.0.1:33418', 'https://vscode.dev/redirect'],
      grant_types: ['authorization_code', 'refresh_token'],
      token_endpoint_auth_method: 'none',
    },
    redirectUri: 'http://127.0.0.1:33418',
  },
  {
    name: 'ChatGPT',
    registration: {
      client_name: 'ChatGPT',
      redirect_uris: ['https://chatgpt.com/connector/oauth/abc123'],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
    redirectUri: 'https://chatgpt.com/connector/oauth/abc123',
    authorize: { scope: 'openid offline_access' },
  },
];

describe('real MCP clients, replayed', function () {
  this.timeout(60_000);
  let stack: Stack;

  before(async () => {
    stack = await startStack();
  });
  after(async () => stack?.stop());

  it('advertises what the clients look for in the metadata', async () => {
    const meta = (await (await fetch(`${stack.baseUrl}/.well-known/oauth-authorization-server`)).json()) as Record<string, string[]>;
    assert.ok(meta.scopes_supported!.includes('offline_access'), 'ChatGPT asks for refresh tokens only when offline_access is advertised');
    for (const method of ['none', 'client_secret_post', 'client_secret_basic']) {
      assert.ok(meta.token_endpoint_auth_methods_supported!.includes(method), method);
    }
    const prm = (await (await fetch(`${stack.baseUrl}/.well-known/oauth-protected-resource/mcp`)).json()) as { scopes_supported: string[] };
    assert.equal(prm.scopes_supported.includes('offline_access'), false, 'clients copy PRM scopes into registration');
  });

  for (const replay of REPLAYS) {
    it(`${replay.name}: registers, signs in and reaches /mcp`, async () => {
      const registered = await fetch(`${stack.baseUrl}/reg`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(replay.registration),
      });
      const client = (await registered.json()) as { client_id: string; client_secret?: string; error_description?: string };
      assert.equal(registered.status, 201, client.error_description);

      const verifier = randomBytes(32).toString('base64url');
      const auth = new URL(`${stack.baseUrl}/auth`);
      auth.search = new URLSearchParams({
        client_id: client.client_id,
        response_type: 'code',
        redirect_uri: replay.redirectUri,
        code_challenge: createHash('sha256').update(verifier).digest('base64url'),
        code_challenge_method: 'S256',
        resource: replay.resource?.(stack) ?? stack.mcpUrl,
        ...replay.authorize,
      }).toString();

      const browser = new Browser();
      const atClient = (u: URL) => u.href.startsWith(replay.redirectUri);
      const consent = await browser.open(auth.href, atClient);
      assert.equal(consent.status, 200, consent.html.slice(0, 300));
      const login = await browser.submit(consent, { actionIncludes: '/confirm', button: { name: 'action', value: 'confirm' }, stopAt: atClient });
      const done = await browser.submit(login, { fields: { username: TEST_USER.username, password: TEST_USER.password }, stopAt: atClient });
      const callback = new URL(done.redirectedTo!);
      assert.equal(callback.searchParams.get('iss'), stack.baseUrl);
      assert.equal(callback.searchParams.get('state'), replay.authorize?.state ?? null);
      const code = callback.searchParams.get('code')!;

      const method = replay.registration.token_endpoint_auth_method;
      const body = new URLSearchParams({ grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: replay.redirectUri });
      const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
      if (method === 'client_secret_basic') {
        headers.authorization = `Basic ${Buffer.from(`${encodeURIComponent(client.client_id)}:${encodeURIComponent(client.client_secret!)}`).toString('base64')}`;
      } else {
        body.set('client_id', client.client_id);
        if (method === 'client_secret_post') body.set('client_secret', client.client_secret!);
      }
      const token = await fetch(`${stack.baseUrl}/token`, { method: 'POST', headers, body });
      const tokens = (await token.json()) as { access_token: string; refresh_token?: string; error_description?: string };
      assert.equal(token.status, 200, tokens.error_description);
      assert.ok(tokens.refresh_token, 'every client with the refresh_token grant gets a refresh token');

      const call = await fetch(stack.mcpUrl, {
        method: 'POST',
        headers: { authorization: `Bearer ${tokens.access_token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} }),
      });
      assert.equal(call.status, 200);
    });
  }
});
