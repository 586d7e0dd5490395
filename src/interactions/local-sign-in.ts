// The sign-in page of local accounts (IDENTITY_PROVIDER=local), where an IdP's would be: the
// upstream sign-in begins at LOCAL_SIGN_IN_PATH with its state, the browser is routed to its
// interaction's own path (where the interaction cookie is sent), the form is checked (CSRF,
// throttling, the password), and a good password ends at the callback with a one-time code, as
// an IdP's redirect would. Everything after that is the same as for any IdP.
import type { Request, RequestHandler, Response, Router } from 'express';
import type { Logger } from 'pino';
import type { LocalSignIn } from '../identity/local-sign-in.js';
import { FAILURE_WINDOW_SECONDS } from '../identity/local-sign-in.js';
import { LOCAL_SIGN_IN_PATH } from '../identity/upstream.js';
import type { UpstreamSignIns } from './upstream-state.js';

interface Details {
  uid: string;
}

export interface LocalSignInRouteDependencies {
  local: LocalSignIn;
  signIns: UpstreamSignIns;
  form: RequestHandler;
  callbackPath: string;
  logger: Logger;
  sendPage(res: Response, status: number, view: string, data: { title: string } & Record<string, unknown>, uid: string): Promise<void>;
  interactionOf(req: Request, res: Response): Promise<Details>;
  formIsFresh(req: Request, res: Response, details: Details, message: string): Promise<boolean>;
  clientNameOf(details: Details): Promise<string>;
  expired(res: Response): Promise<void>;
}

const TITLE = 'Sign in';
const text = (value: unknown, max: number): string => (typeof value === 'string' ? value.slice(0, max) : '');

export function localSignInRoutes(router: Router, deps: LocalSignInRouteDependencies): void {
  const { local, signIns, form, callbackPath, logger, sendPage, interactionOf, formIsFresh, clientNameOf, expired } = deps;
  const action = (uid: string) => `/interaction/${encodeURIComponent(uid)}/local`;

  /** The sign-in under way for this interaction, by the state the form or link carries. */
  async function signInOf(details: Details, state: unknown) {
    const signIn = await signIns.peek(state);
    return signIn && signIn.uid === details.uid ? signIn : undefined;
  }

  const page = async (res: Response, details: Details, status: number, state: string, extra: { error?: string; username?: string } = {}) =>
    sendPage(
      res,
      status,
      'local-sign-in',
      { title: TITLE, action: action(details.uid), state, clientName: await clientNameOf(details), error: extra.error, username: extra.username ?? '', totp: local.usesTotp },
      details.uid,
    );

  // Where authorizationUrl() sends the browser: on to the interaction's own path.
  router.get(LOCAL_SIGN_IN_PATH, async (req, res) => {
    const signIn = await signIns.peek(req.query.state);
    if (!signIn) return expired(res);
    res.redirect(303, `${action(signIn.uid)}?state=${encodeURIComponent(String(req.query.state))}`);
  });

  router.get('/interaction/:uid/local', async (req, res) => {
    const details = await interactionOf(req, res);
    const signIn = await signInOf(details, req.query.state);
    if (!signIn) return expired(res);
    await page(res, details, 200, signIn.state);
  });

  router.post('/interaction/:uid/local', form, async (req: Request, res: Response) => {
    const details = await interactionOf(req, res);
    if (!(await formIsFresh(req, res, details, 'Start the connection again from your application.'))) return;
    const signIn = await signInOf(details, req.body?.state);
    if (!signIn) return expired(res);
    const username = text(req.body?.username, 254).trim();
    const password = text(req.body?.password, 1024);
    const authenticatorCode = text(req.body?.code, 16);
    const result = await local.check(username, password, req.ip ?? 'unknown', authenticatorCode);
    if (!result.ok) {
      // Never which of the two was wrong, nor whether the account exists.
      logger.info({ reason: result.reason }, 'local sign-in refused');
      if (result.reason === 'throttled') res.set('Retry-After', String(FAILURE_WINDOW_SECONDS));
      const error =
        result.reason === 'throttled'
          ? `Too many failed sign-ins. Try again in ${FAILURE_WINDOW_SECONDS / 60} minutes.`
          : local.usesTotp
            ? 'The user name, password or authentication code is not correct.'
            : 'The user name or password is not correct.';
      return page(res, details, result.reason === 'throttled' ? 429 : 401, signIn.state, { error, username });
    }
    const code = await local.issueCode(result.user, signIn.state);
    res.redirect(303, `${callbackPath}?${new URLSearchParams({ code, state: signIn.state })}`);
  });
}
