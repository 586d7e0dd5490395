// Telemetry pieces on their own: when OpenTelemetry is on (the rule README states), what spans
// may say (redaction), the metrics endpoint's bearer check, metrics with a real SDK, audit lines.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { Writable } from 'node:stream';
import express from 'express';
import { ConfigError, loadConfig, type Environment } from '../../src/config/index.js';
import { createLogger } from '../../src/logging.js';
import { AuditLog } from '../../src/telemetry/audit.js';
import { metricsEndpoint } from '../../src/telemetry/metrics-endpoint.js';
import { ProxyMetrics } from '../../src/telemetry/metrics.js';
import { redactQuery, redactSpanUrls, redactUrl, redisStatement } from '../../src/telemetry/redaction.js';
import { startTelemetry, telemetryWanted } from '../../src/telemetry/start.js';
import { NO_TELEMETRY } from '../../src/telemetry/telemetry.js';
import { parsePrometheus, sampleValue } from '../helpers/prometheus.js';

const BASE: Record<string, string> = {
  BASE_URL: 'https://proxy.example.com',
  MCP_SERVER_URL: 'http://localhost:3000/mcp',
  IDENTITY_SERVER_URL: 'https://idp.example.com',
  IDENTITY_CLIENT_ID: 'abc',
};
const telemetryOf = (extra: Environment) => loadConfig({ ...BASE, ...extra }).telemetry;

function problemsOf(extra: Environment): string[] {
  try {
    loadConfig({ ...BASE, ...extra });
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.problems;
  }
  assert.fail('the configuration was accepted');
}

function capture() {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk, _encoding, callback) {
      lines.push(...String(chunk).split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>));
      callback();
    },
  });
  return { lines, logger: createLogger({ production: true, logLevel: 'info' }, sink) };
}

