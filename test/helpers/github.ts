// A stand-in for GitHub's OAuth and REST API, on loopback, built from GitHub's public
// documentation ("Authorizing OAuth apps", "Refreshing user access tokens", the REST reference of
// /user, /user/emails, /user/orgs, /user/teams and /applications/{client_id}/token), in the
// GitHub Enterprise Server layout: OAuth at /login/oauth/*, the API under /api/v3.
//
// What it keeps of GitHub's behaviour, because the proxy must cope with each:
// - the token endpoint answers form-encoded unless asked for JSON, and answers errors with 200;
// - `scope` in token responses is comma-separated;
// - codes are single-use, expire after 10 minutes and are bound to redirect_uri and PKCE;
// - GitHub App user tokens expire (expires_in, refresh_token, refresh_token_expires_in) and
//   rotate on refresh; OAuth app tokens do not expire and have no refresh token;
// - API requests need a User-Agent; a bad token is 401 "Bad credentials"; /user/emails without
//   user:email is 404; lists are paginated (per_page, Link rel="next");
// - memberships: /user/orgs lists private memberships only with read:org; /user/teams needs it.
// The sign-in page is GitHub's login form (login, password); the app is taken as already
// authorized by the user, so GitHub sends them straight back, as it does after the first time.
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface GithubTeam {
  org: string;
  slug: string;
}

export interface GithubAccount {
  id: number;
  login: string;
  name: string | null;
  password: string;
  /** As /user/emails lists them. */
  emails: { email: string; primary: boolean; verified: boolean }[];
  /** Memberships: public ones are listed without read:org, private ones only with it. */
  orgs: { login: string; public: boolean }[];
  teams: GithubTeam[];
}

export interface GithubStandInOptions {
  /** The OAuth app's registered callback URL (or later, with register()). */
  callbackUrl?: string;
  /** A GitHub App with expiring user tokens (8 h access, refresh tokens); default: an OAuth app. */
  expiringTokens?: boolean;
  /** Entries per page of the lists when per_page is not given (GitHub: 30). */
  defaultPerPage?: number;
}

interface Code {
  scopes: string[];
  redirectUri: string | undefined;
  challenge: string | undefined;
  expiresAt: number;
}

interface Token {
  scopes: string[];
  expiresAt: number | undefined;
  refreshToken: string | undefined;
}

export interface GithubStandIn {
  /** IDENTITY_SERVER_URL of a GitHub Enterprise Server. */
  url: string;
  clientId: string;
  clientSecret: string;
  account: GithubAccount;
  /** Every request: method, path (no query) and what it said about itself. */
  requests: { method: string; path: string; accept: string | undefined; userAgent: string | undefined }[];
  /** Each authorization request the user approved: its scopes, and whether it used PKCE. */
  authorizations: { scopes: string[]; pkce: boolean }[];
  refreshes(): number;
  /** The access tokens revoked through DELETE /applications/{client_id}/token. */
  revoked: string[];
  /** Sets the OAuth app's callback URL (the proxy's, known once it runs). */
  register(callbackUrl: string): void;
  /** Ends an access token early, as its 8 hours running out would. */
  expireAccessTokens(): void;
  stop(): Promise<void>;
}

const TEN_MINUTES_S = 600;
const ACCESS_TTL_S = 8 * 3600;
const REFRESH_TTL_S = 184 * 24 * 3600;
const now = () => Math.floor(Date.now() / 1000);
const token = (prefix: string) => `${prefix}_${randomBytes(18).toString('base64url')}`;

