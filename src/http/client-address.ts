// The client address of the request being served, for code that runs without the request at
// hand (oidc-provider's hooks, such as the fetch of a client metadata document, which it may
// call from our middleware as well as from its own routes).
import { AsyncLocalStorage } from 'node:async_hooks';
import type { RequestHandler } from 'express';

const current = new AsyncLocalStorage<string>();

/** Makes req.ip (the address Heroku's router saw, through the trusted hop) known to what the request runs. */
export function rememberClientAddress(): RequestHandler {
  return (req, _res, next) => current.run(req.ip ?? 'unknown', next);
}

/** The client address of the request being served, or undefined outside one. */
export const clientAddress = (): string | undefined => current.getStore();
