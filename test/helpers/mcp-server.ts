// The MCP server fixture as a process of its own (not a proxy's child), e.g. one MCP server that
// several proxy instances reach.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freePort, waitForPort } from './ports.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface McpServerProcess {
  port: number;
  /** Its MCP endpoint, e.g. http://127.0.0.1:1234/mcp. */
  url: string;
  stop(): Promise<void>;
}

/** Starts test/fixtures/mcp-server.ts with `env` (MCP_FIXTURE_*); resolves once it listens. */
export async function startMcpServer(env: Record<string, string> = {}): Promise<McpServerProcess> {
  const port = await freePort();
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/mcp-server.ts'], {
    cwd: ROOT,
    env: { ...process.env, ...env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.once('error', () => resolve());
  });
  const early = exited.then(() => {
    throw new Error(`the MCP server fixture exited early: ${output}`);
  });
  try {
    await Promise.race([waitForPort(port), early]);
  } catch (err) {
    child.kill('SIGKILL');
    await exited;
    throw err;
  }
  early.catch(() => {}); // the exit on stop() is expected
  return {
    port,
    url: `http://127.0.0.1:${port}/mcp`,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
