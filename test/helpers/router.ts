// A front router, as Heroku's is in front of several dynos: one public address, each request
// sent to the instance chosen at that moment (a new connection upstream for every request), with
// streamed bodies both ways. Tests switch the instance to move a client between proxies.
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { once } from 'node:events';

export interface Routed {
  backend: number;
  method: string;
  path: string;
}

export interface FrontRouter {
  /** Public origin, e.g. http://127.0.0.1:1234 (the proxies' BASE_URL). */
  url: string;
  /** Sends the next requests to backends[index]. */
  use(index: number): void;
  /** Every request routed so far. */
  readonly routed: Routed[];
  stop(): Promise<void>;
}

/** `port`: listen there (chosen before the proxies start, as their BASE_URL needs it). */
export async function startRouter(port: number, backends: () => string[]): Promise<FrontRouter> {
  let current = 0;
  const routed: Routed[] = [];
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const backend = current;
    const target = new URL(backends()[backend]!);
    routed.push({ backend, method: req.method ?? 'GET', path: (req.url ?? '/').split('?')[0]! });
    const upstream = request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers, agent: false },
      (upstreamRes) => {
        res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.headers);
        res.flushHeaders();
        upstreamRes.pipe(res);
        upstreamRes.on('error', () => res.destroy());
      },
    );
    upstream.on('error', () => (res.headersSent ? res.destroy() : res.writeHead(502).end()));
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    req.pipe(upstream);
  });
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${port}`,
    use(index) {
      current = index;
    },
    routed,
    async stop() {
      const closed = new Promise((resolve) => server.close(resolve));
      server.closeAllConnections();
      await closed;
    },
  };
}
