// Renders our EJS pages inside the layout. Operators may replace confirm-login.ejs and
// _layout.ejs with OIDC_PROVIDER_VIEWS_PATH; the other pages always come from views/.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ejs from 'ejs';
import type { Config } from './config/index.js';

const OUR_VIEWS = fileURLToPath(new URL('../views/', import.meta.url));
const OVERRIDABLE = new Set(['confirm-login', '_layout']);

export interface RenderedPage {
  html: string;
  /** CSP nonce of the page's inline style. */
  nonce: string;
}

export type RenderView = (view: string, data: Record<string, unknown>) => Promise<RenderedPage>;

export function createViews(config: Config): RenderView {
  const dir = (view: string): string =>
    config.provider.viewsPath && OVERRIDABLE.has(view) ? config.provider.viewsPath : OUR_VIEWS;
  const file = (view: string): string => join(dir(view), `${view}.ejs`);
  return async (view, data) => {
    const nonce = randomBytes(16).toString('base64');
    const common = { title: config.branding.title, favicon: config.branding.favicon, heroku: config.branding.heroku, demo: config.demo, nonce };
    const body = await ejs.renderFile(file(view), { ...common, ...data }, { async: false });
    const html = await ejs.renderFile(file('_layout'), { ...common, ...data, body }, { async: false });
    return { html, nonce };
  };
}
