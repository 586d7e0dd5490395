// The released command line (bin/mcp-auth-proxy.js on dist/) as operators run it: help, usage
// errors, `jwks` captured by a shell as `heroku config:set` would, and `config` reading .env.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import type { JsonWebKey } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { loadConfig } from '../../src/config/index.js';
import { BIN_ENTRY, runCliProcess } from '../helpers/cli-process.js';
import { buildOnce } from '../helpers/proxy-process.js';

const BASE = {
  BASE_URL: 'https://proxy.example.com',
  MCP_SERVER_URL: 'http://localhost:3000/mcp',
  IDENTITY_SERVER_URL: 'https://idp.example.com',
  IDENTITY_CLIENT_ID: 'abc',
};

describe('the released command line (bin/mcp-auth-proxy.js on dist/)', function () {
  this.timeout(30_000);
  let tmp: string;
  const bin = (args: string[], options: { env?: Record<string, string>; stdin?: string } = {}) => runCliProcess(BIN_ENTRY, args, { cwd: tmp, ...options });

  before(async function () {
    this.timeout(180_000);
    await buildOnce();
    tmp = await mkdtemp(join(tmpdir(), 'mcp-auth-proxy-bin-'));
  });
  after(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  it('prints its help and exits 0; a wrong command line exits 2', async () => {
    const help = await bin(['--help']);
    assert.equal(help.code, 0);
    // Run from another directory: help names the script by its full path, as it can be run again.
    assert.match(help.stdout, new RegExp(`^Usage: node ${BIN_ENTRY[0]!.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} \\[command\\]`));
    assert.equal(help.stderr, '', 'nothing else on stderr (no library warnings)');
    const wrong = await bin(['grants']);
    assert.equal(wrong.code, 2);
    assert.match(wrong.stderr, /^mcp-auth-proxy grants: which user\?/);
  });

  it('reports an unexpected failure in one line with exit status 1, never a stack trace', async () => {
    await mkdir(join(tmp, '.env'));
    try {
      const result = await bin(['config']);
      assert.equal(result.code, 1);
      assert.equal(result.stdout, '');
      assert.match(result.stderr, /^mcp-auth-proxy config: EISDIR: illegal operation on a directory, read\n$/);
    } finally {
      await rm(join(tmp, '.env'), { recursive: true });
    }
  });

  it('`jwks` prints only the JSON on stdout, as $(...) captures it for heroku config:set', async () => {
    const shell = await promisify(execFile)('/bin/sh', ['-c', `OIDC_PROVIDER_JWKS="$("${process.execPath}" "${BIN_ENTRY[0]}" jwks 2>/dev/null)"; printf %s "$OIDC_PROVIDER_JWKS"`], {
      cwd: tmp,
      env: { PATH: process.env.PATH },
    });
    const keys = JSON.parse(shell.stdout) as JsonWebKey[];
    assert.equal(keys.length, 1);
    assert.equal(loadConfig({ ...BASE, OIDC_PROVIDER_JWKS: shell.stdout }).provider.jwks[0]!.kid, keys[0]!.kid);

    const direct = await bin(['jwks', '--type', 'ed25519']);
    assert.equal(direct.code, 0);
    assert.match(direct.stderr, /^new signing key: Ed25519 EdDSA kid=\S+\n$/, 'a note on stderr, and no library warnings');
  });

  it('`jwks --rotate` and `config` read .env in the working directory; the environment wins', async () => {
    const current = (await bin(['jwks'])).stdout.trim();
    await writeFile(
      join(tmp, '.env'),
      [...Object.entries(BASE).map(([k, v]) => `${k}=${v}`), `OIDC_PROVIDER_JWKS='${current}'`, 'IDENTITY_CLIENT_SECRET=dotenv-secret-value', 'PORT=4000', ''].join('\n'),
    );
    try {
      const rotated = await bin(['jwks', '--rotate']);
      assert.equal(rotated.code, 0, rotated.stderr);
      assert.deepEqual((JSON.parse(rotated.stdout) as JsonWebKey[])[1], (JSON.parse(current) as JsonWebKey[])[0]);

      const config = await bin(['config'], { env: { PORT: '5000' } });
      assert.equal(config.code, 0, config.stdout);
      assert.match(config.stdout, /^PORT +5000 {2}\[environment\]$/m);
      assert.match(config.stdout, /^BASE_URL +https:\/\/proxy\.example\.com {2}\[\.env\]$/m);
      assert.match(config.stdout, /^IDENTITY_CLIENT_SECRET +\(set, hidden\) {2}\[\.env\]$/m);
      assert.match(config.stdout, /^OIDC_PROVIDER_JWKS +\(set, hidden\): 1 key\(s\): P-256 ES256 kid=\S+ {2}\[\.env\]$/m);
      assert.doesNotMatch(config.stdout, /dotenv-secret|"d"/);
      assert.match(config.stdout, /\nNo problems found\.\n/);

      const json = await bin(['config', '--json'], { env: { PORT: 'eighty' } });
      assert.equal(json.code, 1, 'problems found');
      const report = JSON.parse(json.stdout) as { problems: string[]; settings: { name: string; source: string }[] };
      assert.deepEqual(report.problems, ['PORT: must be a positive whole number, got "eighty"']);
      assert.equal(report.settings.find((s) => s.name === 'IDENTITY_CLIENT_ID')?.source, '.env');
    } finally {
      await rm(join(tmp, '.env'));
    }
  });
});
