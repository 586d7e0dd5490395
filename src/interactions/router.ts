// Sign-in for our authorization requests: the confirm-login page, then the upstream IdP login,
// then a grant holding the upstream tokens, and back to the MCP client with a code. The routes
// of Heroku's proxy are here too (POST …/confirm-login with `confirmed`, GET …/abort), so an
// operator's confirm-login.ejs written for it works unchanged.
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import { errors as oidcErrors, type default as Provider } from 'oidc-provider';
import type { Logger } from 'pino';
import type { Config } from '../config/types.js';
import type { AccountStore } from '../identity/accounts.js';
import { UpstreamAuthorizationError, UpstreamClientRefused } from '../identity/upstream.js';
import type { IdentityProviders, SignInProvider } from '../identity/providers.js';
import type { UpstreamTokenVault } from '../identity/vault.js';
import { storeFailing, storeRetryAfterSeconds, type KeyValueStore } from '../storage/store.js';
import type { AuditLog } from '../telemetry/audit.js';
import type { ProxyMetrics } from '../telemetry/metrics.js';
import { markDenied } from '../telemetry/request-metrics.js';
import type { CommonPageData, ConfirmLoginData, TemplateClient } from '../pages/contract.js';
import type { RenderView } from '../pages/render.js';
import { Consents } from './consents.js';
import { CsrfTokens } from './csrf.js';
import { UpstreamSignIns } from './upstream-state.js';
import { SignInCompletion, type SignInRequest } from './sign-in-completion.js';
import { localSignInRoutes } from './local-sign-in.js';
import { Problem, sendProblemPage } from '../http/problems.js';
import { clientFacts, shownScopes } from '../pages/client-facts.js';
import { noteOAuthError } from '../logging.js';

export interface InteractionDependencies {
  config: Config;
  provider: Provider;
  store: KeyValueStore;
  providers: IdentityProviders;
  vault: UpstreamTokenVault;
  accounts: AccountStore;
  render: RenderView;
  logger: Logger;
  metrics: ProxyMetrics;
  audit: AuditLog;
}

const expiredSignIn = () =>
  new Problem(400, 'invalid_state', 'The sign-in took too long or this link was already used.', { title: 'This sign-in link has expired' });
/** A form or link that can no longer be used (its CSRF token is wrong or old, or another site sent it). */
const pageExpired = (code: 'invalid_csrf_token' | 'invalid_request', message: string) => new Problem(403, code, message, { title: 'This page has expired' });

type Details = Awaited<ReturnType<Provider['interactionDetails']>>;
type Client = NonNullable<Awaited<ReturnType<Provider['Client']['find']>>>;
type ClientLifetimes = { grantTtl: number; accessTokenTtl: number };

