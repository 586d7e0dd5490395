// The MCP server supervisor on real child processes (small node scripts): restart with backoff,
// the exit policy, giving up, the backoff reset after a stable run, stop with SIGKILL after the
// bound, the child's own process group (and what it leaves behind), and no orphan on exit.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { pino } from 'pino';
import type { ChildProcessConfig } from '../../src/config/types.js';
import { portAccepts } from '../../src/mcp/child.js';
import { McpServerSupervisor, restartDelay, type SupervisorOptions } from '../../src/mcp/supervisor.js';
import { freePort } from '../helpers/ports.js';
import { isAlive } from '../helpers/processes.js';
import { until } from '../helpers/wait.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));



/** A server on PORT that appends its pid to PID_FILE; `before` runs first (it may exit). */
function serverScript(before = ''): string {
  return `
    const fs = require('node:fs');
    ${before}
    fs.appendFileSync(process.env.PID_FILE, process.pid + '\\n');
    require('node:http').createServer((req, res) => res.end('ok')).listen(Number(process.env.PORT), '127.0.0.1');
  `;
}

describe('MCP server supervisor', function () {
  this.timeout(20_000);
  let tmp: string;
  let logs: string[];
  let running: McpServerSupervisor[];

  beforeEach(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'mcp-supervisor-'));
    logs = [];
    running = [];
  });
  afterEach(async () => {
    await Promise.all(running.map((s) => s.stop()));
    await rm(tmp, { recursive: true, force: true });
  });

  const logger = () =>
    pino(
      { level: 'info', base: undefined },
      new Writable({
        write(chunk, _encoding, callback) {
          logs.push(...String(chunk).split('\n').filter(Boolean));
          callback();
        },
      }),
    );

  async function start(
    script: string,
    settings: Partial<Omit<ChildProcessConfig, 'restart'>> & { restart?: Partial<ChildProcessConfig['restart']> } = {},
    options: SupervisorOptions = {},
  ): Promise<{ supervisor: McpServerSupervisor; port: number; pidFile: string; pids: () => Promise<number[]> }> {
    const port = await freePort();
    const pidFile = join(tmp, 'pids');
    const config: ChildProcessConfig = {
      command: process.execPath,
      args: ['-e', script],
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', PORT: String(port), PID_FILE: pidFile, TMP_DIR: tmp },
      readyTimeoutMs: 5000,
      stopTimeoutMs: 2000,
      ...settings,
      restart: { policy: 'restart', initialDelayMs: 50, maxDelayMs: 1000, maxAttempts: 3, ...settings.restart },
    };
    const supervisor = await McpServerSupervisor.start(config, new URL(`http://127.0.0.1:${port}/mcp`), logger(), undefined, options);
    running.push(supervisor);
    const pids = async () => (await readFile(pidFile, 'utf8')).split('\n').filter(Boolean).map(Number);
    return { supervisor, port, pidFile, pids };
  }

  it('doubles the restart delay from the initial one up to the cap', () => {
    assert.deepEqual([1, 2, 3, 4, 5, 6, 7, 100].map((n) => restartDelay(n, 1000, 30_000)), [
      1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000,
    ]);
    assert.equal(restartDelay(1, 45_000, 45_000), 45_000);
  });

  it('restarts a crashed child after the backoff delay, and it serves again', async () => {
    const { supervisor, port, pids } = await start(serverScript(), { restart: { initialDelayMs: 300 } });
    assert.equal(supervisor.state, 'ready');
    assert.equal(await supervisor.check(), 'ready');
    const [first] = await pids();

    process.kill(first!, 'SIGKILL');
    await until(() => supervisor.state !== 'ready', 'the crash to be noticed');
    assert.equal(supervisor.state, 'restarting');
    assert.equal(supervisor.ready, false);
    assert.equal(await supervisor.check(), 'restarting');
    assert.equal(supervisor.retryAfterSeconds, 1);

    await until(() => supervisor.ready, 'the restart');
    const [, second] = await pids();
    assert.ok(second && second !== first && isAlive(second));
    assert.equal(await portAccepts('127.0.0.1', port), true);
    assert.equal(await supervisor.check(), 'ready');
    const restart = logs.map((l) => JSON.parse(l) as { msg: string; delayMs?: number; attempt?: number }).find((l) => l.msg === 'restarting the MCP server');
    assert.deepEqual({ attempt: restart?.attempt, delayMs: restart?.delayMs }, { attempt: 1, delayMs: 300 });
  });

  it('reports not_accepting when a ready child stops accepting connections', async () => {
    // Closes its listener on SIGUSR2 but keeps running.
    const script = `
      const server = require('node:http').createServer((req, res) => res.end()).listen(Number(process.env.PORT), '127.0.0.1');
      require('node:fs').appendFileSync(process.env.PID_FILE, process.pid + '\\n');
      process.on('SIGUSR2', () => server.close());
      setInterval(() => {}, 1000);
    `;
    const { supervisor, pids } = await start(script);
    const [pid] = await pids();
    process.kill(pid!, 'SIGUSR2');
    await until(async () => (await supervisor.check()) === 'not_accepting', 'the closed port to be seen');
  });

  it('with MCP_SERVER_RESTART=exit, gives up at the first crash', async () => {
    const { supervisor, pids } = await start(serverScript(), { restart: { policy: 'exit' } });
    const [pid] = await pids();
    process.kill(pid!, 'SIGKILL');
    const reason = await supervisor.failed;
    assert.equal(reason, 'the MCP server process was killed by SIGKILL (MCP_SERVER_RESTART=exit)');
    assert.equal(supervisor.state, 'failed');
    assert.equal((await pids()).length, 1, 'no restart');
  });

  it('gives up after MCP_SERVER_RESTART_MAX_ATTEMPTS restarts that fail', async () => {
    // The first run serves; every later one exits at once.
    const before = `if (fs.existsSync(process.env.PID_FILE)) { console.error('cannot start'); process.exit(3); }`;
    const { supervisor, pids } = await start(serverScript(before), { restart: { maxAttempts: 2, initialDelayMs: 20 } });
    const [pid] = await pids();
    process.kill(pid!, 'SIGTERM');

    assert.equal(
      await supervisor.failed,
      'the MCP server kept failing: giving up after 2 consecutive restarts (MCP_SERVER_RESTART_MAX_ATTEMPTS)',
    );
    const lines = logs.map((l) => JSON.parse(l) as { msg: string; level: number; message?: string });
    const failures = lines.filter((l) => l.msg === 'MCP server restart failed');
    assert.equal(failures.length, 2);
    assert.match(failures[0]!.message!, /^MCP_SERVER_RUN_COMMAND: the MCP server exited with code 3 before accepting connections$/);
    assert.ok(lines.some((l) => l.msg === 'MCP server supervision gave up' && l.level === 60));
    assert.ok(lines.some((l) => l.msg === 'cannot start'), 'the child output is logged');
  });

  it('starts the backoff anew once a restarted child stayed up for the stable period', async () => {
    let now = 1_000_000;
    const { supervisor, pids } = await start(serverScript(), { restart: { maxAttempts: 1, initialDelayMs: 20 } }, { stableMs: 300, now: () => now });
    process.kill((await pids())[0]!, 'SIGKILL');
    await until(async () => supervisor.ready && (await pids()).length === 2, 'the first restart');

    // Stable for longer than stableMs: the next crash is a first crash again, not a second attempt.
    now += 400;
    process.kill((await pids())[1]!, 'SIGKILL');
    await until(async () => supervisor.ready && (await pids()).length === 3, 'the second restart');
    assert.equal(supervisor.state, 'ready');
  });

  it('counts a crash soon after a restart as another attempt', async () => {
    let now = 1_000_000;
    const { supervisor, pids } = await start(serverScript(), { restart: { maxAttempts: 1, initialDelayMs: 20 } }, { stableMs: 300, now: () => now });
    process.kill((await pids())[0]!, 'SIGKILL');
    await until(async () => supervisor.ready && (await pids()).length === 2, 'the first restart');
    now += 299; // just short of the stable period
    process.kill((await pids())[1]!, 'SIGKILL');
    assert.match(await supervisor.failed, /giving up after 1 consecutive restarts/);
  });

  it('does not restart a child that exits while the proxy shuts down (Heroku signals it too)', async () => {
    const { supervisor, pids } = await start(serverScript(), { restart: { initialDelayMs: 20 } });
    supervisor.shuttingDown();
    assert.equal(supervisor.ready, true, 'it keeps serving the drain');
    process.kill((await pids())[0]!, 'SIGTERM');
    await until(() => supervisor.state === 'stopped', 'the exit to be seen');
    assert.equal(supervisor.restartPending, false, 'no restart is scheduled');
    assert.equal((await pids()).length, 1);
    assert.ok(logs.some((l) => l.includes('"msg":"MCP server process was killed by SIGTERM during shutdown"')));
    assert.ok(!logs.some((l) => l.includes('restarting the MCP server')));
  });

  it('cancels a pending restart when the proxy shuts down', async () => {
    const { supervisor, pids } = await start(serverScript(), { restart: { initialDelayMs: 150 } });
    process.kill((await pids())[0]!, 'SIGKILL');
    await until(() => supervisor.state === 'restarting', 'the crash to be seen');
    assert.equal(supervisor.restartPending, true);
    supervisor.shuttingDown();
    assert.equal(supervisor.state, 'stopped');
    assert.equal(supervisor.restartPending, false, 'the scheduled restart is cancelled');
    assert.equal((await pids()).length, 1, 'no restart after the shutdown began');
  });

  it('stop() sends SIGTERM, then SIGKILL after MCP_SERVER_STOP_TIMEOUT_MS to a child that ignores it', async () => {
    const { supervisor, pids } = await start(serverScript(`process.on('SIGTERM', () => console.log('ignoring SIGTERM'));`), {
      stopTimeoutMs: 300,
    });
    const [pid] = await pids();
    const started = Date.now();
    await supervisor.stop();
    assert.ok(Date.now() - started >= 290, 'SIGKILL came before the bound');
    assert.equal(isAlive(pid!), false);
    assert.ok(logs.some((l) => l.includes('ignoring SIGTERM')));
    assert.ok(logs.some((l) => l.includes('MCP server did not exit after SIGTERM: SIGKILL')));
    assert.equal(supervisor.state, 'stopped');
  });

  it('runs the child in its own process group, and stops what it started (a server under a wrapper)', async () => {
    // The leader starts a grandchild and records its pid, as npx would with the real server.
    const before = `
      const grandchild = require('node:child_process').spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
      fs.writeFileSync(process.env.TMP_DIR + '/grandchild', String(grandchild.pid));
    `;
    const { supervisor, pids } = await start(serverScript(before));
    const [leader] = await pids();
    const grandchild = Number(await readFile(join(tmp, 'grandchild'), 'utf8'));
    const pgid = async (pid: number) => Number((await promisify(execFile)('ps', ['-o', 'pgid=', '-p', String(pid)])).stdout.trim());
    assert.equal(await pgid(leader!), leader, 'the child leads its own process group');
    assert.equal(await pgid(grandchild), leader);
    assert.notEqual(await pgid(leader!), await pgid(process.pid));

    await supervisor.stop();
    assert.equal(isAlive(leader!), false);
    await until(() => !isAlive(grandchild), 'the grandchild to be stopped', 2000);
  });

  it('kills what a crashed child left behind before restarting it', async () => {
    const before = `
      const grandchild = require('node:child_process').spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
      fs.appendFileSync(process.env.TMP_DIR + '/grandchildren', grandchild.pid + '\\n');
    `;
    const { supervisor, pids } = await start(serverScript(before));
    const [leader] = await pids();
    const [grandchild] = (await readFile(join(tmp, 'grandchildren'), 'utf8')).split('\n').filter(Boolean).map(Number);
    process.kill(leader!, 'SIGKILL');
    await until(() => !isAlive(grandchild!), 'the orphaned grandchild to be killed', 2000);
    await until(() => supervisor.ready, 'the restart');
  });

  it('kills the child when the proxy process exits without stopping it', async () => {
    const port = await freePort();
    const pidFile = join(tmp, 'pids');
    const supervisorModule = new URL('../../src/mcp/supervisor.ts', import.meta.url).href;
    const program = `
      const { pino } = await import('pino');
      const { McpServerSupervisor } = await import(${JSON.stringify(supervisorModule)});
      await McpServerSupervisor.start({
        command: process.execPath, args: ['-e', ${JSON.stringify(serverScript())}], cwd: undefined,
        env: { PORT: '${port}', PID_FILE: ${JSON.stringify(pidFile)} },
        readyTimeoutMs: 5000, stopTimeoutMs: 1000,
        restart: { policy: 'restart', initialDelayMs: 50, maxDelayMs: 50, maxAttempts: 1 },
      }, new URL('http://127.0.0.1:${port}/mcp'), pino({ level: 'silent' }));
      process.exit(3);
    `;
    const result = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', program], { cwd: ROOT }).catch(
      (err: { code: number }) => err,
    );
    assert.equal((result as { code?: number }).code, 3);
    const [pid] = (await readFile(pidFile, 'utf8')).split('\n').filter(Boolean).map(Number);
    await until(() => !isAlive(pid!), 'the child to die with its parent', 2000);
  });
});
