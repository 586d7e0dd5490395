// Connects to the Redis the configuration names, as the proxy and the maintenance commands both
// need it: bounded in time, and a failure explained in one message that names the variable and
// says what to change (the host is shown, never the password).
import type { Config } from '../config/types.js';
import { RedisConnectError, RedisStore } from './redis-store.js';

export type RedisSettings = Config['redis'] & { url: string };

/** A connected store, or an Error whose message is meant for the operator. */
export async function connectRedis(settings: RedisSettings, onConnectionError: (err: Error) => void = () => {}): Promise<RedisStore> {
  const store = new RedisStore({
    url: settings.url,
    prefix: settings.prefix,
    tlsVerify: settings.tlsVerify,
    tlsCa: settings.tlsCa,
    connectTimeoutMs: settings.connectTimeoutMs,
  });
  store.client.on('error', onConnectionError);
  // ioredis bounds each attempt; this bounds the whole (a PING that never answers, say).
  const boundMs = settings.connectTimeoutMs + 1000;
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      store.connect(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new RedisConnectError(`no answer within ${boundMs} ms`, 'ETIMEDOUT')), boundMs);
      }),
    ]);
  } catch (err) {
    await store.close();
    throw new Error(redisStartupError(settings.url, settings.urlVariable, err as RedisConnectError));
  } finally {
    clearTimeout(timer);
  }
  return store;
}

const TLS_VERIFICATION_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** Names the variable and says what to change; the host is shown, never the password. */
function redisStartupError(url: string, variable: string, err: RedisConnectError): string {
  const { protocol, host } = new URL(url);
  // Node's own advice after a ';' (e.g. about --use-system-ca) does not apply to a Redis URL.
  const base = `${variable}: cannot connect to Redis at ${host} (${err.message.split(';')[0]})`;
  if (err.code && TLS_VERIFICATION_CODES.has(err.code)) {
    return `${base}: its TLS certificate is not trusted; set MCP_AUTH_PROXY_REDIS_TLS_VERIFY=false (Heroku Key-Value Store uses a self-signed certificate) or give its CA in MCP_AUTH_PROXY_REDIS_TLS_CA`;
  }
  if (protocol === 'rediss:' && (err.code === 'ERR_SSL_WRONG_VERSION_NUMBER' || err.code === 'ECONNRESET')) {
    return `${base}: does the server speak TLS? Use redis:// for a plain-text server`;
  }
  if (protocol === 'redis:' && err.code === 'ECONNRESET') {
    return `${base}: the server closed the connection; if it requires TLS (Heroku Key-Value Store does), use its rediss:// URL`;
  }
  if (err.code === 'ECONNREFUSED') return `${base}: nothing listens there`;
  if (err.code === 'ETIMEDOUT') {
    return protocol === 'rediss:'
      ? `${base}: no TLS handshake within MCP_AUTH_PROXY_REDIS_CONNECT_TIMEOUT_MS; is it a TLS port? (use redis:// for a plain-text server)`
      : `${base}: no answer within MCP_AUTH_PROXY_REDIS_CONNECT_TIMEOUT_MS (a firewall, or a network this dyno cannot reach?)`;
  }
  return base;
}

