// One stdio MCP server process: spawned in its own process group (process-group.ts), speaking
// newline-delimited JSON-RPC on stdin and stdout through the MCP SDK's own framing (ReadBuffer,
// serializeMessage), its stderr logged line by line with the secrets it was given redacted.
// The SDK's StdioClientTransport is not used: it cannot put the server in a process group of its
// own (a server under npx or uvx would outlive it), and it does not say how the process ended.
import { createInterface } from 'node:readline';
import type { Logger } from 'pino';
import { ReadBuffer, serializeMessage } from '@modelcontextprotocol/sdk/shared/stdio.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { describeExit, spawnProcessGroup, type ChildExit, type ProcessGroup } from '../process-group.js';

/** A stderr line longer than this is cut in the log. */
const MAX_LOGGED_LINE = 4096;

export interface StdioProcessOptions {
  command: string;
  args: string[];
  cwd: string | undefined;
  env: Record<string, string>;
  stopTimeoutMs: number;
  /** Values never to appear in our logs (the user's token given in the environment). */
  secrets: string[];
  log: Logger;
}

/** `text` with each secret, and whatever follows "Bearer", replaced. */
export function redactLine(text: string, secrets: readonly string[]): string {
  let line = text.length > MAX_LOGGED_LINE ? `${text.slice(0, MAX_LOGGED_LINE)}…` : text;
  for (const secret of secrets) if (secret.length >= 8) line = line.split(secret).join('[redacted]');
  return line.replace(/\b(Bearer|token[=:])\s*[A-Za-z0-9._~+/=-]{8,}/gi, '$1 [redacted]');
}

export class StdioServerProcess {
  /** Each JSON-RPC message the server writes. */
  onmessage: ((message: JSONRPCMessage) => void) | undefined;
  readonly #group: ProcessGroup;
  readonly #buffer = new ReadBuffer();
  readonly #log: Logger;

  constructor(options: StdioProcessOptions) {
    this.#group = spawnProcessGroup({ ...options, stdin: 'pipe' });
    this.#log = options.log.child({ pid: this.#group.pid });
    const { child } = this.#group;
    child.stdout!.on('data', (chunk: Buffer) => this.#read(chunk));
    createInterface({ input: child.stderr! }).on('line', (line) => this.#log.info({ stream: 'stderr' }, redactLine(line, options.secrets)));
    // A write after the process is gone (EPIPE) is reported by its exit, not here.
    child.stdin!.on('error', () => {});
    void this.#group.exited.then((exit) => {
      if (!this.#group.stopping) this.#log.warn({ exit: describeExit(exit) }, 'stdio MCP server process ended');
    });
  }

  get pid(): number | undefined {
    return this.#group.pid;
  }

  /** Settles when the process has exited, for whatever reason. */
  get exited(): Promise<ChildExit> {
    return this.#group.exited;
  }

  get alive(): boolean {
    return this.#group.exit === undefined;
  }

  /** Whether stop() was called: its exit is then expected. */
  get stopping(): boolean {
    return this.#group.stopping;
  }

  send(message: JSONRPCMessage): void {
    const stdin = this.#group.child.stdin;
    if (!stdin || stdin.destroyed || !this.alive) return;
    stdin.write(serializeMessage(message));
  }

  stop(): Promise<void> {
    return this.#group.stop();
  }

  #read(chunk: Buffer): void {
    try {
      this.#buffer.append(chunk);
    } catch (err) {
      // One message over the SDK's 10 MB: the stream cannot be resynchronized.
      this.#log.error({ message: (err as Error).message }, 'stdio MCP server wrote an oversized message: stopping it');
      void this.stop();
      return;
    }
    for (;;) {
      let message: JSONRPCMessage | null;
      try {
        message = this.#buffer.readMessage();
      } catch {
        // A line that is not JSON-RPC (a server logging to stdout): skipped, never quoted.
        this.#log.warn('stdio MCP server wrote a line to stdout that is not a JSON-RPC message (servers must log to stderr)');
        continue;
      }
      if (message === null) return;
      this.onmessage?.(message);
    }
  }
}