describe('telemetry', () => {
  describe('when OpenTelemetry is on', () => {
    const cases: [string, Environment, { traces: boolean; otlpMetrics: boolean; wanted: boolean }][] = [
      ['nothing configured', {}, { traces: false, otlpMetrics: false, wanted: false }],
      ['OTEL_EXPORTER_OTLP_ENDPOINT', { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }, { traces: true, otlpMetrics: true, wanted: true }],
      ['a traces endpoint only', { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://c:4318/v1/traces' }, { traces: true, otlpMetrics: false, wanted: true }],
      ['a metrics endpoint only', { OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: 'http://c:4318/v1/metrics' }, { traces: false, otlpMetrics: true, wanted: true }],
      ['OTEL_TRACES_EXPORTER=console', { OTEL_TRACES_EXPORTER: 'console' }, { traces: true, otlpMetrics: false, wanted: true }],
      ['OTEL_METRICS_EXPORTER=otlp', { OTEL_METRICS_EXPORTER: 'otlp' }, { traces: false, otlpMetrics: true, wanted: true }],
      [
        'an endpoint with both exporters none',
        { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_TRACES_EXPORTER: 'none', OTEL_METRICS_EXPORTER: 'none' },
        { traces: false, otlpMetrics: false, wanted: false },
      ],
      ['OTEL_SDK_DISABLED=true with an endpoint', { OTEL_SDK_DISABLED: 'true', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' }, { traces: false, otlpMetrics: false, wanted: false }],
      ['the metrics path alone', { MCP_AUTH_PROXY_METRICS_PATH: '/metrics' }, { traces: false, otlpMetrics: false, wanted: true }],
      // Audit log records alone: an endpoint is for traces and metrics; OTEL_LOGS_EXPORTER is asked for.
      ['OTEL_LOGS_EXPORTER=otlp alone', { OTEL_LOGS_EXPORTER: 'otlp' }, { traces: false, otlpMetrics: false, wanted: true }],
    ];
    for (const [name, env, expected] of cases) {
      it(name, () => {
        const settings = telemetryOf(env);
        assert.deepEqual({ traces: settings.traces, otlpMetrics: settings.otlpMetrics, wanted: telemetryWanted(settings) }, expected);
      });
    }

    it('exports audit log records over http only, and says so', () => {
      assert.equal(telemetryOf({ OTEL_LOGS_EXPORTER: 'otlp' }).auditLogs, true);
      assert.equal(telemetryOf({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' }).auditLogs, false);
      assert.throws(
        () => loadConfig({ ...BASE, OTEL_LOGS_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }),
        /OTEL_LOGS_EXPORTER: audit log records are exported over http\/protobuf or http\/json, not grpc/,
      );
    });

    it('starts nothing (and imports nothing) when not wanted', async () => {
      const { logger } = capture();
      assert.equal(await startTelemetry(loadConfig(BASE), logger), NO_TELEMETRY);
    });

    it('hands every OTEL_* variable to the SDK, .env ones included', () => {
      const settings = telemetryOf({ OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_BSP_SCHEDULE_DELAY: '100', OTHER: 'x', OTEL_EMPTY: '' });
      assert.deepEqual(settings.sdkEnvironment, { OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_BSP_SCHEDULE_DELAY: '100' });
    });

    it('names the service: OTEL_SERVICE_NAME, then service.name in OTEL_RESOURCE_ATTRIBUTES, then unnamed_mcp_remote_auth_proxy', () => {
      assert.equal(telemetryOf({}).serviceName, 'unnamed_mcp_remote_auth_proxy');
      assert.equal(telemetryOf({ OTEL_RESOURCE_ATTRIBUTES: 'team=a,service.name=my%20proxy' }).serviceName, 'my proxy');
      assert.equal(telemetryOf({ OTEL_RESOURCE_ATTRIBUTES: 'service.name=attr', OTEL_SERVICE_NAME: 'named' }).serviceName, 'named');
    });

    it('refuses bad values, naming the variable', () => {
      assert.deepEqual(problemsOf({ OTEL_TRACES_EXPORTER: 'jaeger' }), ['OTEL_TRACES_EXPORTER: must be one or more of otlp, zipkin, console, none, got "jaeger"']);
      assert.deepEqual(problemsOf({ OTEL_METRICS_EXPORTER: 'prometheus' }), ['OTEL_METRICS_EXPORTER: must be one or more of otlp, none, got "prometheus"']);
      assert.match(problemsOf({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' })[0]!, /^OTEL_EXPORTER_OTLP_ENDPOINT: /);
      assert.match(problemsOf({ MCP_AUTH_PROXY_METRICS_PATH: 'metrics' })[0]!, /^MCP_AUTH_PROXY_METRICS_PATH: must be a URL path/);
      assert.deepEqual(problemsOf({ MCP_AUTH_PROXY_METRICS_PATH: '/metrics', MCP_AUTH_PROXY_METRICS_TOKEN: 'short' }), [
        'MCP_AUTH_PROXY_METRICS_TOKEN: must be at least 16 printable characters without spaces',
      ]);
    });

    it('refuses a metrics path that overlaps the proxy’s own paths', () => {
      for (const path of ['/mcp', '/mcp/metrics', '/token', '/.well-known/metrics', '/interaction', '/']) {
        const [problem, ...rest] = problemsOf({ MCP_AUTH_PROXY_METRICS_PATH: path });
        assert.match(problem ?? '', /^MCP_AUTH_PROXY_METRICS_PATH: must not/, path);
        assert.deepEqual(rest, []);
      }
      assert.equal(telemetryOf({ MCP_AUTH_PROXY_METRICS_PATH: '/internal/metrics/' }).metricsPath, '/internal/metrics');
    });

    it('refuses contradictions: a metrics path with OTEL_SDK_DISABLED, a metrics token without a path', () => {
      assert.deepEqual(problemsOf({ MCP_AUTH_PROXY_METRICS_PATH: '/metrics', OTEL_SDK_DISABLED: 'true' }), [
        'MCP_AUTH_PROXY_METRICS_PATH: metrics need OpenTelemetry, but OTEL_SDK_DISABLED=true (unset one of them)',
      ]);
      assert.deepEqual(problemsOf({ MCP_AUTH_PROXY_METRICS_TOKEN: 'a-long-enough-secret' }), [
        'MCP_AUTH_PROXY_METRICS_TOKEN: is set but MCP_AUTH_PROXY_METRICS_PATH is not (there is no endpoint to protect)',
      ]);
    });

    it('keeps OTLP export headers (API keys) and the metrics token from the MCP server', () => {
      const config = loadConfig({
        ...BASE,
        MCP_SERVER_RUN_COMMAND: 'node',
        MCP_AUTH_PROXY_METRICS_PATH: '/metrics',
        MCP_AUTH_PROXY_METRICS_TOKEN: 'a-long-enough-secret',
        OTEL_EXPORTER_OTLP_HEADERS: 'x-api-key=secret',
        OTEL_EXPORTER_OTLP_TRACES_HEADERS: 'x-api-key=secret',
        OTEL_EXPORTER_OTLP_METRICS_HEADERS: 'x-api-key=secret',
        OTEL_SERVICE_NAME: 'proxy',
      });
      const env = config.mcp.child!.env;
      for (const name of ['MCP_AUTH_PROXY_METRICS_TOKEN', 'OTEL_EXPORTER_OTLP_HEADERS', 'OTEL_EXPORTER_OTLP_TRACES_HEADERS', 'OTEL_EXPORTER_OTLP_METRICS_HEADERS']) {
        assert.equal(env[name], undefined, name);
      }
      assert.equal(env.OTEL_SERVICE_NAME, 'proxy');
    });
  });

  describe('redaction', () => {
    it('keeps query parameter names, never their values', () => {
      assert.equal(redactQuery('code=abc&state=xyz&iss=http%3A%2F%2Fidp'), 'code=REDACTED&state=REDACTED&iss=REDACTED');
      assert.equal(redactQuery('bare-secret-token'), 'REDACTED');
      assert.equal(redactQuery('a=&b'), 'a=REDACTED&REDACTED');
      assert.equal(redactQuery(''), '');
      assert.equal(redactUrl('https://p.example/interaction/identity/callback?code=abc&state=xyz#frag'), 'https://p.example/interaction/identity/callback?code=REDACTED&state=REDACTED');
      assert.equal(redactUrl('/device#user_code=x'), '/device');
      assert.equal(redactUrl('/mcp'), '/mcp');
    });

    it('names the route instead of a sign-in id (the value of its cookies), and keeps fixed routes', () => {
      assert.equal(redactUrl('http://p/interaction/Xy7_abcdefghijklmnop/confirm?x=1'), 'http://p/interaction/:uid/confirm?x=REDACTED');
      assert.equal(redactUrl('/auth/Xy7_abcdefghijklmnop'), '/auth/:uid');
      assert.equal(redactUrl('/device/Xy7_abcdefghijklmnop'), '/device/:uid');
      for (const fixed of ['/interaction/identity/callback', '/device/auth', '/device', '/auth', '/interaction/identity']) assert.equal(redactUrl(fixed), fixed);
    });

    it('rewrites the URL attributes of a span, whatever convention set them, and is idempotent', () => {
      const attributes: Record<string, unknown> = {
        'url.full': 'http://idp/token?code=c1',
        'http.url': 'http://p/cb?code=c2',
        'http.target': '/cb?state=s',
        'url.query': 'code=c3',
        'url.path': '/cb',
      };
      const span = { attributes, setAttribute: (k: string, v: string) => (attributes[k] = v) };
      redactSpanUrls(span);
      redactSpanUrls(span);
      assert.deepEqual(attributes, {
        'url.full': 'http://idp/token?code=REDACTED',
        'http.url': 'http://p/cb?code=REDACTED',
        'http.target': '/cb?state=REDACTED',
        'url.query': 'code=REDACTED',
        'url.path': '/cb',
      });
      const undici: Record<string, unknown> = { 'url.query': '?user_code=ABCD' };
      redactSpanUrls({ attributes: undici, setAttribute: (k, v) => (undici[k] = v) });
      assert.equal(undici['url.query'], '?user_code=REDACTED');
    });

    it('describes Redis commands by the kind of key, never the key (an opaque token is its id)', () => {
      const statement = redisStatement('mcp-auth-proxy:');
      assert.equal(statement('get', ['mcp-auth-proxy:AccessToken:Zm9vYmFyYmF6cXV4cXV1eA']), 'get AccessToken:*');
      assert.equal(statement('set', [Buffer.from('mcp-auth-proxy:RefreshToken:abc'), 'payload', 'EX', 60]), 'set RefreshToken:*');
      assert.equal(statement('incr', ['mcp-auth-proxy:ratelimit:token:1.2.3.4:99']), 'incr ratelimit:*');
      assert.equal(statement('get', ['mcp-auth-proxy:opaque-id-without-kind']), 'get *');
      assert.equal(statement('eval', ['redis.call("get", KEYS[1]) -- x:y', 1, 'k']), 'eval *');
      assert.equal(statement('ping', []), 'ping');
    });
  });

  describe('the metrics endpoint', () => {
    let server: Server;
    let url: string;
    before(async () => {
      const app = express();
      app.get('/metrics', metricsEndpoint((_req, res) => res.end('ok 1\n'), 'a-long-enough-secret'));
      server = createServer(app).listen(0, '127.0.0.1');
      await once(server, 'listening');
      url = `http://127.0.0.1:${(server.address() as { port: number }).port}/metrics`;
    });
    after(() => new Promise((resolve) => server.close(resolve)));

    it('answers 401 with a Bearer challenge without the token or with another one', async () => {
      for (const authorization of [undefined, 'Bearer wrong-but-long-enough', 'Basic YTpi', 'Bearer a-long-enough-secretX']) {
        const response = await fetch(url, authorization ? { headers: { authorization } } : {});
        assert.equal(response.status, 401, authorization);
        assert.equal(response.headers.get('www-authenticate'), 'Bearer realm="metrics"');
        assert.equal(((await response.json()) as { error: string }).error, 'invalid_token');
      }
    });

    it('serves the metrics with the token, uncached', async () => {
      const response = await fetch(url, { headers: { authorization: 'Bearer a-long-enough-secret' } });
      assert.equal(response.status, 200);
      assert.equal(response.headers.get('cache-control'), 'no-store');
      assert.equal(await response.text(), 'ok 1\n');
    });
  });

  describe('metrics', () => {
    it('cost nothing without a meter', () => {
      const metrics = new ProxyMetrics();
      assert.equal(metrics.enabled, false);
      metrics.login('success');
      metrics.mcpRequest('POST', 200, 0.01);
    });

    it('reach the Prometheus endpoint through the SDK (metrics only: no Node SDK)', async () => {
      const config = loadConfig({ ...BASE, MCP_AUTH_PROXY_METRICS_PATH: '/metrics' });
      const { lines, logger } = capture();
      const telemetry = await startTelemetry(config, logger);
      try {
        assert.ok(telemetry.meter && telemetry.scrape);
        assert.ok(lines.some((l) => l.msg === 'OpenTelemetry started' && l.traces === false));
        const metrics = new ProxyMetrics(telemetry.meter);
        metrics.login('success');
        metrics.tokenIssued('authorization_code');
        metrics.denial('invalid_token', 'mcp');
        metrics.mcpRequest('POST', 200, 0.02);
        metrics.mcpRequest('POST', 200, 0.2);
        metrics.mcpRequest('BREW', 404, 0.001);

        const app = express().get('/metrics', metricsEndpoint(telemetry.scrape, undefined));
        const server = createServer(app).listen(0, '127.0.0.1');
        await once(server, 'listening');
        const response = await fetch(`http://127.0.0.1:${(server.address() as { port: number }).port}/metrics`);
        const text = await response.text();
        server.close();
        const samples = parsePrometheus(text);
        assert.equal(sampleValue(samples, 'mcp_auth_proxy_logins_total', { outcome: 'success' }), 1);
        assert.equal(sampleValue(samples, 'mcp_auth_proxy_tokens_issued_total', { grant_type: 'authorization_code' }), 1);
        assert.equal(sampleValue(samples, 'mcp_auth_proxy_denials_total', { reason: 'invalid_token', endpoint: 'mcp' }), 1);
        assert.equal(sampleValue(samples, 'mcp_auth_proxy_mcp_request_duration_count', { http_request_method: 'POST', http_response_status_code: '200' }), 2);
        assert.equal(sampleValue(samples, 'mcp_auth_proxy_mcp_request_duration_bucket', { http_response_status_code: '200', le: '0.05' }), 1);
        // Methods are a closed set: a client cannot make up label values.
        assert.equal(sampleValue(samples, 'mcp_auth_proxy_mcp_request_duration_count', { http_request_method: '_OTHER' }), 1);
        assert.ok(samples.some((s) => s.name === 'target_info' && s.labels.service_name === 'unnamed_mcp_remote_auth_proxy'), text);
      } finally {
        await telemetry.shutdown();
      }
    });
  });

  describe('audit lines', () => {
    it('have a stable shape: audit, grantId, accountId, clientId, and kind or reason', () => {
      const { lines, logger } = capture();
      const audit = new AuditLog(logger);
      const owner = { accountId: 'user-1', clientId: 'client-1' };
      audit.grantCreated('g1', owner);
      audit.grantRefreshed('g1', owner, 'upstream');
      audit.grantRevoked('g1', owner, 'operator');
      assert.deepEqual(
        lines.map(({ level, time, ...rest }) => rest),
        [
          { audit: 'grant.created', grantId: 'g1', accountId: 'user-1', clientId: 'client-1', msg: 'grant created' },
          { audit: 'grant.refreshed', grantId: 'g1', accountId: 'user-1', clientId: 'client-1', kind: 'upstream', msg: 'grant refreshed' },
          { audit: 'grant.revoked', grantId: 'g1', accountId: 'user-1', clientId: 'client-1', reason: 'operator', msg: 'grant revoked' },
        ],
      );
    });
  });
});
