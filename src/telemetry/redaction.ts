// What spans may say about a request. Query strings carry authorization codes, states and user
// codes, and Redis keys carry token ids (an opaque token's id is the token): spans keep the
// query's parameter names and the key's kind, never their values.
export const REDACTED = 'REDACTED';

/** `a=1&b=2` → `a=REDACTED&b=REDACTED`; a bare value (`?abc`) goes entirely. */
export function redactQuery(query: string): string {
  if (query === '') return query;
  return query
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      return eq < 0 ? REDACTED : `${pair.slice(0, eq)}=${REDACTED}`;
    })
    .join('&');
}

/**
 * Sign-in ids in paths (`/interaction/<uid>`, `/auth/<uid>`, `/device/<uid>`): each is also the
 * value of that sign-in's cookies. Fixed routes (`/interaction/identity/…`, `/device/auth`) stay.
 */
const SIGN_IN_ID = /\/(interaction|auth|device)\/(?!identity(?:[/?#]|$)|auth(?:[?#]|$))[^/?#]+/g;

/** A path (or URL) with its sign-in ids replaced by `:uid`. */
export const maskSignInIds = (path: string): string => path.replace(SIGN_IN_ID, '/$1/:uid');

/** A path or URL with its query values redacted, its sign-in ids masked and its fragment dropped. */
export function redactUrl(url: string): string {
  const hash = url.indexOf('#');
  const withoutFragment = maskSignInIds(hash < 0 ? url : url.slice(0, hash));
  const question = withoutFragment.indexOf('?');
  if (question < 0) return withoutFragment;
  return `${withoutFragment.slice(0, question)}?${redactQuery(withoutFragment.slice(question + 1))}`;
}

// Attributes that hold a URL or its query, whatever instrumentation (or semantic convention
// version) set them.
const URL_ATTRIBUTES = ['url.full', 'http.url', 'http.target', 'url.path'];

/** The part of a span redactSpanUrls needs (structural: no SDK type is imported here). */
export interface MutableSpan {
  readonly attributes: Readonly<Record<string, unknown>>;
  setAttribute(key: string, value: string): unknown;
}

/** Redacts the query values and sign-in ids of a span's URL attributes (idempotent). */
export function redactSpanUrls(span: MutableSpan): void {
  for (const key of URL_ATTRIBUTES) {
    const value = span.attributes[key];
    if (typeof value !== 'string') continue;
    const redacted = redactUrl(value);
    if (redacted !== value) span.setAttribute(key, redacted);
  }
  const query = span.attributes['url.query'];
  if (typeof query === 'string' && query !== '') {
    span.setAttribute('url.query', query.startsWith('?') ? `?${redactQuery(query.slice(1))}` : redactQuery(query));
  }
}

const KEY_KIND = /^[A-Za-z][\w.-]{0,40}$/;

/**
 * `db.query.text` of a Redis command: its name and the kind of key it touches
 * (`get AccessToken:*`), without the key's id or any argument.
 */
export function redisStatement(prefix: string) {
  return (command: string, args: unknown[]): string => {
    const first = args[0];
    if (typeof first !== 'string' && !Buffer.isBuffer(first)) return command;
    let key = String(first);
    if (key.startsWith(prefix)) key = key.slice(prefix.length);
    const colon = key.indexOf(':');
    const kind = colon < 0 ? '' : key.slice(0, colon);
    return `${command} ${KEY_KIND.test(kind) ? `${kind}:*` : '*'}`;
  };
}
