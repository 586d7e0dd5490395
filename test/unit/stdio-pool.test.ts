// pool.ts on real processes with an injected clock: a user at their limit gets room from their own
// longest-idle process (clients rarely end their sessions), never from a busy one or someone else's.
import assert from 'node:assert/strict';
import { pino } from 'pino';
import type { StdioServersConfig } from '../../src/config/types.js';
import type { McpCaller } from '../../src/mcp/caller.js';
import { EVICTABLE_AFTER_MS, StdioServerPool } from '../../src/mcp/stdio/pool.js';
import { Problem } from '../../src/http/problems.js';
import { ProxyMetrics } from '../../src/telemetry/metrics.js';
import { until } from '../helpers/wait.js';

// A stdio "server" that reads and never answers: enough to be a process the pool runs.
const CONFIG: StdioServersConfig = {
  command: process.execPath,
  args: ['-e', 'process.stdin.resume()'],
  cwd: undefined,
  env: { PATH: process.env.PATH! },
  isolation: 'session',
  tokenEnv: undefined,
  maxProcesses: 3,
  maxProcessesPerUser: 2,
  idleTimeoutMs: 3_600_000,
  startTimeoutMs: 3_600_000,
  stopTimeoutMs: 2000,
};

const caller = (accountId: string): McpCaller => ({
  grantId: `grant-${accountId}`,
  clientId: 'client',
  accountId,
  email: undefined,
  groups: [],
  scope: 'openid',
  upstream: { accessToken: `token-${accountId}`, tokenType: 'Bearer' } as McpCaller['upstream'],
});

describe('stdio process pool: limits with idle processes', function () {
  this.timeout(20_000);
  let now = 1_000_000;
  let pool: StdioServerPool;

  beforeEach(() => {
    pool = new StdioServerPool(CONFIG, pino({ level: 'silent' }), new ProxyMetrics(), {
      now: () => now,
      clientInfo: { name: 'test', version: '0' },
      refreshSkewMs: 60_000,
    });
  });
  afterEach(async () => {
    await pool.close();
  });

  it('stops the user\'s longest-idle process to make room, only once it has been idle long enough', async () => {
    const first = pool.forSession(caller('alice'));
    now += 1000;
    pool.forSession(caller('alice'));
    const [firstPid] = pool.pids();
    // At her limit, nothing idle long enough: refused.
    assert.throws(() => pool.forSession(caller('alice')), (err: Problem) => err instanceof Problem && err.status === 429);
    now += EVICTABLE_AFTER_MS;
    pool.forSession(caller('alice'));
    assert.ok(first.ended?.includes('to make room for a new session of the same user'));
    await until(() => !pool.pids().includes(firstPid!), 'the idle process stops');
    assert.equal(pool.size, 2);
  });

  it('never makes room from a process with a request in flight, nor from another user\'s', () => {
    const busy = pool.forSession(caller('alice'));
    busy.attach({ deliver: () => {}, gone: () => {} }).receive({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'slow' } });
    pool.forSession(caller('bob'));
    pool.forSession(caller('alice'));
    now += EVICTABLE_AFTER_MS * 2;
    // alice: one busy, one idle: the idle one goes. bob is at no limit of his own.
    pool.forSession(caller('alice'));
    assert.equal(busy.ended, undefined);
    // Three run again (one stopping): the instance's limit refuses now, whoever is idle.
    assert.throws(() => pool.forSession(caller('carol')), (err: Problem) => err instanceof Problem && err.status === 503);
  });
});
