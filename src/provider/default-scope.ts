// RFC 6749 §3.3: when a client omits `scope`, the server applies a pre-defined default.
// oidc-provider instead issues no code when nothing was granted, and MCP clients (Cursor, VS
// Code, Claude Code) routinely omit it. The default is the client's registered scope, else every
// scope we grant.
import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import type { default as Provider } from 'oidc-provider';

async function defaultScope(provider: Provider, clientId: unknown, providerScopes: readonly string[]): Promise<string | undefined> {
  if (typeof clientId !== 'string' || clientId === '') return undefined;
  const client = await provider.Client.find(clientId).catch(() => undefined);
  if (!client) return undefined; // the provider answers an unknown client itself
  return client.scope ?? providerScopes.join(' ');
}

/** For GET /auth (query) and POST /auth, /device/auth (form bodies). */
export function defaultScopeFiller(provider: Provider, providerScopes: readonly string[]): RequestHandler[] {
  const form = express.urlencoded({ extended: false, limit: '56kb' });
  return [
    (req: Request, res: Response, next: NextFunction) => (req.method === 'POST' ? form(req, res, next) : next()),
    async (req: Request, _res: Response, next: NextFunction) => {
      if (req.method === 'GET') {
        const url = new URL(req.url, 'http://local');
        if (!url.searchParams.has('scope')) {
          const scope = await defaultScope(provider, url.searchParams.get('client_id'), providerScopes);
          if (scope) {
            url.searchParams.set('scope', scope);
            req.url = url.pathname + url.search;
          }
        }
      } else if (req.body && typeof req.body === 'object' && !('scope' in req.body)) {
        // A parsed body is used by oidc-provider as is (the stream is consumed).
        const scope = await defaultScope(provider, (req.body as Record<string, unknown>).client_id, providerScopes);
        if (scope) (req.body as Record<string, unknown>).scope = scope;
      }
      next();
    },
  ];
}
