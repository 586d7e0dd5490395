// The TLS-terminating router in front of the proxy (Heroku's router): the world sees an https
// origin, the proxy listens on plain http and learns the scheme from X-Forwarded-Proto. Test
// clients send their requests for the public origin through route() to reach the listener.

export class RouterHop {
  /**
   * @param publicOrigin what browsers and clients see, e.g. https://127.0.0.1:4321
   * @param listenOrigin where the proxy listens, e.g. http://127.0.0.1:4321
   */
  constructor(
    readonly publicOrigin: string,
    readonly listenOrigin: string,
  ) {}

  /** The request as the router forwards it, or undefined when it is not for the public origin. */
  route(url: URL, headers: Record<string, string>): { url: URL; headers: Record<string, string> } | undefined {
    if (url.origin !== this.publicOrigin) return undefined;
    return {
      url: new URL(`${url.pathname}${url.search}`, this.listenOrigin),
      headers: { ...headers, 'x-forwarded-proto': 'https', 'x-forwarded-for': '127.0.0.1' },
    };
  }

  /** fetch() as a client on the internet would call the public origin. */
  fetch(input: string | URL, init: RequestInit = {}): Promise<Response> {
    const url = new URL(input);
    const headers = Object.fromEntries(new Headers(init.headers).entries());
    const routed = this.route(url, headers) ?? { url, headers };
    return fetch(routed.url, { ...init, headers: routed.headers });
  }
}
