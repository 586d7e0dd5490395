// Sends this process's fetch requests for named hosts (login.microsoftonline.com …) to stand-ins
// on loopback, without any DNS lookup: Node's fetch (its bundled undici) is given an Agent whose
// connect() opens TLS to 127.0.0.1:<port> with the real name as servername, trusting the
// stand-in's certificate; every other host is connected as usual. For code that behaves
// differently on a provider's real origin (openid-client's Entra ID rules), in the test process
// only: child processes are not affected.
import net from 'node:net';
import tls from 'node:tls';

const GLOBAL_DISPATCHER = Symbol.for('undici.globalDispatcher.1');

interface ConnectOptions {
  hostname: string;
  host?: string;
  protocol: string;
  port: string;
  servername?: string;
}
type Connect = (options: ConnectOptions, callback: (err: Error | null, socket: net.Socket | null) => void) => void;
type AgentClass = new (options: { connect: Connect }) => { close(): Promise<void> };

/** Routes `hosts` (name -> loopback port) to stand-ins that present `ca`'s certificate; returns the undo. */
export async function mapHosts(hosts: Record<string, number>, ca: string): Promise<() => Promise<void>> {
  // The bundled Agent class, from the dispatcher fetch creates on first use.
  await fetch('http://127.0.0.1:9/').catch(() => undefined);
  const previous = (globalThis as Record<symbol, unknown>)[GLOBAL_DISPATCHER] as { constructor: AgentClass } | undefined;
  if (!previous) throw new Error('no global fetch dispatcher to take the Agent class from');
  const connect: Connect = (options, callback) => {
    const port = hosts[options.hostname];
    const https = options.protocol === 'https:';
    const socket =
      port !== undefined
        ? tls.connect({ host: '127.0.0.1', port, servername: options.hostname, ca, ALPNProtocols: ['http/1.1'] })
        : https
          ? tls.connect({ host: options.hostname, port: Number(options.port || 443), servername: options.servername ?? options.hostname, ALPNProtocols: ['http/1.1'] })
          : net.connect({ host: options.hostname, port: Number(options.port || 80) });
    let done = false;
    const finish = (err: Error | null) => {
      if (done) return;
      done = true;
      callback(err, err ? null : socket);
    };
    socket.once(https || port !== undefined ? 'secureConnect' : 'connect', () => finish(null));
    socket.once('error', (err) => finish(err));
  };
  const agent = new previous.constructor({ connect });
  (globalThis as Record<symbol, unknown>)[GLOBAL_DISPATCHER] = agent;
  return async () => {
    (globalThis as Record<symbol, unknown>)[GLOBAL_DISPATCHER] = previous;
    await agent.close();
  };
}
