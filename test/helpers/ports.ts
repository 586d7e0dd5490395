import { createConnection, createServer } from 'node:net';

/** Asks the kernel for a free loopback port (listen on :0, read it, close). */
export async function freePort(): Promise<number> {
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
