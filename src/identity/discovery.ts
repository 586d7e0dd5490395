// OpenID Connect discovery of the upstream IdP, and what to do when it fails. A failure that can
// pass by itself (the IdP or the network is down, busy or slow) must not keep the proxy from
// starting: `/mcp` needs the IdP only for refreshes, so the proxy starts and retries in the
// background. A failure that says the configuration is wrong (a 404, a response that is not
// discovery metadata, another issuer) still stops startup.
import * as oidc from 'openid-client';
import type { Logger } from 'pino';
import type { Config } from '../config/types.js';
import { isLoopbackHost } from '../http/loopback.js';

/** Seconds one discovery request may take (also every later request to the IdP). */
export const DISCOVERY_TIMEOUT_SECONDS = 10;

/** Network errors (Node and undici codes) that say the IdP did not answer, not that it answered wrongly. */
const TRANSIENT_NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

/** HTTP statuses of an IdP that is down or busy (RFC 9110 §15.6; 408 and 429 ask to come back later). */
const isTransientStatus = (status: number): boolean => status >= 500 || status === 429 || status === 408;

export interface DiscoveryFailure {
  /** `transient`: retry later; `definitive`: the configuration is wrong (or the IdP answers wrongly). */
  kind: 'transient' | 'definitive';
  /** What happened, for the log (no secrets: a status, an error code, a library message). */
  reason: string;
}

/** Classifies an error thrown by openid-client's `discovery()`. */
export function classifyDiscoveryFailure(err: unknown): DiscoveryFailure {
  if (err instanceof oidc.ClientError) {
    if (err.code === 'OAUTH_TIMEOUT') return { kind: 'transient', reason: `no answer within ${DISCOVERY_TIMEOUT_SECONDS} s` };
    if (err.code === 'OAUTH_ABORT') return { kind: 'transient', reason: 'aborted' };
    if (err.cause instanceof Response) {
      const { status } = err.cause;
      return { kind: isTransientStatus(status) && err.code === 'OAUTH_RESPONSE_IS_NOT_CONFORM' ? 'transient' : 'definitive', reason: `${err.message}: HTTP ${status}` };
    }
    return { kind: 'definitive', reason: err.message };
  }
  // undici's fetch rejects with a TypeError "fetch failed" whose cause is the network error.
  const code = networkCode(err);
  if (code !== undefined) return { kind: TRANSIENT_NETWORK_CODES.has(code) ? 'transient' : 'definitive', reason: `${(err as Error).message}: ${code}` };
  const cause = (err as Error).cause;
  return { kind: 'definitive', reason: cause instanceof Error ? `${(err as Error).message}: ${cause.message}` : String((err as Error).message ?? err) };
}

/** The code of the network error under a failed fetch (AggregateError: the first of its errors with one). */
function networkCode(err: unknown): string | undefined {
  if (!(err instanceof TypeError)) return undefined;
  const cause = err.cause as { code?: unknown; errors?: { code?: unknown }[] } | undefined;
  if (typeof cause?.code === 'string') return cause.code;
  const inner = cause?.errors?.find((e) => typeof e.code === 'string');
  return typeof inner?.code === 'string' ? inner.code : undefined;
}

/** Discovery failed; the message names IDENTITY_SERVER_URL, as every startup failure names its variable. */
export class DiscoveryError extends Error {
  readonly kind: DiscoveryFailure['kind'];
  readonly reason: string;

  constructor(serverUrl: URL, failure: DiscoveryFailure, options: ErrorOptions) {
    super(
      `IDENTITY_SERVER_URL: OpenID Connect discovery of ${serverUrl.href} failed (${failure.reason}); ` +
        'check the URL or provide IDENTITY_SERVER_METADATA_FILE',
      options,
    );
    this.name = 'DiscoveryError';
    this.kind = failure.kind;
    this.reason = failure.reason;
  }
}

/** How the proxy authenticates to the IdP's token endpoint. */
function clientAuthentication(settings: Config['identity']): oidc.ClientAuth {
  return settings.clientSecret ? oidc.ClientSecretPost(settings.clientSecret) : oidc.None();
}

/** The client for metadata given as a file (no request to the IdP). */
export function configurationFromFile(settings: Config['identity'], metadata: Record<string, unknown>): oidc.Configuration {
  const client = new oidc.Configuration(metadata as oidc.ServerMetadata, settings.clientId, undefined, clientAuthentication(settings));
  if (settings.serverUrl.protocol === 'http:' || plainHttpOnLoopbackOnly(metadata)) oidc.allowInsecureRequests(client);
  return client;
}

// The endpoints the proxy itself calls (the authorization endpoint is the browser's).
const CALLED_ENDPOINTS = ['token_endpoint', 'userinfo_endpoint', 'revocation_endpoint', 'jwks_uri'];

/**
 * A metadata file whose plain-http endpoints are all on this machine (an IdP for local use):
 * requests to them never cross a network, so they are allowed whatever IDENTITY_SERVER_URL says.
 */
function plainHttpOnLoopbackOnly(metadata: Record<string, unknown>): boolean {
  const urls = CALLED_ENDPOINTS.map((name) => (typeof metadata[name] === 'string' ? URL.parse(metadata[name]) : null)).filter((u) => u !== null);
  const plain = urls.filter((u) => u.protocol === 'http:');
  return plain.length > 0 && plain.every((u) => isLoopbackHost(u.hostname));
}

