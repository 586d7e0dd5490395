// A minimal cookie-keeping user agent that plays the user's browser in end-to-end tests.
// Not a real browser: no JS, no Domain/SameSite logic; cookies are keyed by host:port (which is
// stricter than browsers, which share cookies across ports; tests use distinct cookie names anyway).
// It does apply the rules browsers apply to Secure cookies and to the `__Secure-` and `__Host-`
// name prefixes (RFC 6265bis 5.7), so a cookie a real browser would refuse breaks the flow here too.
import type { RouterHop } from './router-hop.js';

export interface Page {
  url: string;
  status: number;
  html: string;
  headers: Headers;
  /** Set when stopAt matched: the matched redirect Location, absolute. */
  redirectedTo?: string;
}

export interface SubmitOptions {
  actionIncludes?: string;
  fields?: Record<string, string>;
  button?: { name: string; value: string };
  stopAt?: (url: URL) => boolean;
}

interface Cookie {
  name: string;
  value: string;
  path: string;
  secure: boolean;
  expiresAt?: number; // epoch ms
}

export interface BrowserOptions {
  /** A TLS-terminating router in front of a plain-http listener (the proxy behind Heroku's router). */
  hop?: RouterHop;
}

const MAX_REDIRECTS = 20;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

export class Browser {
  private readonly jar = new Map<string, Map<string, Cookie>>(); // host:port -> "path\0name" -> cookie
  /** Every Set-Cookie header received, with the URL that sent it (as the browser saw it). */
  readonly setCookies: { url: string; line: string }[] = [];
  /** Every URL requested, in order, redirects included (tests look for codes and states in them). */
  readonly history: string[] = [];
  /** Cookies refused by the browser rules (Secure, prefixes), with the reason. */
  readonly refusedCookies: { url: string; line: string; reason: string }[] = [];

  constructor(private readonly options: BrowserOptions = {}) {}

  open(url: string, stopAt?: (url: URL) => boolean): Promise<Page> {
    return this.navigate(new URL(url), 'GET', undefined, stopAt);
  }

  submit(page: Page, opts: SubmitOptions = {}): Promise<Page> {
    const form = findForm(page.html, opts.actionIncludes);
    if (!form) throw new Error(`Browser.submit: no <form>${opts.actionIncludes ? ` with action containing "${opts.actionIncludes}"` : ''} in ${page.url}`);
    const params = new URLSearchParams();
    const values = new Map<string, string>(form.fields);
    if (opts.button) values.set(opts.button.name, opts.button.value);
    for (const [k, v] of Object.entries(opts.fields ?? {})) values.set(k, v);
    for (const [k, v] of values) params.append(k, v);

    const action = new URL(form.action || page.url, page.url);
    if (form.method === 'GET') {
      action.search = params.toString();
      return this.navigate(action, 'GET', undefined, opts.stopAt);
    }
    return this.navigate(action, 'POST', params.toString(), opts.stopAt);
  }

  cookieHeaderFor(url: string): string {
    const u = new URL(url);
    const now = Date.now();
    const jar = this.jar.get(u.host);
    if (!jar) return '';
    const out: string[] = [];
    for (const [key, c] of jar) {
      if (c.expiresAt !== undefined && c.expiresAt <= now) {
        jar.delete(key);
        continue;
      }
      if (c.secure && u.protocol !== 'https:') continue;
      if (pathMatches(u.pathname, c.path)) out.push(`${c.name}=${c.value}`);
    }
    return out.join('; ');
  }

  private async navigate(
    start: URL,
    startMethod: 'GET' | 'POST',
    startBody: string | undefined,
    stopAt?: (url: URL) => boolean,
  ): Promise<Page> {
    let url = start;
    let method = startMethod;
    let body = startBody;
    for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
      const headers: Record<string, string> = { accept: 'text/html,application/json;q=0.9,*/*;q=0.8' };
      const cookie = this.cookieHeaderFor(url.href);
      if (cookie) headers.cookie = cookie;
      if (body !== undefined) headers['content-type'] = 'application/x-www-form-urlencoded';
      this.history.push(url.href);
      const sent = this.options.hop?.route(url, headers) ?? { url, headers };
      const res = await fetch(sent.url, { method, headers: sent.headers, body, redirect: 'manual' });
      this.storeCookies(url, res.headers);
      const location = res.headers.get('location');
      if (REDIRECT_STATUSES.has(res.status) && location) {
        const next = new URL(location, url);
        if (stopAt?.(next)) {
          return { url: url.href, status: res.status, html: await res.text(), headers: res.headers, redirectedTo: next.href };
        }
        await res.body?.cancel();
        // 307/308 keep method and body; the others turn into GET (what browsers do).
        if (res.status !== 307 && res.status !== 308) {
          method = 'GET';
          body = undefined;
        }
        url = next;
        continue;
      }
      return { url: url.href, status: res.status, html: await res.text(), headers: res.headers };
    }
    throw new Error(`Browser: more than ${MAX_REDIRECTS} redirects starting at ${start.href}`);
  }

  private storeCookies(url: URL, headers: Headers): void {
    const jar = this.jar.get(url.host) ?? new Map<string, Cookie>();
    this.jar.set(url.host, jar);
    for (const line of headers.getSetCookie()) {
      this.setCookies.push({ url: url.href, line });
      const [pair = '', ...attrs] = line.split(';');
      const eq = pair.indexOf('=');
      if (eq <= 0) continue;
      const cookie: Cookie = { name: pair.slice(0, eq).trim(), value: pair.slice(eq + 1).trim(), path: defaultPath(url.pathname), secure: false };
      let explicitPath: string | undefined;
      let domain: string | undefined;
      for (const attr of attrs) {
        const i = attr.indexOf('=');
        const k = (i < 0 ? attr : attr.slice(0, i)).trim().toLowerCase();
        const v = i < 0 ? '' : attr.slice(i + 1).trim();
        if (k === 'path' && v.startsWith('/')) cookie.path = explicitPath = v;
        else if (k === 'secure') cookie.secure = true;
        else if (k === 'domain') domain = v;
        else if (k === 'max-age' && /^-?\d+$/.test(v)) cookie.expiresAt = Date.now() + Number(v) * 1000;
        else if (k === 'expires' && cookie.expiresAt === undefined) {
          const t = Date.parse(v);
          if (!Number.isNaN(t)) cookie.expiresAt = t;
        }
      }
      const refusal = refusalOf(cookie, url, explicitPath, domain);
      if (refusal) {
        this.refusedCookies.push({ url: url.href, line, reason: refusal });
        continue;
      }
      const key = `${cookie.path}\0${cookie.name}`;
      if (cookie.expiresAt !== undefined && cookie.expiresAt <= Date.now()) jar.delete(key);
      else jar.set(key, cookie);
    }
  }
}

