// Telemetry of the released command, as an operator runs it: traces exported over OTLP to a
// receiver (spans for a proxied request, nothing secret in them), the Prometheus endpoint after a
// real flow, the audit lines of a grant's life, and no OpenTelemetry at all when it is off.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { connectWithOAuth, TestOAuthProvider } from '../helpers/mcp-client.js';
import { startOtlpReceiver, SPAN_KIND, type OtlpReceiver, type ReceivedSpan } from '../helpers/otlp-receiver.js';
import { freePort } from '../helpers/ports.js';
import { parsePrometheus, sampleValue } from '../helpers/prometheus.js';
import { buildOnce, jsonLines, spawnProxy, type Env, type ProxyResult } from '../helpers/proxy-process.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { proxyEnvironment } from '../helpers/proxy-environment.js';
import { startUpstreamIdp, type UpstreamIdp } from '../helpers/upstream-idp.js';

const METRICS_TOKEN = 'scrape-secret-0123456789';
const MCP_HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

describe('telemetry of the released command', function () {
  this.timeout(60_000);
  let redis: RedisServer;
  let tmp: string;

  before(async function () {
    this.timeout(180_000);
    await buildOnce();
    tmp = await mkdtemp(join(tmpdir(), 'mcp-auth-proxy-telemetry-'));
    redis = await startRedis();
  });
  after(async () => {
    await redis?.stop();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  /** A production configuration (JSON logs) on fresh ports, with the MCP fixture as the child. */
  async function setup(idpFor?: (baseUrl: string) => Promise<UpstreamIdp>, overrides: Env = {}) {
    const port = await freePort();
    const idp = await (idpFor ?? ((url) => startUpstreamIdp({ redirectUris: [`${url}/interaction/identity/callback`] })))(`http://127.0.0.1:${port}`);
    // The fixture checks upstream tokens at the IdP: a revoked one gets 401, and the proxy refreshes.
    const mcpEnv = { MCP_FIXTURE_TOKEN_CHECK_URL: `${idp.issuer}/me` };
    const { env, mcpPort, baseUrl } = await proxyEnvironment({ redisUrl: redis.url, idp, port, mcpEnv, overrides });
    return { env, port, mcpPort, baseUrl, idp };
  }

  describe('with an OTLP endpoint and the Prometheus endpoint, after a real flow', () => {
    let receiver: OtlpReceiver;
    let idp: UpstreamIdp;
    let port: number;
    let mcpPort: number;
    let baseUrl: string;
    let result: ProxyResult;
    let auth: TestOAuthProvider;
    let client: Client | undefined;
    const secrets = new Map<string, string>();
    let metricsUnauthorized: Response;
    let metricsText: string;
    let upstreamTraceparent: string | undefined;

    before(async function () {
      this.timeout(120_000);
      receiver = await startOtlpReceiver();
      const s = await setup(undefined, {
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
        MCP_AUTH_PROXY_METRICS_PATH: '/metrics',
        MCP_AUTH_PROXY_METRICS_TOKEN: METRICS_TOKEN,
      });
      ({ idp, port, mcpPort, baseUrl } = s);
      secrets.set('IDENTITY_CLIENT_SECRET', idp.clientSecret);
      const proxy = spawnProxy(['start'], s.env);
      try {
        await proxy.waitForListening(port);
        await proxy.waitForOutput(/MCP auth proxy listening/);

        // Sign in as an MCP client does, then call tools through the proxy.
        auth = new TestOAuthProvider();
        client = await connectWithOAuth(`${baseUrl}/mcp`, auth);
        await client.listTools();
        const whoami = await client.callTool({ name: 'whoami', arguments: {} });
        const seen = JSON.parse((whoami.content as { text: string }[])[0]!.text) as { authorization: string; headers: Record<string, string> };
        upstreamTraceparent = seen.headers.traceparent;
        secrets.set('upstream access token', seen.authorization.replace(/^Bearer /, ''));
        secrets.set('proxy access token', auth.savedTokens!.access_token);
        secrets.set('proxy refresh token', auth.savedTokens!.refresh_token!);
        secrets.set('client authorization code', auth.callback!.searchParams.get('code')!);
        for (const url of auth.browser.history.map((href) => new URL(href))) {
          for (const name of ['code', 'state']) {
            const value = url.searchParams.get(name);
            if (value) secrets.set(`${name} at ${url.pathname}`, value);
          }
        }

        // The upstream token stops working: the proxy refreshes it and retries (an upstream refresh).
        await idp.revokeAllAccessTokens();
        await client.callTool({ name: 'whoami', arguments: {} });

        // The client rotates its refresh token, then revokes the new one (RFC 7009): the grant ends.
        const clientId = auth.client!.client_id;
        const refreshed = await fetch(`${baseUrl}/token`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: auth.savedTokens!.refresh_token!, client_id: clientId }),
        });
        assert.equal(refreshed.status, 200);
        const tokens = (await refreshed.json()) as { access_token: string; refresh_token: string };
        secrets.set('rotated access token', tokens.access_token);
        secrets.set('rotated refresh token', tokens.refresh_token);

        // One proxied request whose trace the assertions follow.
        const traced = await fetch(`${baseUrl}/mcp`, {
          method: 'POST',
          headers: { ...MCP_HEADERS, authorization: `Bearer ${tokens.access_token}` },
          body: JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/list', params: {} }),
        });
        assert.equal(traced.status, 200, await traced.text());

        const revoked = await fetch(`${baseUrl}/token/revocation`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ token: tokens.refresh_token, token_type_hint: 'refresh_token', client_id: clientId }),
        });
        assert.equal(revoked.status, 200);

        // Refusals: no token, a token that is not ours, a browser origin that is not allowed.
        const refusals: Record<string, string>[] = [{}, { authorization: 'Bearer not-a-token-of-this-proxy' }, { origin: 'https://evil.example' }];
        for (const headers of refusals) {
          const refused = await fetch(`${baseUrl}/mcp`, { method: 'POST', headers: { ...MCP_HEADERS, ...headers }, body: '{}' });
          await refused.body?.cancel();
        }

        metricsUnauthorized = await fetch(`${baseUrl}/metrics`);
        await metricsUnauthorized.body?.cancel();
        const scraped = await fetch(`${baseUrl}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
        assert.equal(scraped.status, 200);
        metricsText = await scraped.text();
      } finally {
        await client?.close().catch(() => {});
        // SIGTERM: the proxy exports the spans still in its batch before it exits.
        result = await proxy.stop();
        await idp.stop();
      }
    });
    after(async () => {
      await receiver?.stop();
    });

    it('exits 0 on SIGTERM after exporting', () => {
      assert.equal(result.code, 0, `stdout:\n${result.stdout}\nstderr:\n${result.stderr}`);
      assert.ok(receiver.spans.length > 0, 'no span reached the receiver');
    });

    it('exports the spans of a proxied request: POST /mcp, its call to the MCP server, Redis and Express', () => {
      const servers = receiver.spans.filter(
        (s) => s.kind === SPAN_KIND.SERVER && s.attributes['http.request.method'] === 'POST' && s.attributes['url.path'] === '/mcp' && s.attributes['http.response.status_code'] === 200,
      );
      assert.ok(servers.length > 0, `no server span for POST /mcp in:\n${receiver.spans.map((s) => `${s.kind} ${s.name}`).join('\n')}`);
      // The proxied request of some trace reaches the MCP server and Redis.
      const complete = servers.find((server) => {
        const trace = receiver.spans.filter((s) => s.traceId === server.traceId);
        return (
          trace.some((s) => s.kind === SPAN_KIND.CLIENT && s.attributes['server.port'] === mcpPort && s.attributes['url.full'] === `http://127.0.0.1:${mcpPort}/mcp`) &&
          trace.some((s) => s.attributes['db.system.name'] === 'redis') &&
          trace.some((s) => s.scope === '@opentelemetry/instrumentation-express')
        );
      });
      assert.ok(complete, 'no POST /mcp trace with a client span to the MCP server, a Redis span and Express spans');
      const trace = receiver.spans.filter((s) => s.traceId === complete.traceId);
      const upstream = trace.find((s) => s.kind === SPAN_KIND.CLIENT && s.attributes['server.port'] === mcpPort)!;
      assert.ok(isDescendant(upstream, complete, trace), 'the MCP server call is not inside the /mcp server span');
      assert.equal(complete.name, 'POST /mcp');
    });

    it('passes the trace on to the MCP server (traceparent)', () => {
      assert.match(upstreamTraceparent ?? '', /^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/);
      const traceId = upstreamTraceparent!.split('-')[1];
      assert.ok(receiver.spans.some((s) => s.traceId === traceId && s.kind === SPAN_KIND.CLIENT), 'the traceparent names no exported trace');
    });

    it('names the service unnamed_mcp_remote_auth_proxy', () => {
      assert.deepEqual([...new Set(receiver.spans.map((s) => s.resource['service.name']))], ['unnamed_mcp_remote_auth_proxy']);
    });

    it("traces the calls to the identity provider (openid-client's fetch)", () => {
      const idpPort = Number(new URL(idp.issuer).port);
      const calls = receiver.spans.filter((s) => s.scope === '@opentelemetry/instrumentation-undici' && s.attributes['server.port'] === idpPort);
      assert.ok(calls.some((s) => s.attributes['url.path'] === '/token'), `no token request to the IdP among ${calls.map((s) => s.attributes['url.full']).join(', ')}`);
    });

    it('puts no token, code, state or secret in any span, and redacts query strings', () => {
      assert.ok(secrets.size >= 8, `only ${[...secrets.keys()].join(', ')}`);
      for (const span of receiver.spans) {
        for (const [what, value] of secrets) {
          assert.ok(!span.text.includes(value), `a span (${span.name}) contains the ${what}: ${span.text}`);
        }
      }
      const callback = receiver.spans.find((s) => s.kind === SPAN_KIND.SERVER && s.attributes['url.path'] === '/interaction/identity/callback');
      assert.ok(callback, 'no span for the identity callback');
      assert.match(String(callback.attributes['url.query']), /^(\w+=REDACTED&?)+$/);
      const statements = receiver.spans.flatMap((s) => (typeof s.attributes['db.query.text'] === 'string' ? [s.attributes['db.query.text']] : []));
      assert.ok(statements.includes('get AccessToken:*'), `Redis statements: ${[...new Set(statements)].join(', ')}`);
    });

    it('serves the metrics endpoint only with its bearer token, and leaves it out of traces and logs', () => {
      assert.equal(metricsUnauthorized.status, 401);
      assert.match(metricsUnauthorized.headers.get('www-authenticate') ?? '', /^Bearer/);
      assert.equal(receiver.spans.some((s) => s.attributes['url.path'] === '/metrics'), false);
      assert.equal(jsonLines(result.stdout).some((l) => (l.req as { path?: string } | undefined)?.path === '/metrics'), false);
    });

    it('counts logins, consents, tokens issued, upstream refreshes, denials and proxied requests', () => {
      const samples = parsePrometheus(metricsText);
      assert.equal(sampleValue(samples, 'mcp_auth_proxy_logins_total', { outcome: 'success' }), 1, metricsText);
      assert.equal(sampleValue(samples, 'mcp_auth_proxy_consents_total', { action: 'shown' }), 1);
      assert.equal(sampleValue(samples, 'mcp_auth_proxy_consents_total', { action: 'confirmed' }), 1);
      assert.equal(sampleValue(samples, 'mcp_auth_proxy_tokens_issued_total', { grant_type: 'authorization_code' }), 1);
      assert.equal(sampleValue(samples, 'mcp_auth_proxy_tokens_issued_total', { grant_type: 'refresh_token' }), 1);
      assert.equal(sampleValue(samples, 'mcp_auth_proxy_upstream_refreshes_total', { outcome: 'success' }), 1);
      for (const reason of ['missing_token', 'invalid_token', 'forbidden_origin']) {
        assert.ok(sampleValue(samples, 'mcp_auth_proxy_denials_total', { reason, endpoint: 'mcp' }) >= 1, `no ${reason} denial`);
      }
      const proxied = sampleValue(samples, 'mcp_auth_proxy_mcp_request_duration_count', { http_request_method: 'POST', http_response_status_code: '200' });
      assert.ok(proxied >= 4, `${proxied} proxied POST /mcp 200 requests counted`);
      assert.ok(sampleValue(samples, 'mcp_auth_proxy_mcp_request_duration_bucket', { http_response_status_code: '200', le: '+Inf' }) >= proxied);
      assert.equal(sampleValue(samples, 'mcp_auth_proxy_mcp_request_duration_count', { http_response_status_code: '401' }) >= 2, true);
      // The instrumentations' own standard metrics come along when traces are on.
      assert.ok(sampleValue(samples, 'http_server_request_duration_count') > 0, 'no http.server.request.duration');
    });

    it('also exports the metrics over OTLP', async () => {
      const logins = await receiver.waitForMetric('mcp_auth_proxy.logins');
      assert.ok(logins.points.some((p) => p.attributes.outcome === 'success' && p.value === 1));
    });

    it('writes an audit line when a grant is created, refreshed (both ways) and revoked, never with a token', () => {
      const audit = jsonLines(result.stdout).filter((l) => typeof l.audit === 'string');
      const clientId = auth.client!.client_id;
      const created = audit.filter((l) => l.audit === 'grant.created');
      assert.equal(created.length, 1, JSON.stringify(audit));
      const grantId = created[0]!.grantId;
      assert.equal(typeof grantId, 'string');
      const expected = [
        { audit: 'grant.created', grantId, accountId: idp.user.sub, clientId },
        { audit: 'grant.refreshed', grantId, accountId: idp.user.sub, clientId, kind: 'upstream' },
        { audit: 'grant.refreshed', grantId, accountId: idp.user.sub, clientId, kind: 'refresh_token' },
        { audit: 'grant.revoked', grantId, accountId: idp.user.sub, clientId, reason: 'client_revocation' },
      ];
      for (const line of expected) {
        assert.ok(
          audit.some((l) => Object.entries(line).every(([k, v]) => l[k] === v)),
          `no audit line ${JSON.stringify(line)} in:\n${audit.map((l) => JSON.stringify(l)).join('\n')}`,
        );
      }
      for (const line of audit) {
        const text = JSON.stringify(line);
        for (const [what, value] of secrets) assert.ok(!text.includes(value), `an audit line contains the ${what}`);
      }
    });
  });

  describe('which modules load', () => {
    /**
     * A preload that writes every module the process loaded (CommonJS and ESM: OpenTelemetry ships
     * both) to a file when it exits, through Node's synchronous module hooks (22.15+).
     */
    async function moduleProbe(): Promise<{ args: string[]; loaded(): Promise<string[]>; file: string }> {
      const file = join(tmp, `modules-${Math.random().toString(36).slice(2)}.json`);
      const probe = join(tmp, 'probe.mjs');
      await writeFile(
        probe,
        `import { writeFileSync } from 'node:fs';
import { registerHooks } from 'node:module';
import { fileURLToPath } from 'node:url';
const loaded = new Set();
registerHooks({
  load(url, context, nextLoad) {
    loaded.add(url.startsWith('file:') ? fileURLToPath(url) : url);
    return nextLoad(url, context);
  },
});
process.on('exit', () => writeFileSync(process.env.TEST_MODULES_FILE, JSON.stringify([...loaded])));
`,
      );
      return { args: ['--import', probe], file, loaded: async () => JSON.parse(await readFile(file, 'utf8')) as string[] };
    }

    async function modulesLoadedBy(overrides: Env): Promise<string[]> {
      const probe = await moduleProbe();
      const { env, idp } = await setup((url) => startUpstreamIdp({ redirectUris: [`${url}/interaction/identity/callback`] }), {
        ...overrides,
        TEST_MODULES_FILE: probe.file,
      });
      try {
        const result = await spawnProxy(['verify'], env, { nodeArgs: probe.args }).exited;
        assert.equal(result.code, 0, `stdout:\n${result.stdout}\nstderr:\n${result.stderr}`);
      } finally {
        await idp.stop();
      }
      const loaded = await probe.loaded();
      assert.ok(loaded.some((p) => p.includes('/node_modules/express/')), 'the probe saw no module of the app');
      return loaded.filter((p) => /[/\\](@opentelemetry|import-in-the-middle|require-in-the-middle)[/\\]/.test(p));
    }

    it('loads no OpenTelemetry module when no exporter is configured', async () => {
      assert.deepEqual(await modulesLoadedBy({}), []);
    });

    it('loads no OpenTelemetry module with OTEL_SDK_DISABLED=true, even with an endpoint set', async () => {
      assert.deepEqual(await modulesLoadedBy({ OTEL_SDK_DISABLED: 'true', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9' }), []);
    });

    it('with only the metrics path, loads the metrics SDK but not the Node SDK nor any instrumentation', async () => {
      const loaded = await modulesLoadedBy({ MCP_AUTH_PROXY_METRICS_PATH: '/metrics' });
      assert.ok(loaded.some((p) => p.includes('@opentelemetry/sdk-metrics')), 'the metrics SDK was not loaded');
      assert.deepEqual(
        loaded.filter((p) => /@opentelemetry[/\\](sdk-node|instrumentation)/.test(p) || p.includes('in-the-middle')),
        [],
      );
    });

    it('(the probe sees the SDK when an endpoint is set)', async () => {
      const receiver = await startOtlpReceiver();
      try {
        const loaded = await modulesLoadedBy({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' });
        assert.ok(loaded.some((p) => p.includes('@opentelemetry/sdk-node')), 'the SDK was not loaded');
      } finally {
        await receiver.stop();
      }
    });
  });
});

function isDescendant(span: ReceivedSpan, ancestor: ReceivedSpan, trace: ReceivedSpan[]): boolean {
  const byId = new Map(trace.map((s) => [s.spanId, s]));
  for (let current = span.parentSpanId ? byId.get(span.parentSpanId) : undefined; current; current = current.parentSpanId ? byId.get(current.parentSpanId) : undefined) {
    if (current.spanId === ancestor.spanId) return true;
  }
  return false;
}
