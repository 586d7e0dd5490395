// An HTML error page for people (sign-in pages); APIs answer JSON instead.
import type { Response } from 'express';
import type { RenderView } from '../views.js';

export interface ErrorPage {
  heading: string;
  message: string;
  code?: string;
}

export async function renderErrorPage(res: Response, render: RenderView, status: number, page: ErrorPage): Promise<void> {
  const { html } = await render('error', { ...page });
  res.status(status).type('html').set('Cache-Control', 'no-store').send(html);
}
