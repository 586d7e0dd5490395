// Renders our EJS pages inside the layout. With OIDC_PROVIDER_VIEWS_PATH an operator's
// confirm-login.ejs and _layout.ejs replace ours (every other page is ours, inside their layout).
// An operator's template that fails at run time is logged and our own is used instead: a
// template never turns a page into a 500.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ejs from 'ejs';
import type { Config } from '../config/types.js';
import { pageBranding } from './branding.js';
import type { CommonPageData } from './contract.js';

export const OUR_VIEWS = fileURLToPath(new URL('../../views/', import.meta.url));
/** The views an operator may replace, as Heroku's proxy documented them. */
export const OVERRIDABLE_VIEWS = ['confirm-login', '_layout'] as const;

/** Renders a page: its own data (with its `title`) on top of what every page gets. */
export type RenderView = (view: string, data: { title: string } & Record<string, unknown>) => Promise<string>;

/** Told when an operator's template fails and ours stood in. */
export type TemplateFailure = (file: string, err: Error) => void;

/** IDENTITY_SERVER_URL as an operator wrote it: without the slash URL parsing adds to a bare origin. */
const asWritten = (url: URL): string => (url.pathname === '/' && !url.search ? url.origin : url.href);

export function createPages(config: Config, onTemplateFailure: TemplateFailure = () => {}): RenderView {
  const override = config.provider.viewsPath;
  const overridable = new Set<string>(OVERRIDABLE_VIEWS);
  const branding = pageBranding(config.branding);
  const common = (): Omit<CommonPageData, 'title'> => ({
    branding,
    demo: config.demo,
    nonce: randomBytes(16).toString('base64'),
    serverHost: new URL(config.baseUrl).host,
    identityServerUrl: asWritten(config.identity.serverUrl),
    identityHost: config.identity.serverUrl.host,
  });
  // Compiled once; an operator's templates are checked at startup (view-check.ts).
  const renderFile = (dir: string, view: string, data: Record<string, unknown>): Promise<string> =>
    ejs.renderFile(join(dir, `${view}.ejs`), data, { async: false, cache: true });

  async function renderView(view: string, data: Record<string, unknown>): Promise<string> {
    if (override && overridable.has(view)) {
      try {
        return await renderFile(override, view, data);
      } catch (err) {
        onTemplateFailure(join(override, `${view}.ejs`), err as Error);
      }
    }
    return renderFile(OUR_VIEWS, view, data);
  }

  return async (view, data) => {
    const locals = { ...common(), ...data };
    const body = await renderView(view, locals);
    return renderView('_layout', { ...locals, body });
  };
}
