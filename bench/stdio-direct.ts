// A stdio MCP server without the proxy: spawned here and spoken to over its stdin and stdout with
// the MCP SDK's own framing (as the proxy does), so that what the proxy adds to a session's start
// and to each call can be told from what the server itself takes.
import { spawn, type ChildProcess } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { ReadBuffer, serializeMessage } from '@modelcontextprotocol/sdk/shared/stdio.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { baseEnvironment } from '../test/helpers/processes.js';
import { sleep } from './stats.js';

type Params = Record<string, unknown>;

export class DirectStdioServer {
  readonly #proc: ChildProcess;
  readonly #buffer = new ReadBuffer();
  readonly #waiting = new Map<number, (message: JSONRPCMessage) => void>();
  readonly #exited: Promise<void>;
  #nextId = 1;
  #gone = false;

  constructor(command: string, args: string[]) {
    // Only what a program needs to run, as the proxy gives its stdio servers.
    this.#proc = spawn(command, args, { env: baseEnvironment(), stdio: ['pipe', 'pipe', 'ignore'] });
    this.#exited = new Promise((resolve) => this.#proc.once('close', () => resolve()));
    // A server that dies answers every waiting request with an error, instead of leaving the load hanging.
    void this.#exited.then(() => {
      this.#gone = true;
      for (const [id, answer] of this.#waiting) answer({ jsonrpc: '2.0', id, error: { code: -32000, message: 'the stdio server exited' } });
      this.#waiting.clear();
    });
    this.#proc.stdout!.on('data', (chunk: Buffer) => this.#read(chunk));
    this.#proc.stdin!.on('error', () => {});
  }

  get pid(): number | undefined {
    return this.#proc.pid;
  }

  /** One request; resolves with the server's response (result or error). */
  request(method: string, params: Params): Promise<JSONRPCMessage> {
    const id = this.#nextId++;
    if (this.#gone) return Promise.resolve({ jsonrpc: '2.0', id, error: { code: -32000, message: 'the stdio server exited' } });
    const answered = new Promise<JSONRPCMessage>((resolve) => this.#waiting.set(id, resolve));
    this.#proc.stdin!.write(serializeMessage({ jsonrpc: '2.0', id, method, params }));
    return answered;
  }

  notify(method: string): void {
    this.#proc.stdin!.write(serializeMessage({ jsonrpc: '2.0', method }));
  }

  /** SIGTERM, SIGKILL after 5 s; resolves once it has exited. */
  async stop(): Promise<void> {
    if (this.#proc.exitCode === null && this.#proc.signalCode === null) this.#proc.kill('SIGTERM');
    await Promise.race([this.#exited, sleep(5000).then(() => this.#proc.kill('SIGKILL'))]);
    await this.#exited;
  }

  #read(chunk: Buffer): void {
    this.#buffer.append(chunk);
    for (let message = this.#buffer.readMessage(); message !== null; message = this.#buffer.readMessage()) {
      const id = 'id' in message && typeof message.id === 'number' ? message.id : undefined;
      // Requests and notifications from the server (none for echo) are not for us to answer.
      if (id === undefined || 'method' in message) continue;
      this.#waiting.get(id)?.(message);
      this.#waiting.delete(id);
    }
  }
}

/** Spawns the server and initializes it; `ms` is spawn to the initialize answer, what a proxied session waits for too. */
export async function startDirect(command: string, args: string[], initializeParams: Params): Promise<{ server: DirectStdioServer; ms: number }> {
  const t0 = performance.now();
  const server = new DirectStdioServer(command, args);
  const answer = await server.request('initialize', initializeParams);
  const ms = performance.now() - t0;
  if (!('result' in answer)) {
    await server.stop();
    throw new Error(`the stdio server refused initialize: ${JSON.stringify(answer).slice(0, 300)}`);
  }
  server.notify('notifications/initialized');
  return { server, ms };
}

export interface DirectLoad {
  /** Response times (ms) of the successful calls, ascending. */
  latencies: Float64Array;
  ok: number;
  errors: number;
  /** Seconds. */
  elapsed: number;
}

/** `connections` callers, each with one call in flight at a time, for `seconds` (as autocannon does over HTTP). */
export async function loadDirect(server: DirectStdioServer, connections: number, seconds: number, method: string, params: Params): Promise<DirectLoad> {
  const latencies: number[] = [];
  let errors = 0;
  const started = performance.now();
  const until = started + seconds * 1000;
  const caller = async () => {
    while (performance.now() < until) {
      const t0 = performance.now();
      const answer = await server.request(method, params);
      if ('result' in answer) latencies.push(performance.now() - t0);
      else errors++;
    }
  };
  await Promise.all(Array.from({ length: connections }, caller));
  return { latencies: Float64Array.from(latencies).sort(), ok: latencies.length, errors, elapsed: (performance.now() - started) / 1000 };
}
