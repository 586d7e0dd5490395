// The least a Node reverse proxy can do: no auth, no logging, no framework; a keep-alive agent
// and two pipes. `bench/run.ts --baseline` runs it (in its own process) next to the real proxy
// to show what proxying alone costs on this machine.
//   PORT=8080 TARGET=http://127.0.0.1:3000 node --import tsx bench/minimal-proxy.ts
import http from 'node:http';

const port = Number(process.env.PORT);
const target = new URL(process.env.TARGET ?? '');
if (!Number.isInteger(port) || port <= 0 || !target.port) throw new Error('minimal-proxy: PORT and TARGET (with a port) are required');

const agent = new http.Agent({ keepAlive: true });
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'host']);

function strip(headers: http.IncomingHttpHeaders): http.OutgoingHttpHeaders {
  const out: http.OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value;
  return out;
}

const server = http.createServer((req, res) => {
  const upstream = http.request(
    { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: strip(req.headers), agent },
    (upRes) => {
      res.writeHead(upRes.statusCode ?? 502, strip(upRes.headers));
      upRes.pipe(res);
    },
  );
  upstream.on('error', () => {
    if (!res.headersSent) res.writeHead(502).end();
    else res.destroy();
  });
  res.on('close', () => {
    if (!res.writableFinished) upstream.destroy();
  });
  req.pipe(upstream);
});
server.keepAliveTimeout = 65_000;
server.listen(port, '127.0.0.1');
process.once('SIGTERM', () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
});
