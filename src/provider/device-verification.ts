// The device verification page (RFC 8628, /device) posts its form with an anti-CSRF secret kept
// in the browser's provider session. oidc-provider 9 answers such a post from a browser whose
// session it never stored (no cookie, or an expired one) with a 500: its error page touches that
// session and then fails to persist it. The form cannot be valid without the session, so the
// browser is sent to a fresh verification page instead.
import type { default as Provider, KoaContextWithOIDC } from 'oidc-provider';

const VERIFICATION_PATH = '/device';

export function restartStaleDeviceForms(provider: Provider): void {
  provider.use(async (ctx, next) => {
    if (ctx.method === 'POST' && ctx.path === VERIFICATION_PATH) {
      const session = await provider.Session.get(ctx as unknown as KoaContextWithOIDC);
      if (typeof session.exp !== 'number') {
        ctx.status = 303;
        ctx.set('Cache-Control', 'no-store');
        return ctx.redirect(VERIFICATION_PATH);
      }
    }
    await next();
  });
}
