// What the authorization endpoint may send a browser to a client with: query responses only
// (form_post and fragment are refused, however the request arrived), and no error before the
// user acted. RFC 9700 4.11.2: the authorization server must not send the browser to a redirect
// URI it does not trust without the user. Anyone can register a client (DCR, metadata documents), so an
// error the provider would send straight to the client's redirect URI, before the user did
// anything, would make this proxy an open redirector: it is shown on our page instead, with a
// link that takes the error to the client once the user chooses to. Outcomes after the user
// confirmed (a code, access_denied, temporarily_unavailable) still go to the client directly.
import type { default as Provider, KoaContextWithOIDC } from 'oidc-provider';
import { noteOAuthError } from '../logging.js';
import { problemPage, problems } from '../http/problems.js';

/** What rendering a page needs of a Koa context. */
export interface PageContext {
  type: string;
  body: unknown;
  set(field: string, value: string): void;
}
export type RenderPage = (ctx: PageContext, view: string, data: { title: string } & Record<string, unknown>) => Promise<void>;

/** Where a redirect to a client would take the browser, or undefined when it stays on our origin. */
function clientTarget(ctx: Pick<KoaContextWithOIDC, 'status' | 'response'>, issuer: URL): URL | undefined {
  if (ctx.status < 300 || ctx.status >= 400) return undefined;
  const target = URL.parse(ctx.response.get('Location'), issuer);
  if (!target || (target.protocol === issuer.protocol && target.host === issuer.host)) return undefined;
  return target;
}

/** Shows the host of http(s) targets, the scheme and host of custom-scheme ones (cursor://…). */
const hostOf = (url: URL): string => (url.protocol.startsWith('http') ? url.host : `${url.protocol}//${url.host}`);

/** Routes that answer an authorization request (the request itself, and its resumption after sign-in). */
const AUTHORIZATION_ROUTES = new Set(['authorization', 'resume']);

const refuseResponseMode = (ctx: PageContext & { status: number }, renderPage: RenderPage) => {
  const problem = problems.responseModeNotQuery();
  ctx.status = problem.status;
  return renderPage(ctx, 'error', problemPage(problem));
};

export function guardAuthorizationResponses(provider: Provider, renderPage: RenderPage): void {
  const issuer = new URL(provider.issuer);
  provider.use(async (ctx, next) => {
    // Only the query response mode: a form_post response is a page that posts itself to the
    // client with no click (an open redirect for errors), a fragment one a redirect we cannot
    // inspect here; no MCP client needs either. Refused early for a GET query string...
    const mode = ctx.method === 'GET' && ctx.path === '/auth' ? ctx.query.response_mode : undefined;
    if (mode !== undefined && mode !== 'query') {
      noteOAuthError(ctx.res as { locals?: Record<string, unknown> }, 'invalid_request');
      return refuseResponseMode(ctx, renderPage);
    }
    await next();
    if (ctx.oidc?.route === 'discovery' && ctx.body && typeof ctx.body === 'object') {
      (ctx.body as { response_modes_supported?: string[] }).response_modes_supported = ['query'];
    }
    if (!AUTHORIZATION_ROUTES.has(ctx.oidc?.route ?? '')) return;
    // ...and on the request as oidc-provider resolved it, however it arrived (a POSTed form, or
    // an interaction resumed after sign-in): whatever the provider answered is replaced.
    const resolved = ctx.oidc?.params?.response_mode;
    if (resolved !== undefined && resolved !== 'query') {
      ctx.remove('Location');
      noteOAuthError(ctx.res as { locals?: Record<string, unknown> }, 'invalid_request');
      return refuseResponseMode(ctx, renderPage);
    }
    // Errors at resumption come after the user acted (cancelled, or the IdP refused): they go on.
    if (ctx.oidc?.route !== 'authorization') return;
    const target = clientTarget(ctx, issuer);
    if (!target) return;
    const params = target.hash ? new URLSearchParams(target.hash.slice(1)) : target.searchParams;
    // Only errors are held back; an authorization response with a code goes to the client.
    if (!params.has('error')) return;
    ctx.remove('Location');
    ctx.status = 400;
    noteOAuthError(ctx.res as { locals?: Record<string, unknown> }, params.get('error') ?? 'invalid_request');
    await renderPage(ctx, 'authorization-error', {
      title: "The application's request was refused",
      clientName: ctx.oidc.client?.clientName ?? 'An application',
      error: params.get('error'),
      description: params.get('error_description') ?? '',
      returnUrl: target.href,
      returnHost: hostOf(target),
    });
  });
}