/** Why a browser would ignore this cookie (RFC 6265bis 5.7 steps on Secure and the name prefixes). */
function refusalOf(cookie: Cookie, url: URL, explicitPath: string | undefined, domain: string | undefined): string | undefined {
  const secureOrigin = url.protocol === 'https:';
  if (cookie.secure && !secureOrigin) return 'Secure cookie from an insecure origin';
  const name = cookie.name.toLowerCase();
  if (name.startsWith('__secure-') && !(cookie.secure && secureOrigin)) return '__Secure- prefix without Secure';
  if (name.startsWith('__host-')) {
    if (!(cookie.secure && secureOrigin)) return '__Host- prefix without Secure';
    if (domain !== undefined) return '__Host- prefix with a Domain';
    if (explicitPath !== '/') return '__Host- prefix without Path=/';
  }
  return undefined;
}

// RFC 6265 5.1.4: the request path's "directory".
function defaultPath(p: string): string {
  const i = p.lastIndexOf('/');
  return i <= 0 ? '/' : p.slice(0, i);
}

function pathMatches(reqPath: string, cookiePath: string): boolean {
  if (reqPath === cookiePath) return true;
  if (!reqPath.startsWith(cookiePath)) return false;
  return cookiePath.endsWith('/') || reqPath[cookiePath.length] === '/';
}

interface ParsedForm {
  action: string;
  method: 'GET' | 'POST';
  fields: [string, string][];
}

function findForm(html: string, actionIncludes?: string): ParsedForm | undefined {
  for (const m of html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/gi)) {
    const attrs = parseAttrs(m[1] ?? '');
    const action = attrs.get('action') ?? '';
    if (actionIncludes !== undefined && !action.includes(actionIncludes)) continue;
    const inner = m[2] ?? '';
    const fields: [string, string][] = [];
    for (const im of inner.matchAll(/<input\b([^>]*)>/gi)) {
      const a = parseAttrs(im[1] ?? '');
      const name = a.get('name');
      const type = (a.get('type') ?? 'text').toLowerCase();
      if (!name || ['submit', 'button', 'image', 'reset', 'file'].includes(type)) continue;
      if ((type === 'checkbox' || type === 'radio') && !a.has('checked')) continue;
      fields.push([name, a.get('value') ?? (type === 'checkbox' ? 'on' : '')]);
    }
    for (const tm of inner.matchAll(/<textarea\b([^>]*)>([\s\S]*?)<\/textarea>/gi)) {
      const name = parseAttrs(tm[1] ?? '').get('name');
      if (name) fields.push([name, decodeEntities(tm[2] ?? '')]);
    }
    return { action, method: (attrs.get('method') ?? 'get').toUpperCase() === 'POST' ? 'POST' : 'GET', fields };
  }
  return undefined;
}

/** Attributes in any order, double/single/unquoted values, bare boolean attributes. */
function parseAttrs(s: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of s.matchAll(/([^\s=/>"']+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?/g)) {
    const name = (m[1] ?? '').toLowerCase();
    if (!out.has(name)) out.set(name, decodeEntities(m[2] ?? m[3] ?? m[4] ?? ''));
  }
  return out;
}

function decodeEntities(s: string): string {
  return s.replace(/&(#x[0-9a-f]+|#\d+|amp|quot|apos|lt|gt);/gi, (_, e: string) => {
    const lower = e.toLowerCase();
    if (lower.startsWith('#x')) return String.fromCodePoint(parseInt(lower.slice(2), 16));
    if (lower.startsWith('#')) return String.fromCodePoint(parseInt(lower.slice(1), 10));
    return ({ amp: '&', quot: '"', apos: "'", lt: '<', gt: '>' } as Record<string, string>)[lower] ?? _;
  });
}
