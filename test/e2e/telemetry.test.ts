// Metrics and audit lines of the paths one flow does not take: consents cancelled and
// remembered, sign-in refused by the access policy, refresh token replay, an identity provider
// refusing to refresh, a user leaving the allowed groups, rate limits. In process, with the
// Prometheus endpoint public (no MCP_AUTH_PROXY_METRICS_TOKEN).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Browser } from '../helpers/browser.js';
import { parsePrometheus, sampleValue } from '../helpers/prometheus.js';
import { listTools } from '../helpers/mcp-client.js';
import { startStack, type Stack } from '../helpers/stack.js';
import { TEST_USER } from '../helpers/upstream-idp.js';
import { authorizeUrl, codeChallenge } from '../helpers/authorize.js';

const REDIRECT = 'http://127.0.0.1:45681/cb';
const atClient = (u: URL) => u.href.startsWith(REDIRECT);

interface Tokens {
  access_token: string;
  refresh_token: string;
}

interface AuditLine {
  audit: string;
  grantId: string;
  accountId?: string;
  clientId?: string;
  reason?: string;
  kind?: string;
}

describe('telemetry: metrics and audit lines', function () {
  this.timeout(60_000);
  let stack: Stack;
  let clientId: string;

  before(async () => {
    stack = await startStack({
      telemetry: true,
      env: {
        MCP_AUTH_PROXY_METRICS_PATH: '/metrics',
        IDENTITY_ALLOWED_GROUPS: 'staff',
        MCP_AUTH_PROXY_REFRESH_REPLAY_GRACE_SECONDS: '0',
        // This suite registers one client; the rest of the quota is for the rate limit test.
        MCP_AUTH_PROXY_REGISTRATION_MAX: '3',
      },
    });
    const response = await fetch(`${stack.baseUrl}/reg`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ client_name: 'Telemetry Test', redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none' }),
    });
    clientId = ((await response.json()) as { client_id: string }).client_id;
  });
  afterEach(() => stack.idp.setUserClaims({}));
  after(async () => stack?.stop());

  async function metrics(): Promise<ReturnType<typeof parsePrometheus>> {
    const response = await fetch(`${stack.baseUrl}/metrics`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^text\/plain/);
    return parsePrometheus(await response.text());
  }

  const count = async (name: string, labels: Record<string, string>) => sampleValue(await metrics(), name, labels);

  function auditLines(): AuditLine[] {
    return stack.logs.map((l) => JSON.parse(l) as Partial<AuditLine>).filter((l): l is AuditLine => typeof l.audit === 'string');
  }

  /** Authorization code flow through the browser; the page where it stopped, and the code if any. */
  async function authorize(browser: Browser, action: 'confirm' | 'cancel' = 'confirm') {
    const verifier = randomBytes(32).toString('base64url');
    const url = authorizeUrl(stack.baseUrl, {
      client_id: clientId,
      redirect_uri: REDIRECT,
      scope: 'openid offline_access',
      code_challenge: codeChallenge(verifier),
      code_challenge_method: 'S256',
    });
    let page = await browser.open(url, atClient);
    if (!page.redirectedTo && page.html.includes('/confirm')) {
      page = await browser.submit(page, { actionIncludes: '/confirm', button: { name: 'action', value: action }, stopAt: atClient });
    }
    if (!page.redirectedTo && page.html.includes('password')) {
      page = await browser.submit(page, { fields: { username: TEST_USER.username, password: TEST_USER.password }, stopAt: atClient });
    }
    const back = page.redirectedTo ? new URL(page.redirectedTo) : undefined;
    return { page, verifier, code: back?.searchParams.get('code') ?? undefined, error: back?.searchParams.get('error') ?? undefined };
  }

  async function signIn(browser = new Browser()): Promise<Tokens> {
    const { code, verifier, page } = await authorize(browser);
    assert.ok(code, `no code: ${page.status} ${page.url}`);
    const response = await token({ grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: REDIRECT });
    assert.equal(response.status, 200);
    return (await response.json()) as Tokens;
  }

  const token = (params: Record<string, string>) =>
    fetch(`${stack.baseUrl}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ ...params, client_id: clientId }),
    });

  const callMcp = (accessToken: string) => listTools(stack.mcpUrl, accessToken);

  const grantOf = (accessToken: string) => stack.proxy.provider.AccessToken.find(accessToken).then((t) => t?.grantId);

  it('counts a cancelled confirmation, and a remembered one that skips the page', async () => {
    const cancelledBefore = await count('mcp_auth_proxy_consents_total', { action: 'cancelled' });
    const cancelled = await authorize(new Browser(), 'cancel');
    assert.equal(cancelled.error, 'access_denied');
    assert.equal(await count('mcp_auth_proxy_consents_total', { action: 'cancelled' }), cancelledBefore + 1);

    const browser = new Browser();
    await signIn(browser);
    const rememberedBefore = await count('mcp_auth_proxy_consents_total', { action: 'remembered' });
    const shownBefore = await count('mcp_auth_proxy_consents_total', { action: 'shown' });
    await signIn(browser);
    assert.equal(await count('mcp_auth_proxy_consents_total', { action: 'remembered' }), rememberedBefore + 1);
    assert.equal(await count('mcp_auth_proxy_consents_total', { action: 'shown' }), shownBefore);
  });

  it('counts a sign-in the access policy refuses, as a login outcome and a denial', async () => {
    stack.idp.setUserClaims({ groups: ['contractors'] });
    const { page } = await authorize(new Browser());
    assert.equal(page.status, 403);
    assert.equal(await count('mcp_auth_proxy_logins_total', { outcome: 'denied_by_policy' }), 1);
    assert.equal(await count('mcp_auth_proxy_denials_total', { reason: 'access_policy', endpoint: 'oauth' }), 1);
  });

  it('audits a refresh token replay as a revocation, and counts the refused request', async () => {
    const tokens = await signIn();
    const grantId = await grantOf(tokens.access_token);
    assert.equal((await token({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token })).status, 200);
    const replay = await token({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token });
    assert.equal(replay.status, 400);

    const lines = auditLines().filter((l) => l.grantId === grantId);
    assert.deepEqual(
      lines.map((l) => [l.audit, l.kind ?? l.reason]),
      [
        ['grant.created', undefined],
        ['grant.refreshed', 'refresh_token'],
        ['grant.revoked', 'replay'],
      ],
    );
    assert.ok(lines.every((l) => l.accountId === TEST_USER.sub && l.clientId === clientId), JSON.stringify(lines));
    assert.ok(await count('mcp_auth_proxy_denials_total', { reason: 'invalid_grant', endpoint: 'oauth' }) >= 1);
  });

  it('audits the revocation when the identity provider refuses to refresh, and counts it', async () => {
    const tokens = await signIn();
    const grantId = await grantOf(tokens.access_token);
    await stack.idp.revokeAllAccessTokens();
    stack.idp.failNextRefresh();
    assert.equal((await callMcp(tokens.access_token)).status, 401);

    assert.ok(
      auditLines().some((l) => l.audit === 'grant.revoked' && l.grantId === grantId && l.reason === 'upstream_refused' && l.accountId === TEST_USER.sub && l.clientId === clientId),
      JSON.stringify(auditLines()),
    );
    assert.equal(await count('mcp_auth_proxy_upstream_refreshes_total', { outcome: 'refused' }), 1);
  });

  it('audits the revocation when the user left the allowed groups, at the next upstream refresh', async () => {
    const tokens = await signIn();
    const grantId = await grantOf(tokens.access_token);
    stack.idp.setUserClaims({ groups: ['contractors'] });
    await stack.idp.revokeAllAccessTokens();
    assert.equal((await callMcp(tokens.access_token)).status, 401);

    assert.ok(auditLines().some((l) => l.audit === 'grant.revoked' && l.grantId === grantId && l.reason === 'access_policy'), JSON.stringify(auditLines()));
    assert.equal(await count('mcp_auth_proxy_upstream_refreshes_total', { outcome: 'denied_by_policy' }), 1);
    assert.ok(await count('mcp_auth_proxy_denials_total', { reason: 'invalid_token', endpoint: 'mcp' }) >= 1);
  });

  it('counts rate-limited requests as denials', async () => {
    for (let i = 0; i < 3; i++) {
      const response = await fetch(`${stack.baseUrl}/reg`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none' }),
      });
      await response.body?.cancel();
    }
    assert.ok(await count('mcp_auth_proxy_denials_total', { reason: 'rate_limited', endpoint: 'oauth' }) >= 1);
  });

  it('writes no token into an audit line', () => {
    for (const line of auditLines()) {
      assert.deepEqual(Object.keys(line).filter((k) => !['level', 'time', 'msg'].includes(k)).sort(), ['accountId', 'audit', 'clientId', 'grantId', ...('kind' in line ? ['kind'] : []), ...('reason' in line ? ['reason'] : [])].sort());
    }
  });
});
