// Discovery of the upstream IdP on real HTTP servers: which failures are transient (the proxy
// starts and retries) and which are definitive (a configuration error that stops startup), the
// backoff between retries, the background retry itself, and UpstreamIdentity while its metadata
// is not loaded.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { Writable } from 'node:stream';
import * as oidc from 'openid-client';
import { pino, type Logger } from 'pino';
import { loadConfig, type Config } from '../../src/config/index.js';
import {
  backoffDelayMs,
  BackgroundDiscovery,
  classifyDiscoveryFailure,
  discover,
  DiscoveryError,
  DISCOVERY_BACKOFF,
} from '../../src/identity/discovery.js';
import { UpstreamIdentity, UpstreamRefreshRefused, UpstreamUnavailable } from '../../src/identity/upstream.js';
import { freePort } from '../helpers/ports.js';
import { until } from '../helpers/wait.js';

/** An IdP stand-in whose answer depends on the first path segment of the request. */
class FakeIdpServer {
  readonly server: Server;
  base = '';
  /** Requests per first path segment. */
  readonly requests = new Map<string, number>();
  /** How many more discovery requests under /flaky get a 503 before the metadata. */
  flakyFailures = 0;
  /** Once the failures are spent, /flaky hangs instead of answering. */
  flakyHangs = false;
  /** Requests to /hang that the client closed. */
  hangClosed = 0;
  readonly #open = new Set<ServerResponse>();

  constructor() {
    this.server = createServer((req, res) => this.#answer(req, res));
  }

  async start(): Promise<void> {
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    this.base = `http://127.0.0.1:${(this.server.address() as { port: number }).port}`;
  }

  async stop(): Promise<void> {
    for (const res of this.#open) res.destroy();
    this.server.closeAllConnections();
    this.server.close();
    await once(this.server, 'close');
  }

  count(segment: string): number {
    return this.requests.get(segment) ?? 0;
  }

  #hang(res: ServerResponse): void {
    this.#open.add(res);
    res.on('close', () => {
      this.#open.delete(res);
      this.hangClosed++;
    });
  }

  #answer(req: IncomingMessage, res: ServerResponse): void {
    const [, segment = '', arg = ''] = (req.url ?? '/').split('/');
    this.requests.set(segment, this.count(segment) + 1);
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const metadata = (issuer: string) => ({
      issuer,
      authorization_endpoint: `${issuer}/auth`,
      token_endpoint: `${issuer}/token`,
      revocation_endpoint: `${issuer}/revoke`,
    });
    switch (segment) {
      case 'status':
        return json(Number(arg), { error: 'whatever' });
      case 'html':
        res.writeHead(200, { 'content-type': 'text/html' });
        return void res.end('<html><body>Not an IdP</body></html>');
      case 'badjson':
        res.writeHead(200, { 'content-type': 'application/json' });
        return void res.end('{"issuer":');
      case 'noissuer':
        return json(200, { authorization_endpoint: `${this.base}/x` });
      case 'wrongissuer':
        return json(200, metadata(`${this.base}/someone-else`));
      case 'redirect':
        res.writeHead(302, { location: `${this.base}/elsewhere` });
        return void res.end();
      case 'reset':
        return void req.socket.destroy();
      case 'hang':
        return this.#hang(res);
      case 'flaky':
        if (this.flakyFailures > 0) {
          this.flakyFailures--;
          return json(503, { error: 'temporarily_unavailable' });
        }
        if (this.flakyHangs) return this.#hang(res);
        return json(200, metadata(`${this.base}/flaky`));
      default:
        return json(404, { error: 'not_found' });
    }
  }
}

const identitySettings = (serverUrl: string): Config['identity'] =>
  loadConfig({
    BASE_URL: 'http://127.0.0.1:3001',
    LOCAL_INSECURE: 'true',
    MCP_SERVER_URL: 'http://127.0.0.1:3000/mcp',
    IDENTITY_SERVER_URL: serverUrl,
    IDENTITY_CLIENT_ID: 'proxy',
    IDENTITY_CLIENT_SECRET: 'secret-of-the-proxy',
  }).identity;

/** What `discover` throws for this URL (it must throw). */
async function failureAt(url: string): Promise<DiscoveryError> {
  try {
    await discover(identitySettings(url));
  } catch (err) {
    assert.ok(err instanceof DiscoveryError, `not a DiscoveryError: ${String(err)}`);
    return err;
  }
  assert.fail(`discovery of ${url} succeeded`);
}

function captureLogs(): { logger: Logger; lines: { level: number; msg: string; [key: string]: unknown }[] } {
  const lines: { level: number; msg: string }[] = [];
  const sink = new Writable({
    write(chunk, _encoding, callback) {
      lines.push(...String(chunk).split('\n').filter(Boolean).map((l) => JSON.parse(l) as { level: number; msg: string }));
      callback();
    },
  });
  return { logger: pino({ level: 'info' }, sink), lines };
}

