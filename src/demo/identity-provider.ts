// A small OpenID Provider (node-oidc-provider) with fixed accounts and a plain login page: the
// identity provider of the local demo, and the upstream IdP of the tests. It listens on
// 127.0.0.1 only, signs in with username and password, and grants whatever the client asked for
// (sign-in and consent in one step). Not for real use: the accounts and passwords are in the code.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import Provider, { type ClientMetadata, type Configuration, type JWK } from 'oidc-provider';
import { MemoryAdapterStore } from './memory-adapter.js';

export interface DevAccount {
  sub: string;
  username: string;
  password: string;
  email: string;
  name: string;
  groups: readonly string[];
}

export interface DevIdpOptions {
  /** Port on 127.0.0.1; the issuer is http://127.0.0.1:<port>. */
  port: number;
  clients: ClientMetadata[];
  accounts: readonly DevAccount[];
  /** Claims added to an account's, read at every sign-in and userinfo call. */
  extraClaims?: (account: DevAccount) => Record<string, unknown>;
  accessTokenTtlSeconds?: number;
  /** Scopes it knows besides openid, email, profile and offline_access (e.g. Heroku's `global`). */
  extraScopes?: readonly string[];
  /** Claims released with `openid` besides `sub` (e.g. Google's `hd`), from extraClaims. */
  openidClaims?: readonly string[];
  /** The login page: its heading, an optional warning banner and a hint below the form. */
  loginPage: { heading: string; banner?: string; hint?: string; username?: string };
  /** The issuer, when not http://127.0.0.1:<port> (a test's stand-in for a named host; a path is its mount). */
  issuer?: string;
  /** Serve https with this key and certificate (PEM). */
  tls?: { key: string; cert: string };
  /** false: scope claims go into ID tokens too, as many IdPs do (oidc-provider's default: true). */
  conformIdTokenClaims?: boolean;
  /** Runs before oidc-provider on every request; resolves true when it has answered. */
  intercept?: (req: IncomingMessage, res: ServerResponse, path: string) => Promise<boolean>;
  onError?: (err: unknown) => void;
}

export interface DevIdp {
  issuer: string;
  provider: Provider;
  store: MemoryAdapterStore;
  stop(): Promise<void>;
}

