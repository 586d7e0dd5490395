import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import Provider, { type Adapter, type AdapterPayload, type Configuration, type JWK } from 'oidc-provider';
import { freePort } from './ports.js';

export interface UpstreamIdpOptions {
  redirectUris: string[];
  accessTokenTtlSeconds?: number;
  /**
   * oidc-provider enforces the single registered method strictly. Default 'client_secret_post' because
   * that is what openid-client v6 uses when discovery() is given a client secret string.
   */
  tokenEndpointAuthMethod?: 'client_secret_post' | 'client_secret_basic';
}

export interface UpstreamIdp {
  issuer: string;
  clientId: string;
  clientSecret: string;
  user: { sub: string; email: string; username: string; password: string };
  stop(): Promise<void>;
  isAccessTokenValid(token: string): Promise<boolean>;
  refreshGrants(): number;
  failNextRefresh(): void;
  /**
   * Holds every refresh grant request at the token endpoint until release(); `arrived` resolves
   * when the first one is being held.
   */
  holdRefreshes(): { arrived: Promise<void>; release(): void };
  revokeAllAccessTokens(): Promise<void>;
  /** Every access, refresh and ID token the token endpoint has issued. */
  issuedTokens(): string[];
  /** Overrides claims of the test user from now on (e.g. email_verified, groups). */
  setUserClaims(claims: Record<string, unknown>): void;
}

export const TEST_USER = {
  sub: 'user-1',
  email: 'alice@example.com',
  username: 'alice',
  password: 'wonderland',
  name: 'Alice Liddell',
} as const;

/** A second user, for tests where another person uses the same browser or client. */
export const OTHER_USER = {
  sub: 'user-2',
  email: 'bob@example.com',
  username: 'bob',
  password: 'builder',
  name: 'Bob Builder',
} as const;

const USERS = [TEST_USER, OTHER_USER];

const CLIENT_ID = 'mcp-auth-proxy-test';