/**
 * Discovers the IdP's metadata; throws a DiscoveryError. `signal` ends the request early; it then
 * stays attached to the client, so every later request to the IdP ends with it too.
 */
export async function discover(settings: Config['identity'], signal?: AbortSignal): Promise<oidc.Configuration> {
  const insecure = settings.serverUrl.protocol === 'http:';
  try {
    return await oidc.discovery(settings.serverUrl, settings.clientId, undefined, clientAuthentication(settings), {
      execute: insecure ? [oidc.allowInsecureRequests] : [],
      timeout: DISCOVERY_TIMEOUT_SECONDS,
      ...(signal ? { [oidc.customFetch]: fetchEndingWith(signal) } : {}),
    });
  } catch (err) {
    throw new DiscoveryError(settings.serverUrl, classifyDiscoveryFailure(err), { cause: err });
  }
}

/** fetch, with each request also ended by `signal` (besides its own timeout). */
function fetchEndingWith(signal: AbortSignal): oidc.CustomFetch {
  return (url, init) => fetch(url, { ...(init as RequestInit), signal: init.signal ? AbortSignal.any([init.signal, signal]) : signal });
}

export interface BackoffOptions {
  /** The first delay's ceiling (ms); each further one doubles it. */
  initialMs: number;
  /** The largest ceiling (ms). */
  maxMs: number;
}

export const DISCOVERY_BACKOFF: BackoffOptions = { initialMs: 1000, maxMs: 60_000 };

/**
 * The delay before retry number `attempt` (0 for the first): exponential, capped, with "equal
 * jitter" (between half the ceiling and the ceiling) so that every instance restarted at once
 * does not ask the IdP at the same moments.
 */
export function backoffDelayMs(attempt: number, options: BackoffOptions = DISCOVERY_BACKOFF, random: () => number = Math.random): number {
  const ceiling = Math.min(options.maxMs, options.initialMs * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

export interface BackgroundDiscoveryOptions<T> {
  /** One discovery attempt; rejects with a DiscoveryError. */
  attempt(): Promise<T>;
  /** Called once, with the first success. */
  loaded(result: T): void;
  logger: Logger;
  serverUrl: URL;
  backoff?: BackoffOptions;
  /** While it keeps failing, one log line per this many ms (the first failure is logged by the caller). */
  logEveryMs?: number;
}

export const STILL_FAILING_LOG_EVERY_MS = 5 * 60_000;

/**
 * Retries discovery in the background until it succeeds or stop() is called: one attempt at a
 * time (a sign-in may ask for one now, see `tryNow`), a timer between attempts, and a log line
 * on success and, while it fails, at most once per `logEveryMs`.
 */
export class BackgroundDiscovery<T> {
  readonly #options: BackgroundDiscoveryOptions<T>;
  readonly #startedAt = Date.now();
  #timer: NodeJS.Timeout | undefined;
  #inFlight: Promise<boolean> | undefined;
  #failures = 1;
  #lastLoggedAt = Date.now();
  #done = false;

  /** The first attempt (made by the caller, at startup) already failed; the next one is scheduled. */
  constructor(options: BackgroundDiscoveryOptions<T>) {
    this.#options = options;
    this.#schedule();
  }

  /** Attempts now (or joins the attempt under way); resolves within `timeoutMs` with whether it has loaded. */
  async tryNow(timeoutMs: number): Promise<boolean> {
    if (this.#done) return false;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
    return Promise.race([this.#run(), late]).finally(() => clearTimeout(timer));
  }

  stop(): void {
    this.#done = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #schedule(): void {
    if (this.#done) return;
    const delay = backoffDelayMs(this.#failures - 1, this.#options.backoff);
    // Unref'd: the retry alone must never keep a process alive (stop() clears it anyway).
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.#run();
    }, delay).unref();
  }

  #run(): Promise<boolean> {
    this.#inFlight ??= this.#attemptOnce().finally(() => (this.#inFlight = undefined));
    return this.#inFlight;
  }

  async #attemptOnce(): Promise<boolean> {
    const { attempt, loaded, logger, serverUrl } = this.#options;
    let result: T;
    try {
      result = await attempt();
    } catch (err) {
      if (this.#done) return false;
      this.#failures++;
      const logEveryMs = this.#options.logEveryMs ?? STILL_FAILING_LOG_EVERY_MS;
      if (Date.now() - this.#lastLoggedAt >= logEveryMs) {
        this.#lastLoggedAt = Date.now();
        const definitive = err instanceof DiscoveryError && err.kind === 'definitive';
        logger[definitive ? 'error' : 'warn'](
          { identityServerUrl: serverUrl.href, reason: err instanceof DiscoveryError ? err.reason : (err as Error).message, failedAttempts: this.#failures },
          'identity provider discovery still failing (IDENTITY_SERVER_URL): sign-ins and upstream refreshes answer 503; retrying',
        );
      }
      // A timer fired by an earlier success or stop() is gone; one from tryNow must not double the schedule.
      if (this.#timer === undefined) this.#schedule();
      return false;
    }
    if (this.#done) return false;
    this.stop();
    // Outside the try: what `loaded` throws is its own failure, never a discovery failure to retry.
    loaded(result);
    logger.info(
      { identityServerUrl: serverUrl.href, failedAttempts: this.#failures, unavailableSeconds: Math.round((Date.now() - this.#startedAt) / 1000) },
      'identity provider metadata loaded: sign-ins and upstream refreshes work again',
    );
    return true;
  }
}
