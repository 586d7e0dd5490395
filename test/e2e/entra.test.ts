// IDENTITY_PROVIDER=entra with IDENTITY_ALLOWED_ENTRA_TENANTS on the real stack: only users whose
// ID token names an allowed tenant (tid) sign in. The test IdP stands in for one Entra tenant
// (Entra's multi-tenant issuer template, {tenantid}, is openid-client's to check: it does so for
// login.microsoftonline.com only, which cannot be reached from here).
import assert from 'node:assert/strict';
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
