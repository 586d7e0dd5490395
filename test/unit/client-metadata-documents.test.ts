import assert from 'node:assert/strict';
import { cacheSeconds, clientMetadataDocumentFeature } from '../../src/provider/client-metadata-documents.js';
import { hostMatches, normalizeHost } from '../../src/http/hosts.js';
import { privateJwks } from '../helpers/keys.js';

describe('client metadata document rules', () => {
  it('matches hosts exactly or by *. wildcard', () => {
    assert.equal(hostMatches('claude.ai', ['claude.ai']), true);
    assert.equal(hostMatches('x.claude.ai', ['claude.ai']), false);
    assert.equal(hostMatches('x.claude.ai', ['*.claude.ai']), true);
    assert.equal(hostMatches('evilclaude.ai', ['*.claude.ai']), false);
  });

  it('matches one spelling per host: case, a trailing dot, IDNA, IPv4 and IPv6 notations', () => {
    for (const spelling of ['evil.example', 'EVIL.Example', 'evil.example.', 'Evil.Example.']) assert.equal(hostMatches(spelling, ['evil.example']), true, spelling);
    assert.equal(hostMatches('x.evil.example.', ['*.evil.example']), true);
    assert.equal(normalizeHost('bücher.example'), 'xn--bcher-kva.example');
    assert.equal(hostMatches('xn--bcher-kva.example', ['bücher.example']), true);
    for (const ip of ['0x7f.0.0.1', '2130706433', '127.1', '0177.0.0.1']) assert.equal(normalizeHost(ip), '127.0.0.1', ip);
    assert.equal(normalizeHost('[0:0:0:0:0:0:0:1]'), '[::1]');
    for (const junk of ['https://x.com/', 'user@x.com', 'x.com:443', 'a b', '', '.', 'x..', '*.*.x']) assert.equal(normalizeHost(junk), undefined, junk);
  });

  it('caches for the document\'s max-age or Expires, within 30 s and 1 day, and not when told not to', () => {
    assert.equal(cacheSeconds(new Headers({ 'cache-control': 'public, max-age=600' })), 600);
    assert.equal(cacheSeconds(new Headers({ 'cache-control': 'max-age=1' })), 30);
    assert.equal(cacheSeconds(new Headers({ 'cache-control': 'max-age=9999999' })), 86_400);
    assert.ok((cacheSeconds(new Headers({ expires: new Date(Date.now() + 3_600_000).toUTCString() })) ?? 0) >= 3590);
    assert.equal(cacheSeconds(new Headers()), 30);
    assert.equal(cacheSeconds(new Headers({ 'cache-control': 'no-store' })), undefined);
  });

  it('allows fetches by the allow and deny lists, and loopback only when told', async () => {
    const feature = clientMetadataDocumentFeature({ enabled: true, allowedHosts: ['*.example.com'], deniedHosts: ['bad.example.com'], allowLoopback: false });
    const allowFetch = feature.allowFetch as (ctx: unknown, id: string) => Promise<boolean>;
    assert.equal(await allowFetch(undefined, 'https://app.example.com/c.json'), true);
    assert.equal(await allowFetch(undefined, 'https://bad.example.com/c.json'), false);
    // The red team's bypass: the same host, fully qualified.
    assert.equal(await allowFetch(undefined, 'https://bad.example.com./c.json'), false);
    assert.equal(await allowFetch(undefined, 'https://BAD.EXAMPLE.COM/c.json'), false);
    assert.equal(await allowFetch(undefined, 'https://other.org/c.json'), false);
    const open = clientMetadataDocumentFeature({ enabled: true, allowedHosts: [], deniedHosts: [], allowLoopback: false });
    assert.equal(await (open.allowFetch as typeof allowFetch)(undefined, 'https://localhost/c.json'), false);
    assert.equal(await (open.allowFetch as typeof allowFetch)(undefined, 'https://claude.ai/c.json'), true);
  });
});

describe('client metadata document settings', () => {
  const base = {
    BASE_URL: 'https://proxy.example.com',
    MCP_SERVER_URL: 'http://localhost:3000/mcp',
    IDENTITY_SERVER_URL: 'https://idp.example.com',
    IDENTITY_CLIENT_ID: 'abc',
  };

  it('refuses the test-only loopback setting in production', async () => {
    const { loadConfig, ConfigError } = await import('../../src/config/index.js');
    const jwks = privateJwks();
    assert.throws(
      () => loadConfig({ ...base, NODE_ENV: 'production', MCP_AUTH_PROXY_REDIS_URL: 'redis://r:6379', OIDC_PROVIDER_JWKS: jwks, MCP_AUTH_PROXY_TEST_CIMD_ALLOW_LOOPBACK: 'true' }),
      (err: unknown) => err instanceof ConfigError && err.problems.some((p) => p.startsWith('MCP_AUTH_PROXY_TEST_CIMD_ALLOW_LOOPBACK: is for tests only')),
    );
  });

  it('reads host lists and refuses malformed hosts', async () => {
    const { loadConfig } = await import('../../src/config/index.js');
    const config = loadConfig({ ...base, MCP_AUTH_PROXY_CIMD_ALLOWED_HOSTS: 'Claude.ai, *.cursor.com' });
    assert.deepEqual(config.provider.clientMetadataDocuments.allowedHosts, ['claude.ai', '*.cursor.com']);
    assert.throws(() => loadConfig({ ...base, MCP_AUTH_PROXY_CIMD_DENIED_HOSTS: 'https://x.com/' }), /MCP_AUTH_PROXY_CIMD_DENIED_HOSTS: "https:\/\/x\.com\/" is not a host name/);
  });
});
