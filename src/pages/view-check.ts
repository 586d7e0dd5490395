// The startup check of an operator's views (OIDC_PROVIDER_VIEWS_PATH): every template in the
// directory is rendered once with sample data of the real contract (contract.ts), so a template
// that needs a variable we do not give, or cannot compile, stops `config`, `verify` and `start`
// with its file, line and the missing name instead of answering 500 to the first person signing in.
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import ejs from 'ejs';
import type { Config } from '../config/types.js';
import { pageBranding } from './branding.js';
import { SAMPLE_BODY, sampleCommon, sampleConfirmLogin } from './contract.js';
import { OVERRIDABLE_VIEWS } from './render.js';

export interface ViewCheck {
  /** Each would break a page: the proxy refuses to start. */
  problems: string[];
  warnings: string[];
}

const SETTING = 'OIDC_PROVIDER_VIEWS_PATH';

/**
 * "confirm-login.ejs line 3: identityServerUrl is not defined", from EJS's error text: blocks of
 * `file:line` and context, one per include level, then the message; the innermost block is last.
 */
function describeFailure(dir: string, file: string, err: Error): string {
  const blocks = err.message.split('\n\n');
  const located = blocks.length > 1 ? /^(.+):(\d+)\n/.exec(blocks.at(-2)!) : null;
  if (located) return `${relative(dir, located[1]!) || file} line ${located[2]}: ${blocks.at(-1)!.trim()}`;
  return `${file}: ${err.message.split('\n')[0]} (it does not compile)`;
}

/** Whether the page has a form posting to one of the interaction's confirm routes. */
function postsToConfirm(html: string, uid: string): boolean {
  return [...html.matchAll(/<form\b([^>]*)>/gi)].some(([, attrs = '']) => {
    const action = /\baction\s*=\s*["']?([^"'\s>]+)/i.exec(attrs)?.[1] ?? '';
    const method = /\bmethod\s*=\s*["']?(\w+)/i.exec(attrs)?.[1] ?? 'get';
    const path = action.replace(/^https?:\/\/[^/]+/i, '');
    return method.toLowerCase() === 'post' && (path === `/interaction/${uid}/confirm-login` || path === `/interaction/${uid}/confirm`);
  });
}

export function checkViewOverrides(dir: string, branding: Config['branding']): ViewCheck {
  const problems: string[] = [];
  const warnings: string[] = [];
  const common = sampleCommon(pageBranding(branding));
  const used = new Set<string>(OVERRIDABLE_VIEWS);
  let files: string[];
  try {
    files = readdirSync(dir).filter((name) => name.endsWith('.ejs')).sort();
  } catch (err) {
    return { problems: [`${SETTING}: cannot read "${dir}" (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`], warnings };
  }
  for (const file of files) {
    const view = basename(file, '.ejs');
    // Partials (`_name.ejs`) expect what their include passes; they are checked through it.
    if (view.startsWith('_') && view !== '_layout') continue;
    const sample = sampleConfirmLogin(common);
    const data = view === '_layout' ? { ...common, body: SAMPLE_BODY } : { ...sample, body: SAMPLE_BODY };
    let html: string;
    try {
      const path = join(dir, file);
      html = ejs.render(readFileSync(path, 'utf8'), data, { filename: path, async: false });
    } catch (err) {
      problems.push(`${SETTING}: ${describeFailure(dir, file, err as Error)} (docs/views.md lists what templates get)`);
      continue;
    }
    if (view === '_layout' && !html.includes(SAMPLE_BODY)) {
      problems.push(`${SETTING}: _layout.ejs never outputs the page: it needs <%- body %>`);
    }
    if (view === 'confirm-login' && !postsToConfirm(html, sample.uid)) {
      problems.push(
        `${SETTING}: confirm-login.ejs has no form that posts to /interaction/<%= uid %>/confirm-login (or /confirm): nobody could continue the sign-in`,
      );
    }
    if (!used.has(view)) warnings.push(`${SETTING}: ${file} is not used; this proxy takes only confirm-login.ejs and _layout.ejs from there`);
  }
  return { problems, warnings };
}
