// stdio/process.ts on real child processes: framing through the SDK's ReadBuffer, stderr in our
// logs line by line with secrets redacted, stdout noise skipped without being quoted, the process
// group stopped.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { redactLine, StdioServerProcess } from '../../src/mcp/stdio/process.js';
import { until } from '../helpers/wait.js';

const SECRET = 'gho_s3cretUpstreamToken0123456789';

function logSink() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _encoding, callback) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
      callback();
    },
  });
  return { lines, logger: pino({ level: 'info' }, stream) };
}

/** A stdio "server" that echoes each request's id back, prints the token to stderr, and noise to stdout. */
const SCRIPT = `
process.stderr.write('starting with ' + process.env.TOKEN + '\\nAuthorization: Bearer abcdefghijklmnop\\n');
process.stdout.write('not json at all\\n');
let buffer = '';
process.stdin.on('data', (chunk) => {
  buffer += chunk;
  let i;
  while ((i = buffer.indexOf('\\n')) >= 0) {
    const message = JSON.parse(buffer.slice(0, i));
    buffer = buffer.slice(i + 1);
    process.stdout.write(JSON.stringify({ jsonrpc: '2.0', id: message.id, result: { echoed: message.method } }) + '\\n');
  }
});
process.stdin.on('end', () => process.exit(0));
`;

describe('stdio server process', function () {
  this.timeout(20_000);

  it('frames messages both ways, logs stderr redacted, skips stdout noise without quoting it', async () => {
    const { lines, logger } = logSink();
    const server = new StdioServerProcess({
      command: process.execPath,
      args: ['-e', SCRIPT],
      cwd: undefined,
      env: { PATH: process.env.PATH!, TOKEN: SECRET },
      stopTimeoutMs: 2000,
      secrets: [SECRET],
      log: logger,
    });
    const received: JSONRPCMessage[] = [];
    server.onmessage = (m) => received.push(m);
    server.send({ jsonrpc: '2.0', id: 1, method: 'ping' });
    await until(() => received.length === 1, 'the answer');
    assert.deepEqual(received[0], { jsonrpc: '2.0', id: 1, result: { echoed: 'ping' } });
    await until(() => lines.filter((l) => l.stream === 'stderr').length === 2, 'both stderr lines');
    const text = JSON.stringify(lines);
    assert.ok(!text.includes(SECRET), 'the token reached the log');
    assert.ok(!text.includes('abcdefghijklmnop'), 'a bearer token reached the log');
    assert.ok(lines.some((l) => l.msg === 'starting with [redacted]'));
    assert.ok(!text.includes('not json at all'));
    assert.ok(lines.some((l) => /not a JSON-RPC message/.test(String(l.msg))));
    await server.stop();
    assert.equal(server.alive, false);
  });

  it('redacts every secret and bearer-like value in a line, and cuts long lines', () => {
    assert.equal(redactLine(`a ${SECRET} b ${SECRET}`, [SECRET]), 'a [redacted] b [redacted]');
    assert.equal(redactLine('token=abcdefgh12345678 next', []), 'token= [redacted] next');
    assert.equal(redactLine('short secret abc', ['abc']), 'short secret abc', 'a short value would redact ordinary words');
    assert.equal(redactLine('x'.repeat(5000), []).length, 4097);
  });
});
