// A stand-in for Heroku Identity (id.heroku.com) and the one Platform API call an MCP server makes
// with its tokens, built from Heroku's public documentation (Dev Center "OAuth", Platform API
// "Account Info"), because the real ones cannot be reached from here:
// - OAuth 2.0, not OpenID Connect: no discovery, no ID token, no userinfo; the scope is `global`.
// - Its authorization response carries `code` and `state` only (no RFC 9207 `iss`). Heroku
//   Identity has no discovery; where a document points IDENTITY_SERVER_URL at a generic OAuth
//   server instead (identity.example.com), the stand-in's metadata says the same (no iss).
// - The token response names the user in `user_id` and adds a `session_nonce`; it has no `scope`:
//   {"access_token", "expires_in", "refresh_token", "token_type": "Bearer", "user_id", "session_nonce"}
// - GET /account with `Authorization: Bearer <token>` answers the account ({id, email, name}), or
//   401 {"id": "unauthorized", "message": …} for a token that is not valid.
// It is the tests' upstream IdP (oidc-provider) with Heroku's answers; operators point the proxy at
// it with a metadata file of Heroku's shape (see metadataFileOf).
import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { startUpstreamIdp, TEST_USER, type UpstreamIdp, type UpstreamIdpOptions } from './upstream-idp.js';

export interface HerokuIdentity extends UpstreamIdp {
  /** The Platform API's account endpoint (api.heroku.com/account), served by the stand-in. */
  accountUrl: string;
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

export async function startHerokuIdentity(options: Pick<UpstreamIdpOptions, 'redirectUris' | 'port' | 'clientSecret'>): Promise<HerokuIdentity> {
  const idp = await startUpstreamIdp({
    ...options,
    extraScopes: ['global'],
    async routes(req, res, path, dev) {
      if (path === '/auth' || path.startsWith('/auth/')) {
        withoutIssuerInRedirects(res);
        return false;
      }
      if (path.startsWith('/.well-known/')) {
        withoutIssuerParameterSupport(res);
        return false;
      }
      if (req.method !== 'GET' || path !== '/account') return false;
      const token = /^Bearer (\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
      const accessToken = token ? await dev.provider.AccessToken.find(token) : undefined;
      if (!accessToken || accessToken.isExpired) {
        sendJson(res, 401, { id: 'unauthorized', message: 'Invalid credentials provided.' });
      } else {
        sendJson(res, 200, { id: accessToken.accountId, email: TEST_USER.email, name: TEST_USER.name, verified: true });
      }
      return true;
    },
  });
  idp.rewriteTokenResponses(({ access_token, refresh_token, expires_in, token_type }) => ({
    access_token,
    expires_in,
    ...(refresh_token ? { refresh_token } : {}),
    token_type,
    user_id: TEST_USER.sub,
    session_nonce: randomBytes(4).toString('hex'),
  }));
  return { ...idp, accountUrl: `${idp.issuer}/account` };
}

/** Drops RFC 9207's `iss` from the redirect back to the client, as Heroku Identity does not send it. */
export function withoutIssuerInRedirects(res: ServerResponse): void {
  const setHeader = res.setHeader.bind(res);
  res.setHeader = ((name: string, value: number | string | readonly string[]) => {
    if (name.toLowerCase() === 'location' && typeof value === 'string') {
      const url = URL.parse(value);
      if (url?.searchParams.has('iss')) {
        url.searchParams.delete('iss');
        return setHeader(name, url.href);
      }
    }
    return setHeader(name, value);
  }) as ServerResponse['setHeader'];
}

/** Its metadata, then, does not announce RFC 9207 either. */
function withoutIssuerParameterSupport(res: ServerResponse): void {
  const end = res.end.bind(res) as (...args: unknown[]) => ServerResponse;
  res.end = ((...args: unknown[]) => {
    const [chunk] = args;
    if ((typeof chunk === 'string' || Buffer.isBuffer(chunk)) && !res.headersSent) {
      try {
        const { authorization_response_iss_parameter_supported: _dropped, ...metadata } = JSON.parse(chunk.toString()) as Record<string, unknown>;
        const text = JSON.stringify(metadata);
        res.setHeader('content-length', Buffer.byteLength(text));
        args[0] = text;
      } catch {
        // not JSON: as it is
      }
    }
    return end(...args);
  }) as ServerResponse['end'];
}

/**
 * Server metadata as Heroku documented it for IDENTITY_SERVER_METADATA_FILE (its
 * heroku_identity_*_metadata.json): issuer with a trailing slash, the two endpoints, and
 * `scopes_supported` as a bare string.
 */
export function metadataFileOf(idp: UpstreamIdp): string {
  return JSON.stringify({
    issuer: `${idp.issuer}/`,
    authorization_endpoint: `${idp.issuer}/auth`,
    token_endpoint: `${idp.issuer}/token`,
    scopes_supported: 'global',
  });
}
