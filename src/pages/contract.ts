// The data page templates receive: one contract for our views and for an operator's
// (OIDC_PROVIDER_VIEWS_PATH), a superset of what Heroku's proxy gave its confirm-login.ejs and
// _layout.ejs, so their templates work unchanged. docs/views.md documents it; the sample data
// below is what the startup check renders every template with.
import type { Branding } from './branding.js';

/** What every page, and the layout around it, gets. */
export interface CommonPageData {
  /** The page's heading: both layouts show it (Heroku's as its `<h1>`). */
  title: string;
  branding: Branding;
  /** The local demo is running: our layout shows a banner. */
  demo: boolean;
  /** A fresh nonce per page, for an inline `<style>` that wants one. */
  nonce: string;
  /** BASE_URL's host: the server the person is connecting to. */
  serverHost: string;
  /** IDENTITY_SERVER_URL as configured (Heroku's confirm-login shows it), and its host. */
  identityServerUrl: string;
  identityHost: string;
}

/** The layout's own data: the rendered page. */
export interface LayoutData extends CommonPageData {
  body: string;
}

/**
 * The client as confirm-login templates read it (Heroku's proxy passed oidc-provider's Client;
 * these are the properties its template reads). `logoUri` is always undefined: a logo registered
 * by any client would let it show any brand on the page people decide on.
 */
export interface TemplateClient {
  clientId: string;
  clientName: string | undefined;
  clientUri: string | undefined;
  redirectUris: string[];
  logoUri: undefined;
}

export interface ConfirmLoginData extends CommonPageData {
  /** The interaction; forms post to `/interaction/<uid>/confirm-login` (or `/confirm`). */
  uid: string;
  client: TemplateClient;
  /** oidc-provider's prompt details and the authorization request's parameters, as Heroku passed them. */
  details: Record<string, unknown>;
  params: Record<string, unknown>;
  /** The client's name, else its redirect host, else its id. */
  clientName: string;
  /** For a client identified by a metadata document (CIMD): the host that publishes it. */
  documentHost: string | undefined;
  /** Where the browser goes after sign-in: an origin, a custom scheme and host, or "your device". */
  redirectTarget: string;
  /** Every redirect URI is on this computer (a local tool). */
  loopbackOnly: boolean;
  /** How long the connection lasts without signing in again, in words ("30 days"). */
  lifetime: string;
  /** The scopes asked for, `openid` and `offline_access` (said as `lifetime`) left out. */
  scopes: string[];
}

/** Sample data, for rendering each template once at startup. */
export function sampleCommon(branding: Branding): CommonPageData {
  return {
    title: 'Sample page',
    branding,
    demo: false,
    nonce: 'c2FtcGxlLW5vbmNl',
    serverHost: 'mcp.example.com',
    identityServerUrl: 'https://identity.example.com',
    identityHost: 'identity.example.com',
  };
}

export function sampleConfirmLogin(common: CommonPageData): ConfirmLoginData {
  const redirectUri = 'https://client.example.com/oauth/callback';
  return {
    ...common,
    title: 'Connect Sample MCP Client?',
    uid: 'sample-interaction',
    client: {
      clientId: 'sample-client',
      clientName: 'Sample MCP Client',
      clientUri: 'https://client.example.com',
      redirectUris: [redirectUri],
      logoUri: undefined,
    },
    details: { missingOIDCScope: ['openid', 'offline_access'] },
    params: {
      client_id: 'sample-client',
      redirect_uri: redirectUri,
      response_type: 'code',
      scope: 'openid offline_access',
      resource: 'https://mcp.example.com/mcp',
      code_challenge_method: 'S256',
    },
    clientName: 'Sample MCP Client',
    documentHost: undefined,
    redirectTarget: 'https://client.example.com',
    loopbackOnly: false,
    lifetime: '30 days',
    scopes: ['mcp:tools'],
  };
}

/** A marker the check looks for in the layout's output: the page must appear in it. */
export const SAMPLE_BODY = '<p>mcp-auth-proxy sample page body</p>';
