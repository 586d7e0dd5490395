import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createLogger, errorSerializer, throttledLogger } from '../../src/logging.js';

const SECRET = 'qK3v9xT2b7LmN4pR8sW1yZ6cF0hJ5dGa';

/** A logger whose lines land in `lines` (parsed). */
function capture(): { logger: ReturnType<typeof createLogger>; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk, _encoding, callback) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
      callback();
    },
  });
  return { logger: createLogger({ production: true, logLevel: 'info' }, sink), lines };
}

describe('log redaction', () => {
  it('keeps only what describes an error, at any depth, and masks stored keys in its text', () => {
    // As ioredis rejects a transaction: the failed commands, with their arguments, twice over.
    const command = { name: 'set', args: [`oidc:RefreshToken:${SECRET}`, `{"jti":"${SECRET}"}`] };
    const inner = Object.assign(new Error(`NOPERM this user has no permissions to access 'oidc:RefreshToken:${SECRET}'`), { command });
    const err = Object.assign(new Error('EXECABORT Transaction discarded because of previous errors.'), {
      command: { name: 'exec', args: [] },
      previousErrors: [inner],
      options: { headers: { authorization: `Bearer ${SECRET}` } },
      response: { body: SECRET },
      code: 'EXECABORT',
      cause: Object.assign(new Error('wrapped'), { command, errors: [inner], body: SECRET }),
    });
    const out = errorSerializer(err) as Record<string, unknown>;
    const text = JSON.stringify(out);
    assert.ok(!text.includes(SECRET), text);
    assert.match(String(out.message), /^EXECABORT Transaction discarded because of previous errors\./);
    assert.match(JSON.stringify(out.previousErrors), /NOPERM .*'oidc:RefreshToken:\[redacted\]'/, 'why the transaction failed stays');
    assert.equal(out.code, 'EXECABORT');
    assert.equal(out.type, 'Error');
    assert.match(String(out.stack), /EXECABORT/);
    assert.match(String(out.message), /: wrapped$/, 'causes are told in the message, as pino does');
  });

  it('masks stored keys in error text logged as fields, and leaves file paths in stacks alone', () => {
    const { logger, lines } = capture();
    logger.warn({ message: `ERR on upstream-state:${SECRET}`, reason: `AccessToken:${SECRET}` }, 'storage unavailable');
    logger.error({ err: new Error(`bad AuthorizationCode:${SECRET}`) }, 'failed');
    const text = JSON.stringify(lines);
    assert.ok(!text.includes(SECRET), text);
    assert.equal(lines[0]!.message, 'ERR on upstream-state:[redacted]');
    assert.match(String((lines[1]!.err as { stack: string }).stack), /logging\.test\.ts/);
  });

  it('logs non-error values given as err as they are', () => {
    assert.equal(errorSerializer(undefined), undefined);
    assert.equal(errorSerializer(42), 42);
  });
});

describe('throttledLogger', () => {
  it('writes a repeated line once per interval and says how many it left out', () => {
    const { logger, lines } = capture();
    let now = 0;
    const every = throttledLogger(logger, 1000, () => now);
    for (let i = 0; i < 50; i++) every.warn({ message: 'down' }, 'storage unavailable');
    every.error({ message: 'other' }, 'MCP server request failed');
    assert.deepEqual(
      lines.map((line) => [line.msg, line.repeated]),
      [
        ['storage unavailable', undefined],
        ['MCP server request failed', undefined],
      ],
    );
    now = 999;
    every.warn({}, 'storage unavailable');
    assert.equal(lines.length, 2);
    now = 1000;
    every.warn({}, 'storage unavailable');
    assert.equal(lines.length, 3);
    assert.equal(lines[2]!.repeated, 50, '49 left out before the interval ended, and the one at 999 ms');
    assert.equal(lines[2]!.level, 40);
    now = 5000;
    every.warn({}, 'storage unavailable');
    assert.equal(lines[3]!.repeated, undefined, 'nothing was left out since the last line');
  });
});
