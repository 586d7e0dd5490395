// GitHub as the identity provider (github.com, or GitHub Enterprise Server at IDENTITY_SERVER_URL):
// OAuth 2.0, not OpenID Connect. There is no discovery, no ID token and no userinfo: the user is
// who GET /user says (the numeric id is the subject: logins can be renamed and reused), the email is
// the verified primary one from GET /user/emails, and memberships come from /user/orgs and
// /user/teams. GitHub's token endpoint answers errors with HTTP 200, which is translated here into
// OAuth's shape so that openid-client reports them as the errors they are.
import type { CustomFetch } from 'openid-client';

const API_VERSION = '2022-11-28';
const API_TIMEOUT_MS = 10_000;
/** Pages of 100 followed at most per list (orgs, teams, emails). */
const MAX_PAGES = 10;

/** GitHub's token errors (sent with HTTP 200) in OAuth's terms (RFC 6749 §5.2). */
const TOKEN_ERRORS: Record<string, { error: string; status: number }> = {
  incorrect_client_credentials: { error: 'invalid_client', status: 401 },
  redirect_uri_mismatch: { error: 'invalid_grant', status: 400 },
  bad_verification_code: { error: 'invalid_grant', status: 400 },
  bad_refresh_token: { error: 'invalid_grant', status: 400 },
  unverified_user_email: { error: 'access_denied', status: 400 },
};

/**
 * A fetch for GitHub's token endpoint: an error answered with 200 becomes the status and error
 * code OAuth gives it; a comma-separated `scope` becomes space-separated. Other requests pass.
 */
export function githubTokenFetch(): CustomFetch {
  return async (url, options) => {
    const response = await fetch(url, options as RequestInit);
    if (response.status !== 200 || !String(response.headers.get('content-type')).includes('json')) return response;
    const body = (await response.json()) as Record<string, unknown>;
    const headers = new Headers(response.headers);
    headers.delete('content-length');
    if (typeof body.error === 'string') {
      const mapped = TOKEN_ERRORS[body.error] ?? { error: 'invalid_request', status: 400 };
      const answer = { error: mapped.error, error_description: `GitHub: ${body.error}${typeof body.error_description === 'string' ? `: ${body.error_description}` : ''}` };
      return new Response(JSON.stringify(answer), { status: mapped.status, headers });
    }
    if (typeof body.scope === 'string') body.scope = body.scope.split(',').map((s) => s.trim()).filter(Boolean).join(' ');
    return new Response(JSON.stringify(body), { status: 200, headers });
  };
}

export interface GithubUser {
  subject: string;
  claims: { email?: string; email_verified?: boolean; name?: string };
  /** For the access policy: login, email, and memberships when asked for. */
  profile: Record<string, unknown>;
}

/** An answer of the REST API that is not the one asked for. */
export class GithubApiError extends Error {
  constructor(
    readonly path: string,
    readonly status: number,
  ) {
    super(`GitHub's API answered GET ${path} with HTTP ${status}`);
    this.name = 'GithubApiError';
  }
}

/**
 * Who holds `accessToken`: GET /user, the verified primary email from /user/emails, and (with
 * `memberships`) the organisations and teams they belong to, as `org` and `org/team`, lower-case.
 */
export async function githubUser(apiUrl: URL, accessToken: string, { memberships }: { memberships: boolean }): Promise<GithubUser> {
  const get = (path: string) => apiGet(apiUrl, path, accessToken);
  const user = (await (await get('/user')).json()) as { id?: unknown; login?: unknown; name?: unknown };
  if (typeof user.id !== 'number' || typeof user.login !== 'string') throw new Error('GitHub did not identify the user (GET /user has no id and login)');
  const email = await primaryEmail(apiUrl, accessToken);
  const name = typeof user.name === 'string' && user.name !== '' ? user.name : user.login;
  const profile: Record<string, unknown> = { sub: String(user.id), login: user.login, name, ...(email ? { email, email_verified: true } : {}) };
  if (memberships) {
    const orgs = await pages<{ login?: unknown }>(apiUrl, '/user/orgs', accessToken);
    const teams = await pages<{ slug?: unknown; organization?: { login?: unknown } }>(apiUrl, '/user/teams', accessToken);
    profile.github_orgs = orgs.flatMap((o) => (typeof o.login === 'string' ? [o.login.toLowerCase()] : []));
    profile.github_teams = teams.flatMap((t) =>
      typeof t.slug === 'string' && typeof t.organization?.login === 'string' ? [`${t.organization.login}/${t.slug}`.toLowerCase()] : [],
    );
  }
  return { subject: String(user.id), claims: { ...(email ? { email, email_verified: true } : {}), name }, profile };
}