export async function startGithubStandIn(options: GithubStandInOptions = {}): Promise<GithubStandIn> {
  let callbackUrl = options.callbackUrl;
  const clientId = `Iv1.${randomBytes(8).toString('hex')}`;
  const clientSecret = randomBytes(20).toString('hex');
  const account: GithubAccount = {
    id: 1234567,
    login: 'octo-tester',
    name: 'Octo Tester',
    password: 'correct horse battery staple',
    emails: [
      { email: 'octo@users.noreply.github.test', primary: false, verified: true },
      { email: 'octo@example.com', primary: true, verified: true },
      { email: 'old@example.org', primary: false, verified: false },
    ],
    orgs: [
      { login: 'Acme', public: false },
      { login: 'open-source-friends', public: true },
    ],
    teams: [{ org: 'Acme', slug: 'platform' }],
  };
  const codes = new Map<string, Code>();
  const tokens = new Map<string, Token>();
  const refreshTokens = new Map<string, { scopes: string[]; expiresAt: number }>();
  const requests: GithubStandIn['requests'] = [];
  const authorizations: GithubStandIn['authorizations'] = [];
  const revoked: string[] = [];
  let refreshCount = 0;
  const perPage = options.defaultPerPage ?? 30;

  const issue = (scopes: string[]): Record<string, string> => {
    const accessToken = token(options.expiringTokens ? 'ghu' : 'gho');
    if (!options.expiringTokens) {
      tokens.set(accessToken, { scopes, expiresAt: undefined, refreshToken: undefined });
      return { access_token: accessToken, scope: scopes.join(','), token_type: 'bearer' };
    }
    const refreshToken = token('ghr');
    tokens.set(accessToken, { scopes, expiresAt: now() + ACCESS_TTL_S, refreshToken });
    refreshTokens.set(refreshToken, { scopes, expiresAt: now() + REFRESH_TTL_S });
    return {
      access_token: accessToken,
      expires_in: String(ACCESS_TTL_S),
      refresh_token: refreshToken,
      refresh_token_expires_in: String(REFRESH_TTL_S),
      // GitHub Apps have permissions, not scopes: the scope is empty.
      scope: '',
      token_type: 'bearer',
    };
  };

  /** GitHub answers in the format asked for: JSON, or form-encoded by default; errors with 200 too. */
  const tokenAnswer = (req: IncomingMessage, res: ServerResponse, body: Record<string, string>) => {
    const wantsJson = String(req.headers.accept ?? '').includes('application/json');
    if (wantsJson) return json(res, 200, body);
    res.writeHead(200, { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' }).end(new URLSearchParams(body).toString());
  };
  const tokenError = (error: string, description: string) => ({ error, error_description: description, error_uri: 'https://docs.github.com/apps/troubleshooting' });

  const validToken = (req: IncomingMessage): [string, Token] | undefined => {
    const match = /^(?:Bearer|token) (\S+)$/i.exec(req.headers.authorization ?? '');
    const held = match ? tokens.get(match[1]!) : undefined;
    if (!match || !held || (held.expiresAt !== undefined && held.expiresAt <= now())) return undefined;
    return [match[1]!, held];
  };

  /** One page of a list, with GitHub's Link header. */
  const list = (res: ServerResponse, url: URL, items: unknown[], scopes: string[]) => {
    const size = Math.min(100, Number(url.searchParams.get('per_page') ?? perPage) || perPage);
    const page = Math.max(1, Number(url.searchParams.get('page') ?? 1) || 1);
    const headers: Record<string, string> = { 'x-oauth-scopes': scopes.join(', ') };
    if (page * size < items.length) {
      const next = new URL(url);
      next.searchParams.set('per_page', String(size));
      next.searchParams.set('page', String(page + 1));
      headers.link = `<${next.href}>; rel="next"`;
    }
    json(res, 200, items.slice((page - 1) * size, page * size), headers);
  };

  const server = http.createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', base);
      requests.push({ method: req.method ?? '', path: url.pathname, accept: req.headers.accept, userAgent: req.headers['user-agent'] });
      const form = req.method === 'POST' || req.method === 'DELETE' ? await readBody(req) : '';

      if (url.pathname === '/login/oauth/authorize' && req.method === 'GET') {
        if (url.searchParams.get('client_id') !== clientId) return page(res, 404, '<h1>Not Found</h1>');
        const hidden = [...url.searchParams].map(([k, v]) => `<input type="hidden" name="${esc(k)}" value="${esc(v)}">`).join('');
        return page(
          res,
          200,
          `<h1>Sign in to GitHub</h1><p>to continue to the MCP proxy</p><form method="post" action="/session">${hidden}` +
            `<label>Username or email address <input name="login"></label><label>Password <input type="password" name="password"></label>` +
            `<button type="submit">Sign in</button></form>`,
        );
      }
      if (url.pathname === '/session' && req.method === 'POST') {
        const params = new URLSearchParams(form);
        if (!callbackUrl) return page(res, 400, '<h1>The application has no callback URL</h1>');
        const registered = callbackUrl;
        const redirectUri = params.get('redirect_uri') ?? undefined;
        // GitHub: the redirect_uri must be the callback URL or below it (same host and port).
        const target = new URL(redirectUri ?? registered);
        if (redirectUri !== undefined && !redirectUri.startsWith(registered)) {
          const back = new URL(registered);
          back.search = new URLSearchParams({ error: 'redirect_uri_mismatch', error_description: 'The redirect_uri MUST match the registered callback URL for this application.', state: params.get('state') ?? '' }).toString();
          return redirect(res, back.href);
        }
        if (params.get('login') !== account.login || params.get('password') !== account.password) {
          return page(res, 401, '<h1>Incorrect username or password.</h1>');
        }
        const code = randomBytes(10).toString('hex');
        const scopes = (params.get('scope') ?? '').split(/[ ,]+/).filter(Boolean);
        const challenge = params.get('code_challenge') ?? undefined;
        authorizations.push({ scopes, pkce: challenge !== undefined });
        if (challenge !== undefined && params.get('code_challenge_method') !== 'S256') return page(res, 400, '<h1>code_challenge_method must be S256</h1>');
        codes.set(code, { scopes, redirectUri, challenge, expiresAt: now() + TEN_MINUTES_S });
        target.searchParams.set('code', code);
        if (params.has('state')) target.searchParams.set('state', params.get('state')!);
        return redirect(res, target.href);
      }
      if (url.pathname === '/login/oauth/access_token' && req.method === 'POST') {
        const params = new URLSearchParams(form);
        if (params.get('client_id') !== clientId || params.get('client_secret') !== clientSecret) {
          return tokenAnswer(req, res, tokenError('incorrect_client_credentials', 'The client_id and/or client_secret passed are incorrect.'));
        }
        if (params.get('grant_type') === 'refresh_token') {
          const presented = params.get('refresh_token') ?? '';
          const held = refreshTokens.get(presented);
          refreshTokens.delete(presented);
          if (!held || held.expiresAt <= now()) return tokenAnswer(req, res, tokenError('bad_refresh_token', 'The refresh token passed is incorrect or expired.'));
          refreshCount++;
          return tokenAnswer(req, res, issue(held.scopes));
        }
        const code = codes.get(params.get('code') ?? '');
        codes.delete(params.get('code') ?? '');
        const verifier = params.get('code_verifier');
        const badCode = !code || code.expiresAt <= now() || (code.redirectUri !== undefined && params.get('redirect_uri') !== code.redirectUri);
        const badVerifier = code?.challenge !== undefined && (!verifier || createHash('sha256').update(verifier).digest('base64url') !== code.challenge);
        if (badCode || badVerifier) return tokenAnswer(req, res, tokenError('bad_verification_code', 'The code passed is incorrect or expired.'));
        return tokenAnswer(req, res, issue(code.scopes));
      }

      const apiPath = url.pathname.startsWith('/api/v3/') ? url.pathname.slice('/api/v3'.length) : undefined;
      if (apiPath === undefined) return page(res, 404, '<h1>Not Found</h1>');
      if (!req.headers['user-agent']) {
        return json(res, 403, { message: 'Request forbidden by administrative rules. Please make sure your request has a User-Agent header.' });
      }
      const revocation = /^\/applications\/([^/]+)\/token$/.exec(apiPath);
      if (revocation && req.method === 'DELETE') {
        const basic = Buffer.from((req.headers.authorization ?? '').replace(/^Basic /, ''), 'base64').toString();
        if (decodeURIComponent(revocation[1]!) !== clientId || basic !== `${clientId}:${clientSecret}`) return json(res, 404, { message: 'Not Found' });
        const accessToken = (JSON.parse(form || '{}') as { access_token?: string }).access_token ?? '';
        const held = tokens.get(accessToken);
        if (!held) return json(res, 404, { message: 'Not Found' });
        tokens.delete(accessToken);
        if (held.refreshToken) refreshTokens.delete(held.refreshToken);
        revoked.push(accessToken);
        return void res.writeHead(204).end();
      }
      const holder = validToken(req);
      if (!holder) return json(res, 401, { message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest', status: '401' });
      const [, held] = holder;
      const has = (scope: string) => held.expiresAt !== undefined || held.scopes.includes(scope) || (scope.startsWith('user:') && held.scopes.includes('user'));
      const scopeHeader = { 'x-oauth-scopes': held.scopes.join(', ') };
      if (apiPath === '/user' && req.method === 'GET') {
        const email = account.emails.find((e) => e.primary && e.verified)?.email ?? null;
        return json(res, 200, { login: account.login, id: account.id, node_id: 'MDQ6VXNlcjE=', type: 'User', name: account.name, email: has('user:email') ? email : null }, scopeHeader);
      }
      if (apiPath === '/user/emails' && req.method === 'GET') {
        if (!has('user:email')) return json(res, 404, { message: 'Not Found', documentation_url: 'https://docs.github.com/rest/users/emails', status: '404' });
        return list(res, url, account.emails.map((e) => ({ ...e, visibility: e.primary ? 'private' : null })), held.scopes);
      }
      if (apiPath === '/user/orgs' && req.method === 'GET') {
        const visible = account.orgs.filter((o) => o.public || has('read:org'));
        return list(res, url, visible.map((o, i) => ({ login: o.login, id: 100 + i })), held.scopes);
      }
      if (apiPath === '/user/teams' && req.method === 'GET') {
        if (!has('read:org')) return json(res, 403, { message: 'Resource not accessible by integration', status: '403' });
        return list(res, url, account.teams.map((t, i) => ({ id: 200 + i, slug: t.slug, name: t.slug, organization: { login: t.org } })), held.scopes);
      }
      return json(res, 404, { message: 'Not Found', documentation_url: 'https://docs.github.com/rest' });
    })().catch((err: unknown) => {
      if (!res.headersSent) json(res, 500, { message: String(err) });
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: base,
    clientId,
    clientSecret,
    account,
    requests,
    authorizations,
    revoked,
    refreshes: () => refreshCount,
    register: (url) => {
      callbackUrl = url;
    },
    expireAccessTokens: () => {
      for (const held of tokens.values()) if (held.expiresAt !== undefined) held.expiresAt = now() - 1;
    },
    stop: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers }).end(JSON.stringify(body));
}

function page(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8' }).end(`<!doctype html><html><body>${body}</body></html>`);
}

function redirect(res: ServerResponse, location: string): void {
  res.writeHead(302, { location }).end();
}

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

async function readBody(req: IncomingMessage): Promise<string> {
  let text = '';
  for await (const chunk of req) text += String(chunk);
  return text;
}
