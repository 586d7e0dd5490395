import assert from 'node:assert/strict';
import type { default as Provider, KoaContextWithOIDC } from 'oidc-provider';
import { guardAuthorizationResponses, type PageContext } from '../../src/provider/authorization-responses.js';

type Middleware = (ctx: KoaContextWithOIDC, next: () => Promise<void>) => Promise<void>;

/** The middleware guardAuthorizationResponses installs, and what it rendered. */
function install(): { run: (ctx: Partial<KoaContextWithOIDC>, provider: (ctx: KoaContextWithOIDC) => void) => Promise<KoaContextWithOIDC>; rendered: string[] } {
  let middleware: Middleware | undefined;
  const rendered: string[] = [];
  const provider = { issuer: 'https://proxy.example', use: (fn: Middleware) => (middleware = fn) } as unknown as Provider;
  guardAuthorizationResponses(provider, async (ctx: PageContext, view) => {
    rendered.push(view);
    ctx.body = `<p>${view}</p>`;
  });
  return {
    rendered,
    async run(partial, answer) {
      const headers = new Map<string, string>();
      const ctx = {
        method: 'GET',
        path: '/auth/uid-1',
        query: {},
        status: 200,
        res: { locals: {} },
        set: (k: string, v: string) => headers.set(k.toLowerCase(), v),
        remove: (k: string) => headers.delete(k.toLowerCase()),
        response: { get: (k: string) => headers.get(k.toLowerCase()) ?? '' },
        ...partial,
      } as unknown as KoaContextWithOIDC;
      await middleware!(ctx, async () => answer(ctx));
      return ctx;
    },
  };
}

describe('authorization response modes', () => {
  it('replaces any answer to a request resolved to another mode than query, however it arrived', async () => {
    for (const mode of ['form_post', 'fragment', 'web_message']) {
      const { run, rendered } = install();
      const ctx = await run({}, (c) => {
        Object.assign(c, { oidc: { route: 'resume', params: { response_mode: mode } } });
        c.body = '<form method="post" action="https://evil.example/cb"><input name="error" value="login_required"></form>';
      });
      assert.equal(ctx.status, 400, mode);
      assert.deepEqual(rendered, ['error'], mode);
      assert.doesNotMatch(String(ctx.body), /evil/, mode);
    }
  });

  it('lets query answers through, and outcomes at resumption go to the client', async () => {
    const { run, rendered } = install();
    const ctx = await run({}, (c) => {
      Object.assign(c, { oidc: { route: 'resume', params: {} } });
      c.status = 303;
      c.set('Location', 'https://client.example/cb?error=access_denied');
    });
    assert.equal(ctx.status, 303);
    assert.deepEqual(rendered, []);
  });
});
