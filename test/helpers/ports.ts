import { createConnection, createServer } from 'node:net';

/**
 * Ports this process has handed out: the kernel may offer a port again as soon as the probe closes
 * it, before the caller listens there, so two calls in a row (a proxy's port and its MCP server's)
 * could get the same one. Never twice per process.
 */
const handedOut = new Set<number>();

/** Asks the kernel for a free loopback port (listen on :0, read it, close), never one handed out before. */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await probePort();
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    return port;
  }
  throw new Error('freePort: the kernel keeps offering ports already handed out');
}

function probePort(): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      if (addr === null || typeof addr === 'string') {
        srv.close();
        reject(new Error('freePort: unexpected server address'));
        return;
      }
      srv.close((err) => (err ? reject(err) : resolve(addr.port)));
    });
  });
}

/** A free loopback port followed by `count - 1` more free ones (for programs that use PORT, PORT+1 …). */
export async function freePortRun(count: number): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const first = await freePort();
    if (first + count - 1 > 65535) continue;
    let free = true;
    for (let port = first + 1; free && port < first + count; port++) free = await canListen(port);
    if (free) return first;
  }
  throw new Error(`freePortRun: no run of ${count} free ports found`);
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** Resolves once host:port accepts a TCP connection; polls every 25ms (no fixed sleeps elsewhere). */
export async function waitForPort(port: number, host = '127.0.0.1', timeoutMs = 10000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      await tryConnect(port, host);
      return;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const reason = lastError instanceof Error ? lastError.message : String(lastError);
      throw new Error(`waitForPort: ${host}:${port} not accepting connections after ${timeoutMs}ms (${reason})`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}

function tryConnect(port: number, host: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const socket = createConnection({ port, host });
    socket.once('connect', () => {
      socket.destroy();
      resolve();
    });
    socket.once('error', (err) => {
      socket.destroy();
      reject(err);
    });
  });
}
