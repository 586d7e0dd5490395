// The whole product on real parts, for end-to-end tests: a Redis server, an upstream OpenID
// Provider, and the proxy (in this process, for coverage) spawning the MCP server fixture.
import { writeFile } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { createLogger } from '../../src/logging.js';
import { loadConfig, type Config } from '../../src/config/index.js';
import { startProxy, type RunningProxy } from '../../src/boot.js';
import { startTelemetry } from '../../src/telemetry/start.js';
import { freePort } from './ports.js';
import { MCP_FIXTURE_ARGS } from './proxy-environment.js';
import { startRedis, type RedisServer } from './redis.js';
import { RouterHop } from './router-hop.js';
import { CLIENT_ID, issuerAt, newClientSecret, startUpstreamIdp, type UpstreamIdp, type UpstreamIdpOptions } from './upstream-idp.js';

export interface StackOptions {
  /** Extra or overriding proxy settings. */
  env?: Record<string, string>;
  /** Settings of the MCP server fixture (MCP_FIXTURE_*). */
  mcpEnv?: Record<string, string>;
  upstreamAccessTokenTtlSeconds?: number;
  /**
   * Configure the IdP through IDENTITY_SERVER_METADATA_FILE (written from its discovery document)
   * with an IDENTITY_SERVER_URL where nothing listens, so discovery cannot be what works.
   */
  metadataFile?: string;
  /** The proxy's port, when the IdP had to know the redirect URI first (a fresh one otherwise). */
  port?: number;
  /** Share a Redis with another stack. */
  redis?: RedisServer;
  /** Share an upstream IdP with another stack (the first stack's callback is registered there). */
  idp?: UpstreamIdp;
  /**
   * Nothing listens at IDENTITY_SERVER_URL when the proxy starts (an IdP outage at a restart):
   * the IdP starts on that port at `stack.startIdp()`; `stack.idp` throws until then.
   */
  idpStartsLater?: boolean;
  /**
   * Start OpenTelemetry as main.ts does (give MCP_AUTH_PROXY_METRICS_PATH in env: in process,
   * only metrics; traces need instrumentation before the app loads, see test/process/).
   */
  telemetry?: boolean;
  /**
   * Serve an https BASE_URL as in production: LOCAL_INSECURE off, the proxy on plain http behind
   * a TLS-terminating router (`stack.hop`) that sets X-Forwarded-Proto.
   */
  https?: boolean;
}

export interface Stack {
  redis: RedisServer;
  idp: UpstreamIdp;
  proxy: RunningProxy;
  config: Config;
  /** The public origin (BASE_URL). */
  baseUrl: string;
  mcpUrl: string;
  /** With `https`: the router in front of the proxy; send requests for baseUrl through it. */
  hop?: RouterHop;
  /** Every log line the proxy wrote (JSON). */
  logs: string[];
  /** With `idpStartsLater`: starts the IdP at IDENTITY_SERVER_URL. */
  startIdp(): Promise<UpstreamIdp>;
  stop(): Promise<void>;
}

export { MCP_FIXTURE_ARGS };

export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const redis = options.redis ?? (await startRedis());
  const [port, mcpPort] = [options.port ?? (await freePort()), await freePort()];
  const listenUrl = `http://127.0.0.1:${port}`;
  const baseUrl = options.https ? `https://127.0.0.1:${port}` : listenUrl;
  const idpOptions: UpstreamIdpOptions = {
    redirectUris: [`${baseUrl}/interaction/identity/callback`],
    accessTokenTtlSeconds: options.upstreamAccessTokenTtlSeconds,
  };
  // Configured for a port where nothing listens yet, with the client secret it will have.
  const later = options.idpStartsLater ? { ...idpOptions, port: await freePort(), clientSecret: newClientSecret() } : undefined;
  let idp: UpstreamIdp | undefined = options.idp ?? (later ? undefined : await startUpstreamIdp(idpOptions));
  const identity = later ? { issuer: issuerAt(later.port), clientId: CLIENT_ID, clientSecret: later.clientSecret } : idp!;
  const env = {
    ...process.env,
    NODE_ENV: 'test',
    LOG_LEVEL: 'info',
    PORT: String(port),
    MCP_AUTH_PROXY_LISTEN_HOST: '127.0.0.1',
    BASE_URL: baseUrl,
    LOCAL_INSECURE: options.https ? 'false' : 'true',
    MCP_SERVER_URL: `http://127.0.0.1:${mcpPort}/mcp`,
    MCP_SERVER_RUN_COMMAND: process.execPath,
    MCP_SERVER_RUN_ARGS_JSON: JSON.stringify(MCP_FIXTURE_ARGS),
    MCP_SERVER_RUN_ENV_JSON: JSON.stringify({ MCP_FIXTURE_TOKEN_CHECK_URL: `${identity.issuer}/me`, ...options.mcpEnv }),
    MCP_AUTH_PROXY_REDIS_URL: redis.url,
    IDENTITY_SERVER_URL: identity.issuer,
    IDENTITY_CLIENT_ID: identity.clientId,
    IDENTITY_CLIENT_SECRET: identity.clientSecret,
    // The suites sign in many times a minute from one address; rate limits have their own test.
    MAX_REQUESTS: '100000',
    MCP_AUTH_PROXY_REGISTRATION_MAX: '100000',
    ...options.env,
  };
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _encoding, callback) {
      logs.push(...String(chunk).split('\n').filter(Boolean));
      callback();
    },
  });
  let proxy: RunningProxy;
  let config: Config;
  let telemetry: Awaited<ReturnType<typeof startTelemetry>> | undefined;
  // Whatever fails (a configuration error included) stops what this stack started.
  try {
    if (options.metadataFile) {
      const metadata = await (await fetch(`${identity.issuer}/.well-known/openid-configuration`)).text();
      await writeFile(options.metadataFile, metadata);
      Object.assign(env, { IDENTITY_SERVER_METADATA_FILE: options.metadataFile, IDENTITY_SERVER_URL: `http://127.0.0.1:${await freePort()}` });
    }
    config = loadConfig(env);
    const logger = createLogger(config, sink);
    telemetry = options.telemetry ? await startTelemetry(config, logger) : undefined;
    proxy = await startProxy(config, logger, undefined, telemetry);
  } catch (err) {
    await telemetry?.shutdown();
    if (!options.idp) await idp?.stop();
    if (!options.redis) await redis.stop();
    throw err;
  }
  const stack: Stack = {
    redis,
    get idp(): UpstreamIdp {
      if (!idp) throw new Error('the upstream IdP has not been started (idpStartsLater: call stack.startIdp())');
      return idp;
    },
    async startIdp() {
      if (!later || idp) throw new Error('startIdp() is for a stack with idpStartsLater, once');
      idp = await startUpstreamIdp(later);
      return idp;
    },
    proxy,
    config,
    baseUrl,
    mcpUrl: `${baseUrl}/mcp`,
    ...(options.https ? { hop: new RouterHop(baseUrl, listenUrl) } : {}),
    logs,
    async stop() {
      await proxy.stop();
      await telemetry?.shutdown();
      if (!options.idp) await idp?.stop();
      // The current one: a test may have restarted Redis.
      if (!options.redis) await stack.redis.stop();
    },
  };
  return stack;
}
