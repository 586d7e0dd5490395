// Every URL we give out derives from BASE_URL, never from what a request says about itself:
// Host, X-Forwarded-Host, X-Forwarded-Proto and Forwarded are the client's (or, behind a router,
// partly the client's) to choose, and oidc-provider builds its endpoint URLs (discovery,
// registration_client_uri, the device verification_uri) from the request's origin.
import type { IncomingMessage } from 'node:http';
import type { default as Provider } from 'oidc-provider';

/**
 * A request-target in absolute form (`GET http://evil.example/x HTTP/1.1`, which Node accepts)
 * becomes origin form, before Express sees it (its router keeps the scheme and host it found
 * and puts them back), and Koa would take the whole URL as the request's href.
 */
export function toOriginForm(req: IncomingMessage): void {
  if (req.url === undefined || req.url.startsWith('/')) return;
  const parsed = URL.parse(req.url);
  req.url = parsed ? `${parsed.pathname}${parsed.search}` : '/';
}

/**
 * The provider sees BASE_URL as every request's origin (its URLs), while the protocol it
 * learns from the router stays the request's own: cookies are marked Secure only when the
 * connection really was https, so a request that bypassed the router fails closed.
 */
export function pinProviderOrigin(provider: Provider, baseUrl: string): void {
  const origin = new URL(baseUrl).origin;
  provider.use(async (ctx, next) => {
    Object.defineProperty(ctx.request, 'origin', { value: origin, configurable: true });
    Object.defineProperty(ctx.request, 'href', { value: `${origin}${ctx.originalUrl}`, configurable: true });
    await next();
  });
}
