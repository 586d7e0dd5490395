// Anti-CSRF tokens for the forms of a sign-in (confirm, cancel, return to the client). Every page
// gets its own token, valid until the sign-in ends, so two tabs on one sign-in and a double click
// both work, and a wrong token spends nothing. Templates do not carry the token themselves: it is
// added to every form of the page that posts to the sign-in's own routes, so an operator's
// template (OIDC_PROVIDER_VIEWS_PATH, Heroku's among them) is protected without knowing of it.
import { createHash, randomBytes } from 'node:crypto';
import type { KeyValueStore } from '../storage/store.js';
import { keys } from '../storage/keys.js';

/** As long as the interaction itself (oidc-provider's Interaction TTL). */
const TTL_SECONDS = 600;
export const CSRF_FIELD = 'csrf';

// The token is never stored as such: keys can reach logs, and a key names its token's digest only.
const digest = (token: string): string => createHash('sha256').update(token).digest('base64url');

const FORM_TAG = /<form\b[^>]*>/gi;
const attribute = (tag: string, name: string): string | undefined =>
  new RegExp(`\\s${name}\\s*=\\s*(?:"([^"]*)"|'([^']*)'|([^\\s"'>]+))`, 'i').exec(tag)?.slice(1).find((v) => v !== undefined);

export class CsrfTokens {
  constructor(private readonly store: KeyValueStore) {}

  async issue(uid: string): Promise<string> {
    const token = randomBytes(24).toString('base64url');
    await this.store.set(keys.formToken(uid, digest(token)), '1', TTL_SECONDS);
    return token;
  }

  /** Whether `presented` is a token issued for this interaction (it stays valid). */
  async verify(uid: string, presented: unknown): Promise<boolean> {
    if (typeof presented !== 'string' || !/^[A-Za-z0-9_-]{32}$/.test(presented)) return false;
    return (await this.store.get(keys.formToken(uid, digest(presented)))) !== undefined;
  }

  /**
   * Adds a fresh token to every form of the page that posts to `/interaction/<uid>/…` (relative or
   * on `origin`); other forms (oidc-provider's own, with their own protection) are left alone.
   */
  async protect(html: string, uid: string, origin: string): Promise<string> {
    const prefix = `/interaction/${uid}/`;
    const ours = (tag: string): boolean => {
      const action = (attribute(tag, 'action') ?? '').replace(/&amp;/g, '&');
      const path = action.startsWith(origin) ? action.slice(origin.length) : action;
      return (attribute(tag, 'method') ?? 'get').toLowerCase() === 'post' && path.startsWith(prefix);
    };
    if (![...html.matchAll(FORM_TAG)].some(([tag]) => ours(tag))) return html;
    const field = `<input type="hidden" name="${CSRF_FIELD}" value="${await this.issue(uid)}">`;
    return html.replace(FORM_TAG, (tag) => (ours(tag) ? `${tag}${field}` : tag));
  }
}
