// Body size caps on every class of authorization endpoint: a body over the cap is refused with a
// 4xx in the endpoint's own error shape, declared (Content-Length) or streamed (chunked), and
// one just under the cap is read. The /mcp cap (MCP_AUTH_PROXY_MAX_BODY_BYTES) has its own test
// in streaming.test.ts.
import assert from 'node:assert/strict';
import { REGISTRATION_MAX_BYTES } from '../../src/provider/registration.js';
import { startStack, type Stack } from '../helpers/stack.js';

const OVER = 100 * 1024; // every auth endpoint caps at 56 kB or less
const UNDER = 50 * 1024;

describe('body size caps on the authorization endpoints', function () {
  this.timeout(60_000);
  let stack: Stack;

  before(async () => {
    stack = await startStack();
  });
  after(async () => stack?.stop());

  const formOf = (size: number) => `grant_type=refresh_token&refresh_token=${'x'.repeat(43)}&client_id=nobody&padding=${'p'.repeat(size)}`;
  const jsonOf = (size: number) => JSON.stringify({ redirect_uris: ['http://127.0.0.1:5002/cb'], token_endpoint_auth_method: 'none', client_name: 'p'.repeat(size) });

  /** Sends the body with Content-Length, or as a chunked stream that declares nothing. */
  function post(path: string, type: string, body: string, chunked: boolean): Promise<Response> {
    const init: RequestInit & { duplex?: 'half' } = { method: 'POST', headers: { 'content-type': type, accept: 'application/json' }, redirect: 'manual' };
    if (chunked) {
      const bytes = new TextEncoder().encode(body);
      init.body = new ReadableStream({
        start(controller) {
          for (let i = 0; i < bytes.length; i += 8192) controller.enqueue(bytes.subarray(i, i + 8192));
          controller.close();
        },
      });
      init.duplex = 'half';
    } else {
      init.body = body;
    }
    return fetch(`${stack.baseUrl}${path}`, init);
  }

  const classes: [string, string, string, (size: number) => string][] = [
    ['registration', '/reg', 'application/json', jsonOf],
    ['token', '/token', 'application/x-www-form-urlencoded', formOf],
    ['revocation', '/token/revocation', 'application/x-www-form-urlencoded', formOf],
    ['device authorization', '/device/auth', 'application/x-www-form-urlencoded', formOf],
    ['authorization (POST)', '/auth', 'application/x-www-form-urlencoded', formOf],
    ['confirm form', '/interaction/x/confirm', 'application/x-www-form-urlencoded', formOf],
    ['access-denied form', '/interaction/x/refused', 'application/x-www-form-urlencoded', formOf],
    ['outage form', '/interaction/x/unavailable', 'application/x-www-form-urlencoded', formOf],
    ['device verification form', '/device', 'application/x-www-form-urlencoded', formOf],
    ['session reset', '/session/end/confirm', 'application/x-www-form-urlencoded', formOf],
  ];

  for (const [name, path, type, bodyOf] of classes) {
    it(`${name} (${path}): 413 for a declared length over the cap`, async () => {
      const response = await post(path, type, bodyOf(OVER), false);
      assert.equal(response.status, 413);
      assert.equal(((await response.json()) as { error: string }).error, 'payload_too_large');
    });
  }

  // Streamed bodies are cut where the parser stops reading: our parsers answer 413, oidc-provider
  // its own invalid_request. The device verification form goes to a fresh page first (no session).
  for (const [name, path, type, bodyOf] of classes.filter(([, path]) => path !== '/device')) {
    it(`${name} (${path}): refused when streamed over the cap without a length`, async () => {
      const response = await post(path, type, bodyOf(OVER), true);
      assert.ok([400, 413].includes(response.status), `${response.status}`);
      const body = (await response.json()) as { error: string; error_description?: string };
      if (response.status === 400) assert.match(body.error_description ?? '', /failed to parse the request body/);
    });
  }

  it('reads bodies under the cap (the cap is not a blanket refusal)', async () => {
    // Registrations have a cap of their own (8 kB: each is kept); MCP clients send under 1 kB.
    assert.equal((await post('/reg', 'application/json', jsonOf(REGISTRATION_MAX_BYTES - 200), false)).status, 201);
    assert.equal((await post('/reg', 'application/json', jsonOf(REGISTRATION_MAX_BYTES + 1), false)).status, 413);
    const token = await post('/token', 'application/x-www-form-urlencoded', formOf(UNDER), false);
    assert.equal(token.status, 401); // read and answered: unknown client
    assert.equal(((await token.json()) as { error: string }).error, 'invalid_client');
  });
});
