// The official MCP SDK client, with an OAuthClientProvider whose "browser" is our cookie-jar
// user agent: it opens the authorization URL, confirms on our page, signs in at the upstream
// IdP and catches the redirect back to the client with the code.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import type { OAuthClientInformationMixed, OAuthClientMetadata, OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js';
import type { ClientCapabilities } from '@modelcontextprotocol/sdk/types.js';
import { Browser, type Page } from './browser.js';
import type { RouterHop } from './router-hop.js';
import { TEST_USER } from './upstream-idp.js';

export type UserAction = 'confirm' | 'cancel';

export class TestOAuthProvider implements OAuthClientProvider {
  readonly browser: Browser;
  client?: OAuthClientInformationMixed;
  savedTokens?: OAuthTokens;
  verifier?: string;
  /** The authorization code (or error) the client received on its redirect URI. */
  callback?: URL;
  /** Pages seen along the way, for assertions. */
  readonly pages: Page[] = [];
  userAction: UserAction = 'confirm';
  /** Who signs in at the IdP's login form. */
  /** The identity provider to choose when the proxy offers several (IDENTITY_PROVIDERS). */
  provider: string | undefined;
  /** The fields of the IdP's sign-in form. */
  credentials: Record<string, string> = { username: TEST_USER.username, password: TEST_USER.password };

  /**
   * With clientMetadataUrl the SDK uses it as client_id (CIMD) when the server supports that.
   * With `hop`, the browser reaches an https BASE_URL through the router in front of the proxy.
   */
  constructor(
    readonly redirectUrl = 'http://127.0.0.1:33418/callback',
    readonly clientMetadataUrl?: string,
    hop?: RouterHop,
  ) {
    this.browser = new Browser(hop ? { hop } : {});
  }

  get clientMetadata(): OAuthClientMetadata {
    return {
      client_name: 'SDK Test Client',
      redirect_uris: [this.redirectUrl],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
  }

  clientInformation() {
    return this.client;
  }
  saveClientInformation(info: OAuthClientInformationMixed) {
    this.client = info;
  }
  tokens() {
    return this.savedTokens;
  }
  saveTokens(tokens: OAuthTokens) {
    this.savedTokens = tokens;
  }
  saveCodeVerifier(verifier: string) {
    this.verifier = verifier;
  }
  codeVerifier() {
    if (!this.verifier) throw new Error('no code verifier saved');
    return this.verifier;
  }

  async redirectToAuthorization(url: URL): Promise<void> {
    const atClient = (u: URL) => u.href.startsWith(this.redirectUrl);
    const consent = await this.browser.open(url.href, atClient);
    this.pages.push(consent);
    if (consent.redirectedTo) return void (this.callback = new URL(consent.redirectedTo));
    let afterConsent = await this.confirm(consent, atClient);
    this.pages.push(afterConsent);
    if (afterConsent.redirectedTo) return void (this.callback = new URL(afterConsent.redirectedTo));
    // With IDENTITY_PROVIDERS, the chooser: the button of `this.provider`.
    if (/name="provider"/.test(afterConsent.html)) {
      if (!this.provider) throw new Error('the proxy asks which identity provider: set TestOAuthProvider.provider');
      afterConsent = await this.browser.submit(afterConsent, { button: { name: 'provider', value: this.provider }, stopAt: atClient });
      this.pages.push(afterConsent);
      if (afterConsent.redirectedTo) return void (this.callback = new URL(afterConsent.redirectedTo));
    }
    const done = await this.browser.submit(afterConsent, {
      fields: { ...this.credentials },
      stopAt: atClient,
    });
    this.pages.push(done);
    if (!done.redirectedTo) throw new Error(`sign-in did not return to the client: ${done.status} ${done.url}\n${done.html.slice(0, 500)}`);
    this.callback = new URL(done.redirectedTo);
  }

  /**
   * Our confirm page (Continue / Cancel buttons), or an operator's made for Heroku's proxy (a
   * `confirmed` checkbox posted to …/confirm-login, and a Cancel link).
   */
  private confirm(consent: Page, atClient: (u: URL) => boolean): Promise<Page> {
    if (!/action="[^"]*\/confirm-login"/.test(consent.html)) {
      return this.browser.submit(consent, { actionIncludes: '/confirm', button: { name: 'action', value: this.userAction }, stopAt: atClient });
    }
    if (this.userAction === 'cancel') {
      const cancel = /href="([^"]*\/abort)"/.exec(consent.html)?.[1];
      if (!cancel) throw new Error(`no Cancel link on ${consent.url}`);
      return this.browser.open(new URL(cancel, consent.url).href, atClient);
    }
    return this.browser.submit(consent, { actionIncludes: '/confirm-login', fields: { confirmed: 'true' }, stopAt: atClient });
  }
}

export interface ConnectOptions {
  /** How the client reaches the server: through the router in front of an https BASE_URL. */
  fetch?: (url: string | URL, init?: RequestInit) => Promise<Response>;
  /** What the client offers the server (sampling, elicitation, roots). */
  capabilities?: ClientCapabilities;
  /** Called on the client before it connects: request and notification handlers. */
  setUp?: (client: Client) => void;
}

/** Connects an SDK client through the full OAuth flow (401 → discovery → DCR → authorize → token). */
export async function connectWithOAuth(mcpUrl: string, auth: TestOAuthProvider, options: ConnectOptions = {}): Promise<Client> {
  const transportOptions = { authProvider: auth, ...(options.fetch ? { fetch: options.fetch } : {}) };
  const first = new StreamableHTTPClientTransport(new URL(mcpUrl), transportOptions);
  const newClient = () => {
    const client = new Client({ name: 'e2e', version: '1.0.0' }, { capabilities: options.capabilities ?? {} });
    options.setUp?.(client);
    return client;
  };
  const client = newClient();
  try {
    await client.connect(first);
    return client;
  } catch (err) {
    if (!(err instanceof UnauthorizedError)) throw err;
  }
  const code = auth.callback?.searchParams.get('code');
  if (!code) throw new Error(`no authorization code: ${auth.callback?.href}`);
  await first.finishAuth(code);
  const transport = new StreamableHTTPClientTransport(new URL(mcpUrl), transportOptions);
  const connected = newClient();
  await connected.connect(transport);
  return connected;
}

/** What the MCP fixture's whoami tool saw: the Authorization header and every request header. */
export interface WhoAmI {
  authorization: string | null;
  headers: Record<string, string>;
}

/** Calls the MCP fixture's whoami tool: what the proxy sent the MCP server. */
export async function whoami(client: Client): Promise<WhoAmI> {
  const result = await client.callTool({ name: 'whoami', arguments: {} });
  const [content] = result.content as { type: string; text: string }[];
  return JSON.parse(content!.text) as WhoAmI;
}

/**
 * A bare JSON-RPC tools/list to /mcp with a bearer token (or none), for tests about the token,
 * not MCP. `init` adds to the request (a signal, more headers).
 */
export function listTools(mcpUrl: string, token: string | undefined, init: RequestInit = {}): Promise<Response> {
  return fetch(mcpUrl, {
    method: 'POST',
    ...init,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      ...(init.headers as Record<string, string> | undefined),
    },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} }),
  });
}