/** Starts the provider and resolves once it listens (rejects with the listen error, e.g. EADDRINUSE). */
export async function startDevIdp(opts: DevIdpOptions): Promise<DevIdp> {
  const issuer = opts.issuer ?? `http://127.0.0.1:${opts.port}`;
  // An issuer with a path is mounted there, as Express would mount it (oidc-provider reads originalUrl).
  const mount = new URL(issuer).pathname.replace(/\/+$/, '');
  const store = new MemoryAdapterStore();
  const onError = opts.onError ?? ((err: unknown) => console.error('[dev-idp]', err));

  const config: Configuration = {
    adapter: (model: string) => store.adapterFor(model),
    clients: opts.clients,
    jwks: { keys: signingKeys() },
    // Distinct names: the proxy is also an oidc-provider on this host, and cookies ignore ports.
    cookies: {
      names: { session: '_idp_session', interaction: '_idp_interaction', resume: '_idp_resume' },
      keys: [randomBytes(32).toString('base64url')],
    },
    scopes: ['openid', 'email', 'profile', 'offline_access', ...(opts.extraScopes ?? [])],
    claims: { openid: ['sub', ...(opts.openidClaims ?? [])], email: ['email', 'email_verified'], profile: ['name', 'preferred_username', 'groups'] },
    findAccount: (_ctx, sub) => {
      const account = opts.accounts.find((a) => a.sub === sub);
      if (!account) return undefined;
      return {
        accountId: sub,
        claims: () => ({
          sub,
          email: account.email,
          email_verified: true,
          name: account.name,
          preferred_username: account.username,
          groups: [...account.groups],
          ...opts.extraClaims?.(account),
        }),
      };
    },
    pkce: { required: () => true }, // v9 only implements S256
    // Always issue refresh tokens (default needs offline_access, which in turn needs prompt=consent).
    issueRefreshToken: () => true,
    rotateRefreshToken: true,
    // Explicit numbers: the default ttl functions print a NOTICE each the first time they run.
    ttl: {
      AccessToken: opts.accessTokenTtlSeconds ?? 3600,
      AuthorizationCode: 60,
      IdToken: 3600,
      Interaction: 600,
      Grant: 14 * 86400,
      Session: 14 * 86400,
      RefreshToken: 14 * 86400,
    },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    ...(opts.conformIdTokenClaims === false ? { conformIdTokenClaims: false } : {}),
    features: {
      devInteractions: { enabled: false },
      userinfo: { enabled: true },
      revocation: { enabled: true },
    },
  };

  const provider = new Provider(issuer, config);
  provider.on('server_error', (_ctx, err) => onError(err));
  const oidcCallback = provider.callback();

  // Sign-in and consent in one step: the account consents to everything the client asked for.
  const finish = async (req: IncomingMessage, res: ServerResponse, accountId: string): Promise<void> => {
    const details = await provider.interactionDetails(req, res);
    const grant = new provider.Grant({ accountId, clientId: String(details.params.client_id) });
    grant.addOIDCScope(String(details.params.scope ?? 'openid'));
    const missingClaims = details.prompt.details.missingOIDCClaims;
    if (Array.isArray(missingClaims)) grant.addOIDCClaims(missingClaims.map(String));
    const grantId = await grant.save();
    await provider.interactionFinished(req, res, { login: { accountId }, consent: { grantId } }, { mergeWithLastSubmission: false });
  };

  const handleInteraction = async (req: IncomingMessage, res: ServerResponse, uid: string, isLogin: boolean) => {
    const details = await provider.interactionDetails(req, res);
    if (details.uid !== uid) throw new Error('interaction uid mismatch');
    if (!isLogin && req.method === 'GET') {
      // Already signed in (session cookie) and only consent is missing: grant it without UI.
      const accountId = details.session?.accountId;
      if (details.prompt.name === 'consent' && accountId) return finish(req, res, accountId);
      return sendLoginPage(res, opts.loginPage, uid);
    }
    if (isLogin && req.method === 'POST') {
      const form = new URLSearchParams((await readBody(req)).toString('utf8'));
      const account = opts.accounts.find((a) => a.username === form.get('username') && a.password === form.get('password'));
      if (!account) return sendLoginPage(res, opts.loginPage, uid, 'Invalid username or password.');
      return finish(req, res, account.sub);
    }
    res.writeHead(405).end();
  };

  const handler = (req: IncomingMessage, res: ServerResponse) => {
    void (async () => {
      const path = new URL(req.url ?? '/', issuer).pathname;
      const m = /^\/interaction\/([^/]+)(\/login)?$/.exec(path);
      if (m?.[1]) return handleInteraction(req, res, m[1], m[2] !== undefined);
      if (opts.intercept && (await opts.intercept(req, res, path))) return;
      if (mount && (path === mount || path.startsWith(`${mount}/`))) {
        Object.assign(req, { originalUrl: req.url, baseUrl: mount });
        req.url = req.url!.slice(mount.length) || '/';
      }
      return oidcCallback(req, res);
    })().catch((err: unknown) => {
      onError(err);
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(err instanceof Error ? err.message : 'internal error');
    });
  };
  const server = opts.tls ? createHttpsServer(opts.tls, handler) : createServer(handler);

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });

  let stopping: Promise<void> | undefined;
  return {
    issuer,
    provider,
    store,
    stop() {
      stopping ??= new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections(); // keep-alive sockets from fetch would otherwise hold close()
      });
      return stopping;
    },
  };
}

function sendLoginPage(res: ServerResponse, page: DevIdpOptions['loginPage'], uid: string, error?: string): void {
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(page.heading)}</title>
<style>
  * { box-sizing: border-box; }
  body { margin: 0; font: 16px/1.5 system-ui, sans-serif; background: #f4f4f7; color: #1f2330; }
  .banner { margin: 0; padding: .75rem 1rem; background: #b91c1c; color: #fff; font-weight: 600; text-align: center; }
  main { max-width: 24rem; margin: 2rem auto; background: #fff; border-radius: 12px; padding: 1.5rem 2rem; }
  h1 { font-size: 1.4rem; }
  label { display: block; margin: .75rem 0; } input { display: block; width: 100%; padding: .5rem; font: inherit; }
  button { margin-top: .5rem; padding: .6rem 1.2rem; font: inherit; font-weight: 600; }
  .error { color: #b91c1c; } .hint { font-size: .9rem; color: #5d6170; }
</style></head><body>
${page.banner ? `<p class="banner" role="alert">${escapeHtml(page.banner)}</p>` : ''}
<main>
<h1>${escapeHtml(page.heading)}</h1>
${error ? `<p class="error">${escapeHtml(error)}</p>` : ''}
<form method="post" action="/interaction/${escapeHtml(uid)}/login">
  <label>Username <input name="username" autocomplete="username" value="${escapeHtml(page.username ?? '')}"></label>
  <label>Password <input type="password" name="password" autocomplete="current-password"></label>
  <button type="submit">Sign in</button>
</form>
${page.hint ? `<p class="hint">${escapeHtml(page.hint)}</p>` : ''}
</main></body></html>`;
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  res.end(html);
}

function signingKeys(): JWK[] {
  // RS256 is oidc-provider's default id_token alg for clients; ES256 offered as well.
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });
  return [
    { ...rsa, kid: 'rsa-1', use: 'sig', alg: 'RS256' },
    { ...ec, kid: 'ec-1', use: 'sig', alg: 'ES256' },
  ] as JWK[];
}

export async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