/** The verified primary address; none when the token may not read emails (no user:email) or none is verified. */
async function primaryEmail(apiUrl: URL, accessToken: string): Promise<string | undefined> {
  let emails: { email?: unknown; primary?: unknown; verified?: unknown }[];
  try {
    emails = await pages(apiUrl, '/user/emails', accessToken);
  } catch (err) {
    if (err instanceof GithubApiError && err.status < 500) return undefined;
    throw err;
  }
  const primary = emails.find((e) => e.primary === true && e.verified === true && typeof e.email === 'string');
  return primary ? String(primary.email) : undefined;
}

/** Every item of a paginated list (Link: rel="next"), up to MAX_PAGES of 100. */
async function pages<T>(apiUrl: URL, path: string, accessToken: string): Promise<T[]> {
  const items: T[] = [];
  let next: string | undefined = `${path}?per_page=100`;
  for (let page = 0; next && page < MAX_PAGES; page++) {
    const response = await apiGet(apiUrl, next, accessToken);
    const body = (await response.json()) as unknown;
    if (!Array.isArray(body)) throw new Error(`GitHub's API answered GET ${path} with something other than a list`);
    items.push(...(body as T[]));
    next = nextPage(response.headers.get('link'), apiUrl);
  }
  return items;
}

const apiRoot = (apiUrl: URL): string => apiUrl.href.replace(/\/+$/, '');

/** The path of Link's rel="next", when it stays on the API (RFC 8288). */
function nextPage(link: string | null, apiUrl: URL): string | undefined {
  const match = /<([^>]+)>\s*;\s*rel="?next"?/.exec(link ?? '');
  if (!match) return undefined;
  const url = URL.parse(match[1]!);
  const root = apiRoot(apiUrl);
  if (!url || !url.href.startsWith(`${root}/`)) return undefined;
  return url.href.slice(root.length);
}

/** What every REST API request says about itself (GitHub refuses requests without a User-Agent). */
const API_HEADERS = { accept: 'application/vnd.github+json', 'x-github-api-version': API_VERSION, 'user-agent': 'mcp-auth-proxy' };

async function apiGet(apiUrl: URL, pathAndQuery: string, accessToken: string): Promise<Response> {
  const response = await fetch(`${apiRoot(apiUrl)}${pathAndQuery}`, {
    headers: { ...API_HEADERS, authorization: `Bearer ${accessToken}` },
    signal: AbortSignal.timeout(API_TIMEOUT_MS),
  });
  if (response.status !== 200) {
    await response.body?.cancel();
    throw new GithubApiError(pathAndQuery.split('?')[0]!, response.status);
  }
  return response;
}

/**
 * Revokes a user's token: GitHub's own endpoint (DELETE /applications/{client_id}/token, with the
 * client's credentials), not RFC 7009. Its refresh token (GitHub Apps) dies with it.
 */
export async function revokeGithubToken(apiUrl: URL, clientId: string, clientSecret: string, accessToken: string): Promise<void> {
  const response = await fetch(`${apiRoot(apiUrl)}/applications/${encodeURIComponent(clientId)}/token`, {
    method: 'DELETE',
    headers: { ...API_HEADERS, authorization: `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}`, 'content-type': 'application/json' },
    body: JSON.stringify({ access_token: accessToken }),
    signal: AbortSignal.timeout(API_TIMEOUT_MS),
  });
  await response.body?.cancel();
  // 404: the token is already gone (revoked, expired, or the user removed the app).
  if (response.status !== 204 && response.status !== 404) throw new GithubApiError('/applications/{client_id}/token', response.status);
}
