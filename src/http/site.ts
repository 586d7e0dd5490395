// The proxy's pages outside a sign-in: its root (what this server is and how to connect), the
// favicon browsers ask every page for, and a page for unknown paths in browsers (boot.ts; the
// provider serves everything else under the root).
import express, { type Router } from 'express';
import type { Config } from '../config/types.js';
import { problemPage, problems } from './problems.js';
import type { RenderView } from '../pages/render.js';

// A shield, in the pages' accent colour: served for /favicon.ico (every browser asks for it) and
// linked by our layout unless BRANDING_FAVICON names another.
const faviconSvg = (color: string): string =>
  `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24"><path fill="${color}" d="M12 1 3 5v6c0 5.5 3.8 10.7 9 12 5.2-1.3 9-6.5 9-12V5l-9-4zm0 6a3 3 0 0 1 1 5.83V17h-2v-4.17A3 3 0 0 1 12 7z"/></svg>`;

export function siteRouter(config: Config, render: RenderView): Router {
  const router = express.Router();
  const favicon = faviconSvg(config.branding.heroku ? '#79589f' : '#2563eb');
  router.get('/favicon.ico', (_req, res) => {
    res.type('image/svg+xml').set('Cache-Control', 'public, max-age=86400').send(favicon);
  });
  router.get('/', async (_req, res) => {
    const html = await render('home', { title: 'MCP server', mcpUrl: config.mcp.resource });
    res.type('html').set('Cache-Control', 'no-store').send(html);
  });
  return router;
}

/** The page for an unknown path (404), for browsers. */
export function notFoundPage(render: RenderView, path: string): Promise<string> {
  return render('error', problemPage(problems.pageNotFound(path)));
}