export function interactionRouter(deps: InteractionDependencies): Router {
  const { config, provider, store, providers, vault, accounts, render, logger, metrics, audit } = deps;
  const csrf = new CsrfTokens(store);
  const signIns = new UpstreamSignIns(store);
  const consents = new Consents(store, config.provider.consentTtl);
  const completion = new SignInCompletion({ config, provider, store, providers, vault, accounts, consents, logger, metrics, audit });

  /**
   * Sends the browser to the IdP (with several, the chosen one; none chosen yet: the chooser);
   * the upstream state exists only from here on.
   */
  async function beginUpstreamSignIn(res: Response, details: Details, rememberedFor?: string, chosen?: SignInProvider): Promise<void> {
    const signInProvider = chosen ?? (providers.several ? undefined : providers.default);
    if (!signInProvider) return showChooser(res, details);
    const { upstream, settings } = signInProvider;
    if (!(await upstream.isReachable())) {
      logger.warn({ provider: settings.name }, 'identity provider unreachable at sign-in');
      return showUnavailable(res, details, { idpHost: settings.serverUrl.host });
    }
    const checks = upstream.newChecks();
    const url = (await upstream.authorizationUrl(checks)).href;
    const signIn = { uid: details.uid, ...checks, provider: settings.name, ...(rememberedFor !== undefined ? { rememberedFor } : {}) };
    res.redirect(303, await signIns.begin(signIn, url));
  }

  /** With IDENTITY_PROVIDERS: which provider to sign in with, one button each. */
  async function showChooser(res: Response, details: Details): Promise<void> {
    const choices = providers.all.map(({ settings }) => ({ name: settings.name, title: settings.title }));
    await sendPage(res, 200, 'choose-provider', { title: 'Sign in with', choices, clientName: await clientNameOf(details), action: `/interaction/${encodeURIComponent(details.uid)}/provider` }, details.uid);
  }

  /** A page of this sign-in: never cached, its forms protected against CSRF. */
  async function sendPage(res: Response, status: number, view: string, data: { title: string } & Record<string, unknown>, uid: string): Promise<void> {
    const html = await csrf.protect(await render(view, { ...data, uid }), uid, config.baseUrl);
    res.status(status).type('html').set('Cache-Control', 'no-store').send(html);
  }

  /**
   * A page saying the IdP cannot be reached (or, `misconfigured`, refuses this server's own
   * credentials), whose button returns to the client with temporarily_unavailable.
   */
  async function showUnavailable(res: Response, details: Details, { misconfigured = false, idpHost }: { misconfigured?: boolean; idpHost: string }): Promise<void> {
    res.set('Retry-After', '60');
    noteOAuthError(res, 'temporarily_unavailable');
    await sendPage(
      res,
      503,
      'idp-unavailable',
      {
        title: misconfigured ? 'This server cannot sign you in right now' : 'The sign-in service is not answering',
        misconfigured,
        idpHost,
        clientName: await clientNameOf(details),
      },
      details.uid,
    );
  }

  /** Checks the form's CSRF token; when it is wrong or old, says so and answers false. */
  async function formIsFresh(req: Request, res: Response, details: Details, message: string): Promise<boolean> {
    if (await csrf.verify(details.uid, req.body?.csrf)) return true;
    await sendProblemPage(res, render, pageExpired('invalid_csrf_token', message));
    return false;
  }

  async function clientNameOf(details: Details): Promise<string> {
    const client = await provider.Client.find(String(details.params.client_id));
    return client?.clientName ?? 'the application';
  }
  const router = express.Router();
  const form = express.urlencoded({ extended: false, limit: '4kb', parameterLimit: 10 });

  /** The interaction this browser is in; its cookie must match the uid in the path. */
  async function interactionOf(req: Request, res: Response): Promise<Details> {
    const details = await provider.interactionDetails(req, res);
    if (details.uid !== req.params.uid) throw new oidcErrors.SessionNotFound('interaction mismatch');
    return details;
  }

  const finish = (req: Request, res: Response, result: Parameters<Provider['interactionFinished']>[2]) =>
    provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });

  // The IdP redirects to one fixed URL, where the interaction cookie (scoped to
  // /interaction/<uid>) is not sent: route the browser to its interaction's own callback path.
  router.get(config.identity.callbackPath, async (req, res) => {
    const signIn = await signIns.peek(req.query.state);
    if (!signIn) {
      metrics.login('expired');
      return sendProblemPage(res, render, expiredSignIn());
    }
    const query = req.originalUrl.slice(req.originalUrl.indexOf('?'));
    res.redirect(303, `/interaction/${encodeURIComponent(signIn.uid)}/identity${query}`);
  });

  // IDENTITY_PROVIDER=local: our own sign-in page stands where the IdP's would (local-sign-in.ts).
  const local = providers.local;
  if (local) {
    const expired = (res: Response) => {
      metrics.login('expired');
      return sendProblemPage(res, render, expiredSignIn());
    };
    localSignInRoutes(router, { local, signIns, form, sendPage, interactionOf, formIsFresh, clientNameOf, expired, logger, callbackPath: config.identity.callbackPath });
  }

  router.get('/interaction/:uid', async (req, res) => {
    const details = await interactionOf(req, res);
    const client = await provider.Client.find(String(details.params.client_id));
    if (!client) throw new oidcErrors.InvalidClient('client not found');
    // A device's request (RFC 8628) was just confirmed on the device flow's own page, which shows
    // the same facts: no second page asking the same.
    if ((details as { deviceCode?: unknown }).deviceCode !== undefined) {
      metrics.consent('confirmed');
      return beginUpstreamSignIn(res, details);
    }
    // The signed-in user already confirmed this client: straight to the IdP, unless asked to confirm.
    const remembered = await rememberedAccount(details, client.clientId);
    if (remembered !== undefined) {
      metrics.consent('remembered');
      return beginUpstreamSignIn(res, details, remembered);
    }
    const data = confirmLoginData(details, client, config.provider);
    metrics.consent('shown');
    await sendPage(res, 200, 'confirm-login', data, details.uid);
  });

  /** The session's account, when it already confirmed this client and nothing asks to confirm again. */
  async function rememberedAccount(details: Details, clientId: string): Promise<string | undefined> {
    const sessionAccount = details.session?.accountId;
    const consentPrompted = String(details.params.prompt ?? '').split(' ').includes('consent');
    if (!sessionAccount || consentPrompted || (await consents.mustAsk(details.uid))) return undefined;
    return (await consents.isRemembered(sessionAccount, clientId)) ? sessionAccount : undefined;
  }

  // The chooser's buttons (IDENTITY_PROVIDERS).
  router.post('/interaction/:uid/provider', form, async (req, res) => {
    const details = await interactionOf(req, res);
    if (!(await formIsFresh(req, res, details, 'Start the connection again from your application.'))) return;
    const chosen = providers.several ? providers.get(String(req.body?.provider ?? '')) : undefined;
    if (!chosen) return showChooser(res, details);
    await beginUpstreamSignIn(res, details, await rememberedAccount(details, String(details.params.client_id)), chosen);
  });

  const STALE_CONFIRMATION = 'The confirmation form is too old. Start the connection again.';
  const cancel = (req: Request, res: Response) => {
    metrics.consent('cancelled');
    return finish(req, res, { error: 'access_denied', error_description: 'The user cancelled the sign-in.' });
  };

  // Our confirm-login.ejs: a Continue and a Cancel button.
  router.post('/interaction/:uid/confirm', form, async (req, res) => {
    const details = await interactionOf(req, res);
    if (!(await formIsFresh(req, res, details, STALE_CONFIRMATION))) return;
    if (req.body?.action !== 'confirm') return cancel(req, res);
    metrics.consent('confirmed');
    await beginUpstreamSignIn(res, details);
  });

  // Heroku's confirm-login.ejs: a `confirmed` checkbox; submitted unticked, the page is shown again.
  router.post('/interaction/:uid/confirm-login', form, async (req, res) => {
    const details = await interactionOf(req, res);
    if (!(await formIsFresh(req, res, details, STALE_CONFIRMATION))) return;
    if (req.body?.confirmed !== 'true') return res.redirect(303, `/interaction/${encodeURIComponent(details.uid)}`);
    metrics.consent('confirmed');
    await beginUpstreamSignIn(res, details);
  });

  // Heroku's Cancel link. A GET, so no form token: a navigation another site started is refused
  // (browsers say so in Sec-Fetch-Site), and the interaction cookie must match as everywhere.
  router.get('/interaction/:uid/abort', async (req, res) => {
    await interactionOf(req, res);
    if (req.headers['sec-fetch-site'] === 'cross-site') {
      return sendProblemPage(res, render, pageExpired('invalid_request', STALE_CONFIRMATION));
    }
    await cancel(req, res);
  });

  router.get('/interaction/:uid/identity', async (req, res) => {
    const details = await interactionOf(req, res);
    const signIn = await signIns.take(req.query.state);
    if (!signIn || signIn.uid !== details.uid) {
      metrics.login('expired');
      return sendProblemPage(res, render, expiredSignIn());
    }
    const signInProvider = providers.get(signIn.provider);
    if (!signInProvider) {
      metrics.login('expired');
      return sendProblemPage(res, render, expiredSignIn());
    }
    let identity;
    try {
      identity = await signInProvider.upstream.exchange(new URLSearchParams(req.originalUrl.split('?')[1] ?? ''), signIn);
    } catch (err) {
      if (err instanceof UpstreamAuthorizationError) {
        metrics.login('refused_by_idp');
        logger.info({ error: err.error }, 'identity provider refused the sign-in');
        return finish(req, res, { error: 'access_denied', error_description: 'The identity provider refused the sign-in.' });
      }
      metrics.login('failed');
      if (err instanceof UpstreamClientRefused) {
        logger.error({ message: err.message }, 'upstream sign-in failed');
        return showUnavailable(res, details, { misconfigured: true, idpHost: signInProvider.settings.serverUrl.host });
      }
      logger.warn({ err }, 'upstream sign-in failed');
      return showUnavailable(res, details, { idpHost: signInProvider.settings.serverUrl.host });
    }

    const outcome = await completion.complete(signInRequest(details, signIn.rememberedFor), identity, signInProvider);
    switch (outcome.kind) {
      case 'user-changed':
        return res.redirect(303, `/interaction/${encodeURIComponent(details.uid)}`);
      case 'denied':
        markDenied(res, 'access_policy');
        noteOAuthError(res, 'access_denied');
        return sendPage(
          res,
          403,
          'access-denied',
          {
            title: `This account cannot use ${new URL(config.baseUrl).host}`,
            account: outcome.account,
            reason: outcome.reason,
            clientName: await clientNameOf(details),
          },
          details.uid,
        );
      case 'not-saved': {
        const message = 'Nothing was kept. Start the connection again from your application.';
        const title = 'The sign-in could not be saved';
        return sendProblemPage(
          res,
          render,
          storeFailing(store)
            ? new Problem(503, 'temporarily_unavailable', message, { title, retryAfterSeconds: storeRetryAfterSeconds(store) })
            : new Problem(500, 'server_error', message, { title }),
        );
      }
      case 'signed-in':
        return finish(req, res, { login: { accountId: outcome.accountId }, consent: { grantId: outcome.grantId } });
    }
  });

  // From a page that ends the sign-in, the user returns to the client, which learns why.
  const returnToClient = (path: string, error: string, description: string) =>
    router.post(`/interaction/:uid/${path}`, form, async (req, res) => {
      const details = await interactionOf(req, res);
      if (!(await formIsFresh(req, res, details, 'Start the connection again from your application.'))) return;
      await finish(req, res, { error, error_description: description });
    });
  returnToClient('refused', 'access_denied', 'This account is not allowed to use this server.');
  returnToClient('unavailable', 'temporarily_unavailable', 'The identity provider is unavailable; try again later.');

  router.use(async (err: unknown, _req: Request, res: Response, next: NextFunction) => {
    if (err instanceof oidcErrors.SessionNotFound) {
      const message = 'The sign-in session was not found in this browser or has expired.';
      return sendProblemPage(res, render, new Problem(400, 'session_not_found', message, { title: 'This sign-in has expired' }));
    }
    next(err);
  });

  return router;
}

