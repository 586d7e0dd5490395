// A client registered as MCP clients register (DCR, public, PKCE), and a person signing in for
// it in a cookie-jar browser: for tests that need a code in hand, not yet redeemed.
import { randomBytes } from 'node:crypto';
import { Browser, type Page } from './browser.js';
import { authorizeUrl, codeChallenge } from './authorize.js';
import { TEST_USER } from './upstream-idp.js';

export interface SignIn {
  /** The code the client received, if the flow got that far. */
  code: string | undefined;
  verifier: string;
  browser: Browser;
  /** The last page: the one that sent the browser back to the client, or the one that stopped it. */
  page: Page | undefined;
}

export async function registerPublicClient(baseUrl: string, redirectUri: string, name = 'Test Client'): Promise<{ status: number; clientId?: string; body: Record<string, unknown> }> {
  const response = await fetch(`${baseUrl}/reg`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ client_name: name, redirect_uris: [redirectUri], token_endpoint_auth_method: 'none' }),
  });
  const body = (await response.json().catch(() => ({}))) as Record<string, unknown>;
  return { status: response.status, body, ...(typeof body.client_id === 'string' ? { clientId: body.client_id } : {}) };
}

/**
 * Opens /auth for the client, confirms, and signs in at the IdP as `credentials`. Does not throw
 * when a step fails (the code is then undefined): callers test failures too.
 */
export async function signInForCode(
  baseUrl: string,
  clientId: string,
  redirectUri: string,
  {
    browser = new Browser(),
    credentials = TEST_USER,
    extra = {},
    verifier = randomBytes(32).toString('base64url'),
  }: { browser?: Browser; credentials?: { username: string; password: string }; extra?: Record<string, string>; verifier?: string } = {},
): Promise<SignIn> {
  const atClient = (u: URL) => u.href.startsWith(redirectUri);
  let page: Page | undefined;
  try {
    const params = { client_id: clientId, redirect_uri: redirectUri, code_challenge: codeChallenge(verifier), code_challenge_method: 'S256', ...extra };
    page = await browser.open(authorizeUrl(baseUrl, params), atClient);
    if (!page.redirectedTo) page = await browser.submit(page, { actionIncludes: '/confirm', button: { name: 'action', value: 'confirm' }, stopAt: atClient });
    if (!page.redirectedTo) page = await browser.submit(page, { fields: { username: credentials.username, password: credentials.password }, stopAt: atClient });
    const code = page.redirectedTo ? (new URL(page.redirectedTo).searchParams.get('code') ?? undefined) : undefined;
    return { code, verifier, browser, page };
  } catch {
    return { code: undefined, verifier, browser, page };
  }
}

export function redeemCode(baseUrl: string, clientId: string, redirectUri: string, code: string, verifier: string): Promise<Response> {
  return fetch(`${baseUrl}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: redirectUri, client_id: clientId }),
  });
}

export function refreshTokens(baseUrl: string, clientId: string, refreshToken: string): Promise<Response> {
  return fetch(`${baseUrl}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken, client_id: clientId }),
  });
}
