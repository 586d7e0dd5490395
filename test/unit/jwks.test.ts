// `mcp-auth-proxy jwks`: what it prints is an OIDC_PROVIDER_JWKS the proxy's own parser and
// loader accept, and that jose (an independent JOSE implementation) imports and verifies with;
// --rotate puts a new key first and keeps the old ones as they were.
import assert from 'node:assert/strict';
import type { JsonWebKey } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as jose from 'jose';
import { loadConfig } from '../../src/config/index.js';
import { privateJwks } from '../../src/config/parsers.js';
import { jwkThumbprint, signingAlgorithm } from '../../src/provider/signing-keys.js';
import { cli } from '../helpers/command-io.js';

const BASE = {
  BASE_URL: 'https://proxy.example.com',
  MCP_SERVER_URL: 'http://localhost:3000/mcp',
  IDENTITY_SERVER_URL: 'https://idp.example.com',
  IDENTITY_CLIENT_ID: 'abc',
};

async function jwks(argv: string[], env: Record<string, string> = {}, stdin = ''): Promise<{ keys: JsonWebKey[]; stderr: string }> {
  const result = await cli(['jwks', ...argv], env, stdin);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /^\[.*\]\n$/, 'stdout is one line of JSON and nothing else');
  return { keys: JSON.parse(result.stdout) as JsonWebKey[], stderr: result.stderr };
}

/** jose imports the private key, signs, and verifies with the public half alone. */
async function assertJoseSignsAndVerifies(jwk: JsonWebKey): Promise<void> {
  const alg = String(jwk.alg);
  const privateKey = await jose.importJWK(jwk as jose.JWK, alg);
  const { d: _d, ...publicJwk } = jwk;
  const publicKey = await jose.importJWK(publicJwk as jose.JWK, alg);
  const jws = await new jose.CompactSign(new TextEncoder().encode('hello')).setProtectedHeader({ alg, kid: String(jwk.kid) }).sign(privateKey);
  const { payload, protectedHeader } = await jose.compactVerify(jws, publicKey);
  assert.equal(new TextDecoder().decode(payload), 'hello');
  assert.equal(protectedHeader.kid, jwk.kid);
}