/** Polls `condition` (cheap, in-process) until it holds; fails after `timeoutMs`. */

describe('upstream IdP discovery', () => {
  let idp: FakeIdpServer;
  const started: UpstreamIdentity[] = [];
  before(async () => {
    idp = new FakeIdpServer();
    await idp.start();
  });
  afterEach(() => {
    for (const identity of started.splice(0)) identity.stop();
    idp.flakyHangs = false;
  });
  after(async () => {
    await idp.stop();
  });

  describe('classification of failures', () => {
    const transient: [string, () => string, RegExp][] = [
      ['HTTP 503', () => `${idp.base}/status/503`, /HTTP 503/],
      ['HTTP 500', () => `${idp.base}/status/500`, /HTTP 500/],
      ['HTTP 502', () => `${idp.base}/status/502`, /HTTP 502/],
      ['HTTP 429 (rate limited)', () => `${idp.base}/status/429`, /HTTP 429/],
      ['a connection reset by the server', () => `${idp.base}/reset`, /fetch failed: UND_ERR_SOCKET|ECONNRESET/],
    ];
    for (const [name, url, reason] of transient) {
      it(`${name} is transient`, async () => {
        const err = await failureAt(url());
        assert.equal(err.kind, 'transient');
        assert.match(err.reason, reason);
      });
    }

    it('a refused connection is transient', async () => {
      const err = await failureAt(`http://127.0.0.1:${await freePort()}`);
      assert.equal(err.kind, 'transient');
      assert.match(err.reason, /ECONNREFUSED/);
    });

    it('a host name that does not resolve is transient (DNS may be what is down)', async () => {
      const err = await failureAt('http://idp.invalid');
      assert.equal(err.kind, 'transient');
      // A resolver that does not answer at all ends in the timeout instead: transient too.
      assert.match(err.reason, /ENOTFOUND|EAI_AGAIN|no answer within/);
    });

    it('a request that times out is transient', async () => {
      // discover() waits 10 s; the same openid-client error with a 1 s timeout.
      const err = await oidc
        .discovery(new URL(`${idp.base}/hang`), 'proxy', undefined, oidc.None(), { execute: [oidc.allowInsecureRequests], timeout: 1 })
        .then(() => assert.fail('discovery succeeded'), (e: unknown) => e);
      assert.deepEqual(classifyDiscoveryFailure(err), { kind: 'transient', reason: 'no answer within 10 s' });
    });

    const definitive: [string, () => string, RegExp][] = [
      ['HTTP 404 (no discovery document there)', () => `${idp.base}/status/404`, /HTTP 404/],
      ['HTTP 401', () => `${idp.base}/status/401`, /HTTP 401/],
      ['HTTP 400', () => `${idp.base}/status/400`, /HTTP 400/],
      ['a redirect', () => `${idp.base}/redirect`, /HTTP 302/],
      ['an HTML page', () => `${idp.base}/html`, /content-type/],
      ['a body that is not JSON', () => `${idp.base}/badjson`, /pars/],
      ['metadata without an issuer', () => `${idp.base}/noissuer`, /invalid response/],
      ['metadata of another issuer', () => `${idp.base}/wrongissuer`, /issuer does not match/],
    ];
    for (const [name, url, reason] of definitive) {
      it(`${name} is definitive`, async () => {
        const err = await failureAt(url());
        assert.equal(err.kind, 'definitive');
        assert.match(err.reason, reason);
      });
    }

    it('names IDENTITY_SERVER_URL, the URL and the reason, and what to check', async () => {
      const url = `${idp.base}/status/404`;
      const err = await failureAt(url);
      assert.equal(
        err.message,
        `IDENTITY_SERVER_URL: OpenID Connect discovery of ${url} failed (unexpected HTTP response status code: HTTP 404); ` +
          'check the URL or provide IDENTITY_SERVER_METADATA_FILE',
      );
    });
  });

  describe('backoff', () => {
    it('doubles from 1 s to a cap of 60 s', () => {
      const ceilings = Array.from({ length: 9 }, (_, attempt) => backoffDelayMs(attempt, DISCOVERY_BACKOFF, () => 1));
      assert.deepEqual(ceilings, [1000, 2000, 4000, 8000, 16_000, 32_000, 60_000, 60_000, 60_000]);
      assert.equal(backoffDelayMs(10_000, DISCOVERY_BACKOFF, () => 1), 60_000, 'no overflow on a long outage');
    });

    it('jitters between half the ceiling and the ceiling', () => {
      assert.equal(backoffDelayMs(0, DISCOVERY_BACKOFF, () => 0), 500);
      assert.equal(backoffDelayMs(3, DISCOVERY_BACKOFF, () => 0.5), 6000);
      assert.equal(backoffDelayMs(20, DISCOVERY_BACKOFF, () => 0), 30_000);
      const delays = new Set(Array.from({ length: 50 }, () => backoffDelayMs(4)));
      assert.ok(delays.size > 1, 'instances restarted together spread their retries');
      for (const delay of delays) assert.ok(delay >= 8000 && delay <= 16_000, String(delay));
    });
  });

  describe('the background retry', () => {
    // Results handed to `loaded` by retries that must never succeed: checked after each test (an
    // assertion thrown inside `loaded` would be the retry's business, not the test's).
    const loadedTooSoon: unknown[] = [];
    afterEach(() => {
      assert.deepEqual(loadedTooSoon.splice(0), [], 'a discovery that must fail loaded');
    });

    it('retries until discovery succeeds, then stops and logs once', async () => {
      idp.flakyFailures = 4;
      const before = idp.count('flaky');
      const { logger, lines } = captureLogs();
      const identity = await UpstreamIdentity.start(identitySettings(`${idp.base}/flaky`), logger, { backoff: { initialMs: 5, maxMs: 20 } });
      started.push(identity);
      assert.equal(identity.metadataLoaded, false);
      const warning = lines.find((l) => l.msg.startsWith('identity provider discovery failed (IDENTITY_SERVER_URL)'));
      assert.ok(warning, JSON.stringify(lines));
      assert.equal(warning.level, 40);
      assert.equal(warning.identityServerUrl, `${idp.base}/flaky`);
      assert.match(String(warning.reason), /HTTP 503/);

      await until(() => identity.metadataLoaded, 'the metadata to load');
      assert.equal(idp.count('flaky') - before, 5, 'four failures, then the success');
      assert.equal(identity.revocationSupported, true);
      const loaded = lines.filter((l) => l.msg.startsWith('identity provider metadata loaded'));
      assert.equal(loaded.length, 1);
      assert.equal(loaded[0]!.failedAttempts, 4);
      // Failures after the first are not logged within the first five minutes.
      assert.equal(lines.filter((l) => l.msg.startsWith('identity provider discovery still failing')).length, 0);
    });

    it("lets what `loaded` throws surface, instead of taking it for a discovery failure to retry", async () => {
      const { logger, lines } = captureLogs();
      const retry = new BackgroundDiscovery({
        attempt: async () => 'metadata',
        loaded: () => {
          throw new Error('loaded failed');
        },
        logger,
        serverUrl: new URL(idp.base),
        backoff: { initialMs: 60_000, maxMs: 60_000 },
        logEveryMs: 0,
      });
      await assert.rejects(retry.tryNow(1000), /loaded failed/);
      retry.stop();
      assert.deepEqual(lines.filter((l) => l.msg.includes('still failing')), [], 'not logged as a discovery failure');
    });

    it('logs a failure that lasts at most once per interval', async () => {
      const { logger, lines } = captureLogs();
      const settings = identitySettings(`${idp.base}/status/503`);
      const before = idp.count('status');
      const retry = new BackgroundDiscovery({
        attempt: () => discover(settings),
        loaded: (result) => loadedTooSoon.push(result),
        logger,
        serverUrl: settings.serverUrl,
        backoff: { initialMs: 2, maxMs: 4 },
        logEveryMs: 60_000,
      });
      await until(() => idp.count('status') - before >= 5, 'five attempts');
      retry.stop();
      assert.equal(lines.length, 0, 'nothing within the interval');

      const { logger: eager, lines: eagerLines } = captureLogs();
      const everyTime = new BackgroundDiscovery({
        attempt: () => discover(settings),
        loaded: (result) => loadedTooSoon.push(result),
        logger: eager,
        serverUrl: settings.serverUrl,
        backoff: { initialMs: 2, maxMs: 4 },
        logEveryMs: 0,
      });
      await until(() => eagerLines.length >= 2, 'two log lines');
      everyTime.stop();
      const [line] = eagerLines;
      assert.equal(line!.msg.startsWith('identity provider discovery still failing (IDENTITY_SERVER_URL)'), true, line!.msg);
      assert.equal(line!.level, 40);
      assert.match(String(line!.reason), /HTTP 503/);
      assert.equal(typeof line!.failedAttempts, 'number');
    });

    it('logs an error when the IdP answers but wrongly (the configuration is wrong)', async () => {
      const { logger, lines } = captureLogs();
      const settings = identitySettings(`${idp.base}/status/404`);
      const retry = new BackgroundDiscovery({
        attempt: () => discover(settings),
        loaded: (result) => loadedTooSoon.push(result),
        logger,
        serverUrl: settings.serverUrl,
        backoff: { initialMs: 2, maxMs: 4 },
        logEveryMs: 0,
      });
      await until(() => lines.length >= 1, 'a log line');
      retry.stop();
      assert.equal(lines[0]!.level, 50);
      assert.match(String(lines[0]!.reason), /HTTP 404/);
    });

    it('stop() ends the retries: no attempt is scheduled or made any more', async () => {
      const { logger } = captureLogs();
      const settings = identitySettings(`${idp.base}/status/502`);
      const count = () => idp.count('status');
      const before = count();
      const retry = new BackgroundDiscovery({
        attempt: () => discover(settings),
        loaded: (result) => loadedTooSoon.push(result),
        logger,
        serverUrl: settings.serverUrl,
        backoff: { initialMs: 2, maxMs: 4 },
      });
      await until(() => count() - before >= 3, 'three attempts');
      retry.stop();
      // An attempt under way may still arrive; none after it.
      await new Promise((r) => setTimeout(r, 20));
      const attempts = count();
      assert.equal(await retry.tryNow(1000), false);
      // Many backoff periods.
      await new Promise((r) => setTimeout(r, 60));
      assert.equal(count(), attempts, 'an attempt after stop()');
    });

    it('stop() of UpstreamIdentity closes a discovery request under way instead of waiting for its timeout', async () => {
      // The attempt at startup gets a 503; the retry's request hangs.
      idp.flakyFailures = 1;
      idp.flakyHangs = true;
      const before = idp.count('flaky');
      const closedBefore = idp.hangClosed;
      const identity = await UpstreamIdentity.start(identitySettings(`${idp.base}/flaky`), captureLogs().logger, {
        backoff: { initialMs: 2, maxMs: 4 },
      });
      started.push(identity);
      await until(() => idp.count('flaky') - before === 2, 'the retry to arrive');
      identity.stop();
      await until(() => idp.hangClosed > closedBefore, 'the retry request to be closed', 2000);
      assert.equal(identity.metadataLoaded, false);
    });
  });

  describe('UpstreamIdentity while the metadata is not loaded', () => {
    async function unloaded(failures = 100): Promise<UpstreamIdentity> {
      idp.flakyFailures = failures;
      const identity = await UpstreamIdentity.start(identitySettings(`${idp.base}/flaky`), captureLogs().logger, {
        // No background attempt during the test: only what the test asks for.
        backoff: { initialMs: 600_000, maxMs: 600_000 },
      });
      started.push(identity);
      assert.equal(identity.metadataLoaded, false);
      return identity;
    }

    it('refresh and revoke are outages (UpstreamUnavailable, never a refusal that would end the grant)', async () => {
      const identity = await unloaded();
      const tokens = { accessToken: 'a', refreshToken: 'r' };
      await assert.rejects(identity.refresh(tokens), (err: unknown) => err instanceof UpstreamUnavailable && !(err instanceof UpstreamRefreshRefused));
      await assert.rejects(identity.revoke(tokens), UpstreamUnavailable);
      await assert.rejects(identity.authorizationUrl(identity.newChecks()), UpstreamUnavailable);
      assert.equal(identity.revocationSupported, false);
    });

    it('a sign-in asks for discovery now: unreachable while it fails, and the first one after the IdP is back loads it', async () => {
      const identity = await unloaded(2);
      const before = idp.count('flaky');
      assert.equal(await identity.isReachable(), false);
      assert.equal(identity.metadataLoaded, false);
      // Concurrent sign-ins share one attempt.
      assert.deepEqual(await Promise.all([identity.isReachable(), identity.isReachable(), identity.isReachable()]), [true, true, true]);
      assert.equal(idp.count('flaky') - before, 2);
      assert.equal(identity.metadataLoaded, true);
      assert.match((await identity.authorizationUrl(identity.newChecks())).href, /\/flaky\/auth\?/);
    });

    it('start() still throws on a definitive failure, naming IDENTITY_SERVER_URL', async () => {
      const url = `${idp.base}/status/404`;
      await assert.rejects(
        UpstreamIdentity.start(identitySettings(url), captureLogs().logger),
        (err: Error) => err instanceof DiscoveryError && err.message.startsWith(`IDENTITY_SERVER_URL: OpenID Connect discovery of ${url} failed`),
      );
    });

    it('connect() (the release check, one-off commands) throws on a transient failure too', async () => {
      idp.flakyFailures = 1;
      await assert.rejects(
        UpstreamIdentity.connect(identitySettings(`${idp.base}/flaky`)),
        (err: Error) => err instanceof DiscoveryError && err.kind === 'transient' && /^IDENTITY_SERVER_URL: /.test(err.message),
      );
    });
  });
});
