// A minimal Chrome DevTools Protocol client for a process started with --inspect=127.0.0.1:0:
// just enough WebSocket (RFC 6455, client side) to send commands and read their results. Used
// to CPU-profile the proxy only while it is under load, and to read its heap after a forced GC.
// (No dependency: Node 20 has no WebSocket client without a flag, and `ws` is not installed.)
import { createHash, randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';

interface Pending {
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
}

export class InspectorSession {
  #socket: Socket;
  #nextId = 1;
  #pending = new Map<number, Pending>();
  #chunks: Buffer[] = [];
  #buffered = 0;
  #message: Buffer[] = [];
  #closed = false;

  private constructor(socket: Socket, rest: Buffer) {
    this.#socket = socket;
    socket.on('data', (data: Buffer) => this.#onData(data));
    socket.on('close', () => this.#fail(new Error('inspector connection closed')));
    socket.on('error', (err) => this.#fail(err));
    if (rest.length > 0) this.#onData(rest);
  }

  /** Connects to ws://host:port/path (as printed by "Debugger listening on ..."). */
  static open(wsUrl: string, timeoutMs = 10_000): Promise<InspectorSession> {
    const url = new URL(wsUrl);
    return new Promise((resolve, reject) => {
      const socket = connect({ host: url.hostname, port: Number(url.port) });
      const key = randomBytes(16).toString('base64');
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`inspector handshake timed out (${wsUrl})`));
      }, timeoutMs);
      let head = Buffer.alloc(0);
      const onData = (data: Buffer) => {
        head = Buffer.concat([head, data]);
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return;
        socket.off('data', onData);
        clearTimeout(timer);
        const response = head.subarray(0, end).toString('latin1');
        const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
        if (!/^HTTP\/1\.1 101/.test(response) || !response.toLowerCase().includes(accept.toLowerCase())) {
          socket.destroy();
          return reject(new Error(`inspector refused the WebSocket upgrade: ${response.split('\r\n')[0]}`));
        }
        resolve(new InspectorSession(socket, head.subarray(end + 4)));
      };
      socket.on('data', onData);
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      socket.once('connect', () => {
        socket.write(
          `GET ${url.pathname} HTTP/1.1\r\nHost: ${url.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
            `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
        );
      });
    });
  }

  /** Sends a CDP command and resolves with its result. */
  send<T = unknown>(method: string, params: Record<string, unknown> = {}, timeoutMs = 120_000): Promise<T> {
    if (this.#closed) return Promise.reject(new Error('inspector session is closed'));
    const id = this.#nextId++;
    this.#sendFrame(Buffer.from(JSON.stringify({ id, method, params }), 'utf8'));
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`${method}: no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v as T);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
    });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#sendFrame(Buffer.alloc(0), 0x8);
    } catch {
      // the socket is already gone
    }
    this.#socket.end();
    this.#socket.destroy();
  }

  #fail(err: Error): void {
    this.#closed = true;
    for (const p of this.#pending.values()) p.reject(err);
    this.#pending.clear();
  }

  #sendFrame(payload: Buffer, opcode = 0x1): void {
    const mask = randomBytes(4);
    const len = payload.length;
    const header = len < 126 ? Buffer.alloc(2) : len < 65_536 ? Buffer.alloc(4) : Buffer.alloc(10);
    header[0] = 0x80 | opcode; // FIN + opcode
    if (len < 126) header[1] = 0x80 | len;
    else if (len < 65_536) {
      header[1] = 0x80 | 126;
      header.writeUInt16BE(len, 2);
    } else {
      header[1] = 0x80 | 127;
      header.writeBigUInt64BE(BigInt(len), 2);
    }
    const masked = Buffer.alloc(len);
    for (let i = 0; i < len; i++) masked[i] = payload[i]! ^ mask[i & 3]!;
    this.#socket.write(Buffer.concat([header, mask, masked]));
  }

  #onData(data: Buffer): void {
    this.#chunks.push(data);
    this.#buffered += data.length;
    for (;;) {
      const buf = this.#peek(14);
      if (buf.length < 2) return;
      const fin = (buf[0]! & 0x80) !== 0;
      const opcode = buf[0]! & 0x0f;
      const masked = (buf[1]! & 0x80) !== 0;
      let len = buf[1]! & 0x7f;
      let offset = 2;
      if (len === 126) {
        if (buf.length < 4) return;
        len = buf.readUInt16BE(2);
        offset = 4;
      } else if (len === 127) {
        if (buf.length < 10) return;
        len = Number(buf.readBigUInt64BE(2));
        offset = 10;
      }
      const maskKey = masked ? buf.subarray(offset, offset + 4) : undefined;
      if (masked) offset += 4;
      if (this.#buffered < offset + len) return;
      const all = this.#take(offset + len);
      const payload = Buffer.from(all.subarray(offset));
      if (maskKey) for (let i = 0; i < payload.length; i++) payload[i] = payload[i]! ^ maskKey[i & 3]!;
      if (opcode === 0x8) return this.close();
      if (opcode === 0x9) {
        this.#sendFrame(payload, 0xa);
        continue;
      }
      if (opcode === 0xa) continue;
      this.#message.push(payload);
      if (fin) {
        const text = Buffer.concat(this.#message).toString('utf8');
        this.#message = [];
        this.#deliver(text);
      }
    }
  }

  /** The first n buffered bytes (or fewer), concatenating only as much as needed. */
  #peek(n: number): Buffer {
    if (this.#chunks.length === 0) return Buffer.alloc(0);
    if (this.#chunks[0]!.length >= n || this.#chunks.length === 1) return this.#chunks[0]!;
    const joined = Buffer.concat(this.#chunks);
    this.#chunks = [joined];
    return joined;
  }

  #take(n: number): Buffer {
    const joined = this.#chunks.length === 1 ? this.#chunks[0]! : Buffer.concat(this.#chunks);
    const out = joined.subarray(0, n);
    const rest = joined.subarray(n);
    this.#chunks = rest.length > 0 ? [rest] : [];
    this.#buffered = rest.length;
    return out;
  }

  #deliver(text: string): void {
    let msg: { id?: number; result?: unknown; error?: { message?: string } };
    try {
      msg = JSON.parse(text) as typeof msg;
    } catch {
      return;
    }
    if (msg.id === undefined) return; // an event
    const pending = this.#pending.get(msg.id);
    if (!pending) return;
    this.#pending.delete(msg.id);
    if (msg.error) pending.reject(new Error(msg.error.message ?? JSON.stringify(msg.error)));
    else pending.resolve(msg.result);
  }
}