/** What the confirm-login template gets: our contract and Heroku's (src/pages/contract.ts). */
function confirmLoginData(details: Details, client: Client, lifetimes: ClientLifetimes): Omit<ConfirmLoginData, keyof CommonPageData> & { title: string } {
  const redirectUri = typeof details.params.redirect_uri === 'string' ? new URL(details.params.redirect_uri) : undefined;
  const facts = clientFacts(client as Client & { clientIdMetadataDocument?: boolean }, redirectUri, lifetimes);
  const templateClient: TemplateClient = {
    clientId: client.clientId,
    clientName: client.clientName,
    clientUri: client.clientUri,
    redirectUris: [...(client.redirectUris ?? [])],
    logoUri: undefined,
  };
  return {
    title: `Connect ${facts.clientName}?`,
    uid: details.uid,
    client: templateClient,
    details: { ...details.prompt.details },
    params: { ...details.params },
    ...facts,
    scopes: shownScopes(requestedScopes(details)),
  };
}

function requestedScopes(details: Details): string[] {
  return String(details.params.scope ?? '').split(' ').filter(Boolean);
}

/** What the interaction asked for, as the sign-in completion takes it. */
function signInRequest(details: Details, rememberedFor: string | undefined): SignInRequest {
  const resource = details.params.resource;
  return {
    uid: details.uid,
    clientId: String(details.params.client_id),
    scopes: requestedScopes(details),
    resources: (Array.isArray(resource) ? resource : resource ? [resource] : []).map(String),
    rememberedFor,
  };
}
