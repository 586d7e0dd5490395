// IDENTITY_PROVIDER=entra on the real stack. With IDENTITY_ALLOWED_ENTRA_TENANTS only users whose
// ID token names an allowed tenant (tid) sign in. Multi-tenant: Entra ID's discovery at
// /organizations/v2.0 names its issuer https://login.microsoftonline.com/{tenantid}/v2.0, and each
// ID token's issuer is that with its own tid. openid-client applies this rule on Entra ID's own
// origin only, so the stand-in (the test IdP as tenant 72f9…, with that discovery document) is
// reached as login.microsoftonline.com through test/helpers/host-map.ts, over TLS, no DNS.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { selfSignedCertificate } from '../helpers/certificates.js';
import { withoutIssuerInRedirects } from '../helpers/heroku-identity.js';
import { mapHosts } from '../helpers/host-map.js';
import { connectWithOAuth, TestOAuthProvider } from '../helpers/mcp-client.js';
import { freePort } from '../helpers/ports.js';
import { startStack } from '../helpers/stack.js';
import { startUpstreamIdp, type UpstreamIdp } from '../helpers/upstream-idp.js';

const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';

describe('signing in with Microsoft Entra ID (IDENTITY_PROVIDER=entra)', function () {
  this.timeout(60_000);
  let port: number;
  let idp: UpstreamIdp;
  before(async () => {
    port = await freePort();
    idp = await startUpstreamIdp({ redirectUris: [`http://127.0.0.1:${port}/interaction/identity/callback`], openidClaims: ['tid'] });
  });
  after(() => idp?.stop());

  for (const [tid, allowed] of [
    [TENANT, true],
    ['9188040d-6c67-4c5b-b112-36a304b66dad', false],
    [undefined, false],
  ] as const) {
    it(`a user of ${tid ?? 'no tenant'}: ${allowed ? 'signs in' : 'refused'}`, async () => {
      idp.setUserClaims(tid ? { tid } : {});
      const stack = await startStack({ port, idp, env: { IDENTITY_PROVIDER: 'entra', IDENTITY_ALLOWED_ENTRA_TENANTS: TENANT.toUpperCase() } });
      try {
        const attempt = connectWithOAuth(stack.mcpUrl, new TestOAuthProvider());
        if (allowed) await (await attempt).close();
        else {
          await assert.rejects(attempt);
          assert.ok(stack.logs.some((line) => line.includes('Entra ID tenant not allowed')));
        }
      } finally {
        idp.setUserClaims({});
        await stack.stop();
      }
    });
  }
});

describe('Entra ID multi-tenant: the {tenantid} issuer, on its own origin', function () {
  this.timeout(60_000);
  const ORIGIN = 'https://login.microsoftonline.com';
  const OTHER_TENANT = '9188040d-6c67-4c5b-b112-36a304b66dad';
  let port: number;
  let dir: string;
  let tenant: UpstreamIdp;
  let unmap: (() => Promise<void>) | undefined;

  before(async () => {
    port = await freePort();
    dir = await mkdtemp(join(tmpdir(), 'entra-'));
    const cert = await selfSignedCertificate(dir, 'entra', ['login.microsoftonline.com']);
    const idpPort = await freePort();
    tenant = await startUpstreamIdp({
      port: idpPort,
      redirectUris: [`http://127.0.0.1:${port}/interaction/identity/callback`],
      issuer: `${ORIGIN}/${TENANT}/v2.0`,
      tls: { key: await readFile(cert.keyFile, 'utf8'), cert: cert.pem },
      conformIdTokenClaims: false,
      openidClaims: ['tid'],
      routes: async (_req, res, path) => {
        // Entra ID does not send RFC 9207's iss with the code.
        if (path.startsWith(`/${TENANT}/v2.0/auth`)) {
          withoutIssuerInRedirects(res);
          return false;
        }
        // Its tenant-independent discovery: the tenant's document, its issuer a template (and no RFC 9207).
        if (path !== '/organizations/v2.0/.well-known/openid-configuration') return false;
        const metadata = (await (await fetch(`${ORIGIN}/${TENANT}/v2.0/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
        const { authorization_response_iss_parameter_supported: _none, ...entra } = metadata;
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ...entra, issuer: `${ORIGIN}/{tenantid}/v2.0` }));
        return true;
      },
    });
    unmap = await mapHosts({ 'login.microsoftonline.com': idpPort }, cert.pem);
  });
  after(async () => {
    await unmap?.();
    await tenant?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const stackFor = () =>
    startStack({
      port,
      idp: tenant,
      env: {
        IDENTITY_PROVIDER: 'entra',
        IDENTITY_SERVER_URL: `${ORIGIN}/organizations/v2.0`,
        IDENTITY_ALLOWED_ENTRA_TENANTS: `${TENANT},${OTHER_TENANT}`,
      },
      // The MCP server (a child process) cannot reach the stand-in: it does not check tokens.
      mcpEnv: { MCP_FIXTURE_TOKEN_CHECK_URL: '' },
    });

  it("signs in through /organizations/v2.0: the ID token's issuer is the template with its tid", async () => {
    tenant.setUserClaims({ tid: TENANT });
    const stack = await stackFor();
    try {
      const client = await connectWithOAuth(stack.mcpUrl, new TestOAuthProvider());
      await client.close();
    } finally {
      tenant.setUserClaims({});
      await stack.stop();
    }
  });

  it("refuses an ID token whose issuer is not its own tid's, even of an allowed tenant", async () => {
    // Issued by tenant 72f9… but claiming tenant 9188…: the issuer does not match the template.
    tenant.setUserClaims({ tid: OTHER_TENANT });
    const stack = await stackFor();
    try {
      await assert.rejects(connectWithOAuth(stack.mcpUrl, new TestOAuthProvider()));
      assert.ok(
        stack.logs.some((line) => line.includes('upstream sign-in failed') && line.includes('unexpected JWT \\"iss\\" (issuer) claim value')),
        'refused for its issuer',
      );
    } finally {
      tenant.setUserClaims({});
      await stack.stop();
    }
  });
});

