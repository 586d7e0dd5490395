// Redis over TLS as on Heroku Key-Value Store (rediss://, a self-signed certificate), on a real
// redis-server with a certificate made here: without verification it connects; with it, only a
// trusted CA connects; the startup error says which setting to change; the whole flow runs over
// it; reconnection after an outage; and the reconnection backoff itself.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { startProxy } from '../../src/boot.js';
import { loadConfig } from '../../src/config/index.js';
import { createLogger } from '../../src/logging.js';
import { reconnectDelay, RedisConnectError, RedisStore } from '../../src/storage/redis-store.js';
import { selfSignedCertificate, type Certificate } from '../helpers/certificates.js';
import { connectWithOAuth, TestOAuthProvider } from '../helpers/mcp-client.js';
import { freePort } from '../helpers/ports.js';
import { startRedis, startRedisOn, type RedisServer } from '../helpers/redis.js';
import { startStack, type Stack } from '../helpers/stack.js';
import { until } from '../helpers/wait.js';


describe('Redis over TLS (rediss://)', function () {
  this.timeout(60_000);
  let tmp: string;
  let certificate: Certificate;
  let otherCa: Certificate;
  let redis: RedisServer;
  let plain: RedisServer;

  before(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'mcp-auth-proxy-redis-tls-'));
    certificate = await selfSignedCertificate(tmp, 'redis');
    otherCa = await selfSignedCertificate(tmp, 'other');
    redis = await startRedis(certificate);
    plain = await startRedis();
  });
  after(async () => {
    await redis?.stop();
    await plain?.stop();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  async function connectStore(options: { url?: string; tlsVerify: boolean; tlsCa?: string }): Promise<RedisStore> {
    const store = new RedisStore({ url: options.url ?? redis.url, prefix: 'tls-test:', tlsVerify: options.tlsVerify, tlsCa: options.tlsCa });
    try {
      await store.connect();
    } catch (err) {
      await store.close();
      throw err;
    }
    return store;
  }

  describe('the store', () => {
    it('connects to a self-signed server without verification (Heroku Key-Value Store)', async () => {
      const store = await connectStore({ tlsVerify: false });
      try {
        await store.set('k', 'v', 60);
        assert.equal(await store.get('k'), 'v');
      } finally {
        await store.close();
      }
    });

    it('with verification, refuses a certificate no trusted CA signed', async () => {
      await assert.rejects(connectStore({ tlsVerify: true }), (err: unknown) => {
        assert.ok(err instanceof RedisConnectError);
        assert.equal(err.code, 'DEPTH_ZERO_SELF_SIGNED_CERT');
        return true;
      });
      await assert.rejects(connectStore({ tlsVerify: true, tlsCa: otherCa.pem }), RedisConnectError);
    });

    it('with verification and the CA in MCP_AUTH_PROXY_REDIS_TLS_CA, connects', async () => {
      const store = await connectStore({ tlsVerify: true, tlsCa: certificate.pem });
      try {
        await store.ping();
      } finally {
        await store.close();
      }
    });

    it('with verification, refuses a name the certificate is not for', async () => {
      // The certificate is for 127.0.0.1 and localhost; ::ffff:127.0.0.1 reaches the same server under another name.
      const other = redis.url.replace('127.0.0.1', '[::ffff:127.0.0.1]');
      await assert.rejects(connectStore({ url: other, tlsVerify: true, tlsCa: certificate.pem }), (err: unknown) => {
        assert.ok(err instanceof RedisConnectError);
        assert.equal(err.code, 'ERR_TLS_CERT_ALTNAME_INVALID');
        return true;
      });
    });

    it('reconnects by itself after an outage', async () => {
      const own = await startRedis(certificate);
      const store = await connectStore({ url: own.url, tlsVerify: false });
      let restarted: RedisServer | undefined;
      try {
        store.client.on('error', () => {}); // expected while it is down
        await own.stop();
        await until(() => !store.available, 'the store to notice');
        await assert.rejects(store.get('k'));
        restarted = await startRedisOn(own.port, certificate);
        await until(() => store.available, 'the store to reconnect');
        assert.equal(await store.get('k'), undefined);
      } finally {
        await store.close();
        await restarted?.stop();
      }
    });

    it('backs off exponentially, with jitter, up to about 5 s', () => {
      const low = () => 0;
      const high = () => 0.999999;
      assert.deepEqual([1, 2, 3, 4, 5, 6, 7, 50].map((n) => reconnectDelay(n, low)), [80, 160, 320, 640, 1280, 2560, 4000, 4000]);
      assert.deepEqual([1, 2, 7, 50].map((n) => reconnectDelay(n, high)), [120, 240, 6000, 6000]);
      assert.equal(reconnectDelay(3, () => 0.5), 400);
    });
  });

  describe('the proxy', () => {
    let stack: Stack;
    before(async () => {
      stack = await startStack({ redis, env: { MCP_AUTH_PROXY_REDIS_TLS_VERIFY: 'true', MCP_AUTH_PROXY_REDIS_TLS_CA: certificate.certFile } });
    });
    after(async () => stack?.stop());

    it('signs in and proxies with every state in Redis over verified TLS', async () => {
      const auth = new TestOAuthProvider();
      const client = await connectWithOAuth(stack.mcpUrl, auth);
      try {
        const result = await client.callTool({ name: 'echo', arguments: { text: 'over tls' } });
        assert.deepEqual(result.content, [{ type: 'text', text: 'over tls' }]);
        assert.equal((await fetch(`${stack.baseUrl}/readyz`)).status, 200);
      } finally {
        await client.close();
      }
    });

    /** The startup error for these settings (the IdP of the running stack is reused). */
    async function startupError(env: Record<string, string>): Promise<string> {
      const port = await freePort();
      const config = loadConfig({
        BASE_URL: `http://127.0.0.1:${port}`,
        LOCAL_INSECURE: 'true',
        PORT: String(port),
        MCP_AUTH_PROXY_LISTEN_HOST: '127.0.0.1',
        MCP_SERVER_URL: `http://127.0.0.1:${await freePort()}/mcp`,
        IDENTITY_SERVER_URL: stack.idp.issuer,
        IDENTITY_CLIENT_ID: stack.idp.clientId,
        ...env,
      });
      const sink = new Writable({ write: (_chunk, _encoding, callback) => callback() });
      try {
        const running = await startProxy(config, createLogger(config, sink));
        await running.stop();
      } catch (err) {
        return (err as Error).message;
      }
      assert.fail('the proxy started');
    }

    it('names the variable and the fix when the certificate is not trusted', async () => {
      const message = await startupError({ MCP_AUTH_PROXY_REDIS_URL: redis.url, MCP_AUTH_PROXY_REDIS_TLS_VERIFY: 'true' });
      assert.equal(
        message,
        `MCP_AUTH_PROXY_REDIS_URL: cannot connect to Redis at 127.0.0.1:${redis.port} (self-signed certificate): its TLS certificate is not trusted; ` +
          'set MCP_AUTH_PROXY_REDIS_TLS_VERIFY=false (Heroku Key-Value Store uses a self-signed certificate) or give its CA in MCP_AUTH_PROXY_REDIS_TLS_CA',
      );
    });

    it('says when rediss:// meets a server without TLS', async () => {
      // A plain Redis waits for the end of a command line that the TLS hello never sends.
      const message = await startupError({
        MCP_AUTH_PROXY_REDIS_URL: plain.url.replace('redis:', 'rediss:'),
        MCP_AUTH_PROXY_REDIS_CONNECT_TIMEOUT_MS: '500',
      });
      assert.equal(
        message,
        `MCP_AUTH_PROXY_REDIS_URL: cannot connect to Redis at 127.0.0.1:${plain.port} (connect ETIMEDOUT): ` +
          'no TLS handshake within MCP_AUTH_PROXY_REDIS_CONNECT_TIMEOUT_MS; is it a TLS port? (use redis:// for a plain-text server)',
      );
    });

    it('says when redis:// meets a TLS-only server', async () => {
      const message = await startupError({
        MCP_AUTH_PROXY_REDIS_URL: redis.url.replace('rediss:', 'redis:'),
        MCP_AUTH_PROXY_REDIS_CONNECT_TIMEOUT_MS: '500',
      });
      // The reset reaches either side of the socket first: "read ECONNRESET" or "write ECONNRESET".
      assert.equal(
        message.replace(/\((read|write) ECONNRESET\)/, '(ECONNRESET)'),
        `MCP_AUTH_PROXY_REDIS_URL: cannot connect to Redis at 127.0.0.1:${redis.port} (ECONNRESET): ` +
          'the server closed the connection; if it requires TLS (Heroku Key-Value Store does), use its rediss:// URL',
      );
    });

    it('says when nothing listens, and never shows the password', async () => {
      const message = await startupError({ MCP_AUTH_PROXY_REDIS_URL: `rediss://:hunter2-secret@127.0.0.1:${await freePort()}` });
      assert.match(message, /^MCP_AUTH_PROXY_REDIS_URL: cannot connect to Redis at 127\.0\.0\.1:\d+ \(.*ECONNREFUSED.*\): nothing listens there$/);
      assert.ok(!message.includes('hunter2'));
    });
  });
});
