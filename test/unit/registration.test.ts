import assert from 'node:assert/strict';
import { normalizeRegistration, type NormalizedRegistration } from '../../src/provider/registration.js';

const SCOPES = ['openid', 'offline_access', 'mcp:read'];

function accepted(result: NormalizedRegistration): Record<string, unknown> {
  assert.equal(result.ok, true, `refused: ${JSON.stringify(!result.ok && result.problem)}`);
  return (result as Extract<NormalizedRegistration, { ok: true }>).metadata;
}

describe('normalizeRegistration', () => {
  it('makes loopback http clients native', () => {
    for (const uri of ['http://localhost:8080/callback', 'http://127.0.0.1:33418/cb', 'http://[::1]:9000/cb', 'http://localhost/cb']) {
      const metadata = accepted(normalizeRegistration({ client_name: 'CLI', redirect_uris: [uri] }, SCOPES));
      assert.deepEqual(metadata, { client_name: 'CLI', redirect_uris: [uri], application_type: 'native' }, uri);
    }
  });

  // BUG (src/provider/registration.ts, the `webOnly` test in normalizeRegistration): an https
  // redirect URI on a loopback host counts as "not web only", so the client is made native. But
  // oidc-provider refuses https loopback URIs for native clients ("redirect_uris for native clients
  // using claimed HTTPS URIs must not be using localhost as hostname", client_schema.js
  // redirectUris()), while it accepts them for the default web type. So a registration that
  // oidc-provider alone would accept, {"redirect_uris": ["https://localhost:8443/cb"]}, is refused
  // with invalid_redirect_uri once it passes through the normalizer (even with an explicit
  // "application_type": "web"). Only http loopback and non-http(s) schemes call for native.
  it('keeps https-only clients on loopback hosts as they are (oidc-provider refuses https loopback for native)', () => {
    for (const uri of ['https://localhost:8443/cb', 'https://127.0.0.1/cb']) {
      assert.deepEqual(accepted(normalizeRegistration({ redirect_uris: [uri] }, SCOPES)), { redirect_uris: [uri] }, uri);
      assert.deepEqual(
        accepted(normalizeRegistration({ redirect_uris: [uri], application_type: 'web' }, SCOPES)),
        { redirect_uris: [uri], application_type: 'web' },
        uri,
      );
    }
  });

  it('accepts custom-scheme, https and loopback URIs in one registration, as native', () => {
    const redirect_uris = [
      'cursor://anysphere.cursor-retrieval/oauth/user-mcp/callback',
      'https://app.example.com/oauth/callback',
      'http://127.0.0.1:6274/oauth/callback',
    ];
    const result = normalizeRegistration({ client_name: 'Cursor', redirect_uris, application_type: 'web' }, SCOPES);
    assert.deepEqual(result, { ok: true, metadata: { client_name: 'Cursor', redirect_uris, application_type: 'native' } });
    assert.equal(accepted(normalizeRegistration({ redirect_uris: ['vscode://vscode.dev/redirect'] }, SCOPES)).application_type, 'native');
  });

  it('keeps the application_type (or its absence) of https-only clients', () => {
    const redirect_uris = ['https://claude.ai/api/mcp/auth_callback', 'https://app.example.com/cb'];
    assert.deepEqual(accepted(normalizeRegistration({ redirect_uris }, SCOPES)), { redirect_uris });
    assert.deepEqual(accepted(normalizeRegistration({ redirect_uris, application_type: 'web' }, SCOPES)), {
      redirect_uris,
      application_type: 'web',
    });
    assert.deepEqual(accepted(normalizeRegistration({ redirect_uris, application_type: 'native' }, SCOPES)), {
      redirect_uris,
      application_type: 'native',
    });
  });

  it('refuses plain http to a non-loopback host', () => {
    for (const uri of ['http://app.example.com/cb', 'http://localhost.example.com/cb', 'http://127.0.0.2/cb', 'http://10.0.0.1:8080/cb']) {
      assert.deepEqual(
        normalizeRegistration({ redirect_uris: ['https://ok.example.com/cb', uri] }, SCOPES),
        {
          ok: false,
          problem: { error: 'invalid_redirect_uri', error_description: `plain http redirect URIs must use a loopback host: ${uri}` },
        },
        uri,
      );
    }
  });

  it('refuses unparseable redirect URIs, naming the index', () => {
    assert.deepEqual(normalizeRegistration({ redirect_uris: ['https://ok.example.com/cb', 'not a uri'] }, SCOPES), {
      ok: false,
      problem: { error: 'invalid_redirect_uri', error_description: 'redirect_uris[1] is not a valid URI' },
    });
    assert.deepEqual(normalizeRegistration({ redirect_uris: ['/relative/cb'] }, SCOPES), {
      ok: false,
      problem: { error: 'invalid_redirect_uri', error_description: 'redirect_uris[0] is not a valid URI' },
    });
  });

  it('refuses bodies that are not JSON objects', () => {
    for (const body of [null, undefined, [], [{ redirect_uris: [] }], 'redirect_uris', 42, true]) {
      assert.deepEqual(
        normalizeRegistration(body, SCOPES),
        { ok: false, problem: { error: 'invalid_client_metadata', error_description: 'the registration must be a JSON object' } },
        JSON.stringify(body),
      );
    }
  });

  it('leaves redirect_uris it cannot judge to the provider', () => {
    const body = { redirect_uris: ['http://app.example.com/cb', 42] };
    assert.deepEqual(accepted(normalizeRegistration(body, SCOPES)), body);
    assert.deepEqual(accepted(normalizeRegistration({ redirect_uris: 'http://app.example.com/cb' }, SCOPES)), {
      redirect_uris: 'http://app.example.com/cb',
    });
    assert.deepEqual(accepted(normalizeRegistration({}, SCOPES)), {});
  });

  it('strips unknown scopes, and the scope entirely when none is known', () => {
    assert.deepEqual(accepted(normalizeRegistration({ scope: 'openid profile mcp:read  email offline_access' }, SCOPES)), {
      scope: 'openid mcp:read offline_access',
    });
    assert.deepEqual(accepted(normalizeRegistration({ scope: 'profile email' }, SCOPES)), {});
    assert.deepEqual(accepted(normalizeRegistration({ scope: '' }, SCOPES)), {});
    assert.deepEqual(accepted(normalizeRegistration({ scope: 'openid' }, [])), {});
  });

  it('does not modify the body it was given', () => {
    const body = { redirect_uris: ['http://localhost:1/cb'], scope: 'openid unknown' };
    const copy = structuredClone(body);
    const metadata = accepted(normalizeRegistration(body, SCOPES));
    assert.deepEqual(body, copy);
    assert.deepEqual(metadata, { redirect_uris: ['http://localhost:1/cb'], scope: 'openid', application_type: 'native' });
  });
});
