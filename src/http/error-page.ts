// An HTML error page for people (sign-in pages); APIs answer JSON instead.
import type { Response } from 'express';
import { noteOAuthError } from '../logging.js';
import type { RenderView } from '../pages/render.js';

export interface ErrorPage {
  /** The page's heading. */
  title: string;
  message: string;
  /** The OAuth error code, shown small for support. */
  code?: string;
}

export async function renderErrorPage(res: Response, render: RenderView, status: number, page: ErrorPage): Promise<void> {
  if (page.code) noteOAuthError(res, page.code);
  const html = await render('error', { ...page });
  res.status(status).type('html').set('Cache-Control', 'no-store').send(html);
}