export async function startUpstreamIdp(opts: UpstreamIdpOptions): Promise<UpstreamIdp> {
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const clientSecret = randomBytes(24).toString('base64url');
  const store = new MemoryStore();
  let claimOverrides: Record<string, unknown> = {};

  const config: Configuration = {
    // Own adapter: the built-in memory adapter is a process-wide LRU shared with any other
    // oidc-provider in this process (the proxy under test), and it cannot enumerate tokens.
    adapter: (model: string) => store.adapterFor(model),
    clients: [
      {
        client_id: CLIENT_ID,
        client_secret: clientSecret,
        redirect_uris: opts.redirectUris,
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        token_endpoint_auth_method: opts.tokenEndpointAuthMethod ?? 'client_secret_post',
      },
    ],
    jwks: { keys: signingKeys() },
    // Distinct names: the proxy is also an oidc-provider on 127.0.0.1, and cookies ignore ports.
    cookies: {
      names: { session: '_idp_session', interaction: '_idp_interaction', resume: '_idp_resume' },
      keys: [randomBytes(32).toString('base64url')],
    },
    scopes: ['openid', 'email', 'profile', 'offline_access'],
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name', 'preferred_username', 'groups'] },
    findAccount: (_ctx, sub) => {
      const user = USERS.find((u) => u.sub === sub);
      return user
        ? {
            accountId: sub,
            claims: () => ({
              sub,
              email: user.email,
              email_verified: true,
              name: user.name,
              preferred_username: user.username,
              groups: ['staff'],
              ...(user === TEST_USER ? claimOverrides : {}),
            }),
          }
        : undefined;
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
    features: {
      devInteractions: { enabled: false },
      userinfo: { enabled: true },
      revocation: { enabled: true },
    },
  };

  const provider = new Provider(issuer, config);
  provider.on('server_error', (_ctx, err) => console.error('[upstream-idp] server_error', err));

  let refreshCount = 0;
  provider.on('grant.success', (ctx) => {
    if (ctx.oidc.params?.grant_type === 'refresh_token') refreshCount++;
  });

  let failRefresh = false;
  const issued: string[] = [];
  let held: { arrive(): void; released: Promise<void> } | undefined;
  const oidcCallback = provider.callback();

  const renderLogin = (res: ServerResponse, uid: string, error?: string): void => {
    const html = `<!doctype html><html><head><title>Upstream IdP login</title></head><body>
<h1>Sign in to the upstream IdP</h1>
${error ? `<p class="error">${escapeHtml(error)}</p>` : ''}
<form method="post" action="/interaction/${escapeHtml(uid)}/login">
  <input name="username" autocomplete="username">
  <input type="password" name="password" autocomplete="current-password">
  <button type="submit">Sign in</button>
</form></body></html>`;
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end(html);
  };

  // Login + consent in one step: the test user "consents" to everything the client asked for.
  const finish = async (req: IncomingMessage, res: ServerResponse, accountId: string): Promise<void> => {
    const details = await provider.interactionDetails(req, res);
    const grant = new provider.Grant({ accountId, clientId: String(details.params.client_id) });
    grant.addOIDCScope(String(details.params.scope ?? 'openid'));
    const missingClaims = details.prompt.details.missingOIDCClaims;
    if (Array.isArray(missingClaims)) grant.addOIDCClaims(missingClaims.map(String));
    const grantId = await grant.save();
    await provider.interactionFinished(
      req,
      res,
      { login: { accountId }, consent: { grantId } },
      { mergeWithLastSubmission: false },
    );
  };

  const handleInteraction = async (req: IncomingMessage, res: ServerResponse, uid: string, isLogin: boolean) => {
    const details = await provider.interactionDetails(req, res);
    if (details.uid !== uid) throw new Error('interaction uid mismatch');
    if (!isLogin && req.method === 'GET') {
      // Already logged in (session cookie) and only consent is missing: grant it without UI.
      const accountId = details.session?.accountId;
      if (details.prompt.name === 'consent' && accountId) return finish(req, res, accountId);
      return renderLogin(res, uid);
    }
    if (isLogin && req.method === 'POST') {
      const form = new URLSearchParams((await readBody(req)).toString('utf8'));
      const user = USERS.find((u) => u.username === form.get('username') && u.password === form.get('password'));
      if (!user) return renderLogin(res, uid, 'Invalid username or password.');
      return finish(req, res, user.sub);
    }
    res.writeHead(405).end();
  };

  const server = createServer((req, res) => {
    void (async () => {
      const path = new URL(req.url ?? '/', issuer).pathname;
      const m = /^\/interaction\/([^/]+)(\/login)?$/.exec(path);
      if (m?.[1]) return handleInteraction(req, res, m[1], m[2] !== undefined);

      if ((failRefresh || held) && req.method === 'POST' && path === '/token') {
        // Peek the body: oidc-provider falls back to req.body when the stream was already consumed.
        const body = (await readBody(req)).toString('utf8');
        const isRefresh = new URLSearchParams(body).get('grant_type') === 'refresh_token';
        if (isRefresh && held) {
          held.arrive();
          await held.released;
        }
        if (isRefresh && failRefresh) {
          failRefresh = false;
          res.writeHead(400, { 'content-type': 'application/json', 'cache-control': 'no-store' });
          res.end(JSON.stringify({ error: 'invalid_grant', error_description: 'refresh failure injected by test' }));
          return;
        }
        (req as IncomingMessage & { body?: string }).body = body;
      }
      if (req.method === 'POST' && path === '/token') recordIssuedTokens(res, issued);
      return oidcCallback(req, res);
    })().catch((err: unknown) => {
      console.error('[upstream-idp] handler error', err);
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(String(err instanceof Error ? err.message : err));
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });

  let stopping: Promise<void> | undefined;
  return {
    issuer,
    clientId: CLIENT_ID,
    clientSecret,
    user: { sub: TEST_USER.sub, email: TEST_USER.email, username: TEST_USER.username, password: TEST_USER.password },
    stop() {
      stopping ??= new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections(); // keep-alive sockets from fetch would otherwise hold close()
      });
      return stopping;
    },
    async isAccessTokenValid(token) {
      const at = await provider.AccessToken.find(token);
      return at !== undefined && !at.isExpired;
    },
    refreshGrants: () => refreshCount,
    failNextRefresh() {
      failRefresh = true;
    },
    holdRefreshes() {
      let arrive!: () => void;
      let release!: () => void;
      const arrived = new Promise<void>((resolve) => (arrive = resolve));
      const released = new Promise<void>((resolve) => (release = resolve));
      held = { arrive, released };
      return {
        arrived,
        release() {
          held = undefined;
          release();
        },
      };
    },
    async revokeAllAccessTokens() {
      store.deleteModel('AccessToken');
    },
    issuedTokens: () => [...issued],
    setUserClaims(claims) {
      claimOverrides = claims;
    },
  };
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

/** Keeps the tokens of a token endpoint response as it is sent. */
function recordIssuedTokens(res: ServerResponse, into: string[]): void {
  const end = res.end.bind(res) as (...args: unknown[]) => ServerResponse;
  res.end = ((...args: unknown[]) => {
    const [chunk] = args;
    if (typeof chunk === 'string' || Buffer.isBuffer(chunk)) {
      try {
        const body = JSON.parse(chunk.toString()) as Record<string, unknown>;
        for (const name of ['access_token', 'refresh_token', 'id_token']) if (typeof body[name] === 'string') into.push(body[name]);
      } catch {
        // not JSON: no tokens
      }
    }
    return end(...args);
  }) as ServerResponse['end'];
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

interface Entry {
  payload: AdapterPayload;
  expiresAt?: number; // epoch ms
}

/** Per-IdP in-memory storage implementing oidc-provider's Adapter contract. */
class MemoryStore {
  private readonly entries = new Map<string, Entry>();
  private readonly uidIndex = new Map<string, string>(); // session uid -> key
  private readonly userCodeIndex = new Map<string, string>();
  private readonly grantIndex = new Map<string, Set<string>>(); // grantId -> keys

  adapterFor(model: string): Adapter {
    const key = (id: string) => `${model}:${id}`;
    return {
      upsert: async (id, payload, expiresIn) => {
        const k = key(id);
        this.entries.set(k, { payload, expiresAt: expiresIn ? Date.now() + expiresIn * 1000 : undefined });
        if (model === 'Session' && payload.uid) this.uidIndex.set(payload.uid, k);
        if (payload.userCode) this.userCodeIndex.set(payload.userCode, k);
        if (payload.grantId && model !== 'Grant' && model !== 'Session') {
          const set = this.grantIndex.get(payload.grantId) ?? new Set<string>();
          set.add(k);
          this.grantIndex.set(payload.grantId, set);
        }
      },
      find: async (id) => this.get(key(id)),
      findByUid: async (uid) => this.get(this.uidIndex.get(uid)),
      findByUserCode: async (code) => this.get(this.userCodeIndex.get(code)),
      consume: async (id) => {
        const e = this.entries.get(key(id));
        if (e) e.payload.consumed = Math.floor(Date.now() / 1000);
      },
      destroy: async (id) => {
        this.entries.delete(key(id));
      },
      revokeByGrantId: async (grantId) => {
        for (const k of this.grantIndex.get(grantId) ?? []) this.entries.delete(k);
        this.grantIndex.delete(grantId);
      },
    };
  }

  deleteModel(model: string): void {
    for (const k of this.entries.keys()) if (k.startsWith(`${model}:`)) this.entries.delete(k);
  }

  private get(k: string | undefined): AdapterPayload | undefined {
    if (k === undefined) return undefined;
    const e = this.entries.get(k);
    if (!e) return undefined;
    if (e.expiresAt !== undefined && e.expiresAt <= Date.now()) {
      this.entries.delete(k);
      return undefined;
    }
    return e.payload;
  }
}