describe('jwks command', () => {
  it('prints one P-256 key by default, with a thumbprint kid, ES256 and use "sig"', async () => {
    const { keys, stderr } = await jwks([]);
    assert.equal(keys.length, 1);
    const [key] = keys as [JsonWebKey];
    assert.deepEqual(Object.keys(key).sort(), ['alg', 'crv', 'd', 'kid', 'kty', 'use', 'x', 'y']);
    assert.equal(key.kty, 'EC');
    assert.equal(key.crv, 'P-256');
    assert.equal(key.alg, 'ES256');
    assert.equal(key.use, 'sig');
    assert.equal(key.kid, await jose.calculateJwkThumbprint(key as jose.JWK, 'sha256'), 'RFC 7638 thumbprint, as jose computes it');
    assert.match(stderr, new RegExp(`^new signing key: P-256 ES256 kid=${key.kid}\\n$`));
    assert.doesNotMatch(stderr, new RegExp(String(key.d)), 'the private part only on stdout');
  });

  it('prints an Ed25519 key with --type ed25519 (EdDSA), any case', async () => {
    for (const type of ['ed25519', 'Ed25519']) {
      const { keys } = await jwks(['--type', type]);
      const [key] = keys as [JsonWebKey];
      assert.deepEqual([key.kty, key.crv, key.alg, key.use], ['OKP', 'Ed25519', 'EdDSA', 'sig']);
      assert.equal(key.kid, await jose.calculateJwkThumbprint(key as jose.JWK, 'sha256'));
    }
  });

  it('makes keys the proxy accepts, signs with the algorithm it announces, and jose verifies', async () => {
    for (const type of ['p-256', 'ed25519']) {
      const { keys } = await jwks(['--type', type]);
      const raw = JSON.stringify(keys);
      assert.deepEqual(privateJwks(raw), keys);
      const config = loadConfig({ ...BASE, OIDC_PROVIDER_JWKS: raw });
      assert.deepEqual(config.provider.jwks, keys);
      assert.equal(config.provider.jwksGenerated, false);
      assert.equal(signingAlgorithm(keys[0]!), keys[0]!.alg, 'the proxy signs ID tokens with the key\'s own alg');
      await assertJoseSignsAndVerifies(keys[0]!);
    }
  });

  it('makes a new key every time', async () => {
    const [a, b] = await Promise.all([jwks([]), jwks([])]);
    assert.notEqual(a.keys[0]!.kid, b.keys[0]!.kid);
    assert.notEqual(a.keys[0]!.d, b.keys[0]!.d);
  });

  describe('--rotate', () => {
    let tmp: string;
    before(() => {
      tmp = mkdtempSync(join(tmpdir(), 'mcp-auth-proxy-jwks-'));
    });
    after(() => rmSync(tmp, { recursive: true, force: true }));

    it('prepends a new key to OIDC_PROVIDER_JWKS and keeps the old one second, unchanged', async () => {
      const { keys: current } = await jwks([]);
      const { keys, stderr } = await jwks(['--rotate'], { OIDC_PROVIDER_JWKS: JSON.stringify(current) });
      assert.equal(keys.length, 2);
      assert.deepEqual(keys[1], current[0], 'the old key second, as it was');
      assert.notEqual(keys[0]!.kid, current[0]!.kid);
      assert.match(stderr, /kept 1 older key\(s\) after it: they still verify; .*vault-reencrypt/);
      assert.deepEqual(loadConfig({ ...BASE, OIDC_PROVIDER_JWKS: JSON.stringify(keys) }).provider.jwks, keys);
      for (const key of keys) await assertJoseSignsAndVerifies(key);
    });

    it('keeps the type of the current first key unless --type says otherwise', async () => {
      const { keys: ed } = await jwks(['--type', 'ed25519']);
      const env = { OIDC_PROVIDER_JWKS: JSON.stringify(ed) };
      assert.equal((await jwks(['--rotate'], env)).keys[0]!.crv, 'Ed25519');
      assert.equal((await jwks(['--rotate', '--type', 'p-256'], env)).keys[0]!.crv, 'P-256');
      // A key type we do not generate (RSA here, made by someone else): the default type.
      const rsa = (await jose.exportJWK((await jose.generateKeyPair('RS256', { extractable: true })).privateKey)) as JsonWebKey;
      const rotated = (await jwks(['--rotate'], { OIDC_PROVIDER_JWKS: JSON.stringify([rsa]) })).keys;
      assert.equal(rotated[0]!.crv, 'P-256');
      assert.deepEqual(rotated[1], rsa);
      assert.match(jwkThumbprint(rsa), /^[\w-]{43}$/);
    });

    it('reads the current set from standard input or a file, in either JWKS shape', async () => {
      const { keys: current } = await jwks([]);
      const fromStdin = await jwks(['--rotate', '--from', '-'], {}, `${JSON.stringify({ keys: current })}\n`);
      assert.deepEqual(fromStdin.keys.slice(1), current);
      const file = join(tmp, 'jwks.json');
      writeFileSync(file, JSON.stringify(current));
      const fromFile = await jwks(['--rotate', '--from', file], { OIDC_PROVIDER_JWKS: 'ignored when --from is given' });
      assert.deepEqual(fromFile.keys.slice(1), current);
    });

    it('keeps at most --keep keys, saying which it dropped', async () => {
      let set = (await jwks([])).keys;
      set = (await jwks(['--rotate'], { OIDC_PROVIDER_JWKS: JSON.stringify(set) })).keys;
      const [newest, oldest] = set as [JsonWebKey, JsonWebKey];
      const { keys, stderr } = await jwks(['--rotate', '--keep', '2'], { OIDC_PROVIDER_JWKS: JSON.stringify(set) });
      assert.equal(keys.length, 2);
      assert.deepEqual(keys[1], newest);
      assert.match(stderr, new RegExp(`dropped P-256 ES256 kid=${oldest.kid}: upstream tokens sealed`));
      const one = await jwks(['--rotate', '--keep', '1'], { OIDC_PROVIDER_JWKS: JSON.stringify(set) });
      assert.equal(one.keys.length, 1);
      assert.doesNotMatch(one.stderr, /kept/);
    });

    it('fails (exit 1) without a current set, or with one that is not valid, never echoing it', async () => {
      const missing = await cli(['jwks', '--rotate'], {});
      assert.equal(missing.code, 1);
      assert.equal(missing.stdout, '');
      assert.match(missing.stderr, /--rotate needs the current set, and OIDC_PROVIDER_JWKS is empty or not set \(environment or \.env\); pass it with --from FILE or --from -/);

      const emptyStdin = await cli(['jwks', '--rotate', '--from', '-'], {}, '  \n');
      assert.equal(emptyStdin.code, 1);
      assert.match(emptyStdin.stderr, /standard input is empty or not set/);

      const noFile = await cli(['jwks', '--rotate', '--from', join(tmp, 'nope.json')], {});
      assert.equal(noFile.code, 1);
      assert.match(noFile.stderr, /cannot read .*nope\.json \(ENOENT\)/);

      const secretish = '[{"kty":"EC","crv":"P-256","d":"TOPSECRETVALUE"';
      const broken = await cli(['jwks', '--rotate'], { OIDC_PROVIDER_JWKS: secretish });
      assert.equal(broken.code, 1);
      assert.equal(broken.stdout, '');
      assert.match(broken.stderr, /^OIDC_PROVIDER_JWKS: must be valid JSON/);
      assert.doesNotMatch(broken.stderr, /TOPSECRET/);

      const publicOnly = await cli(['jwks', '--rotate'], { OIDC_PROVIDER_JWKS: JSON.stringify([{ kty: 'OKP', crv: 'Ed25519', x: 'abc' }]) });
      assert.equal(publicOnly.code, 1);
      assert.match(publicOnly.stderr, /key 1 is a public key; private keys \(with "d"\) are required/);
    });
  });
});
