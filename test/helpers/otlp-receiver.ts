// An OTLP/HTTP receiver for tests: accepts the JSON encoding (OTEL_EXPORTER_OTLP_PROTOCOL=
// http/json) on /v1/traces, /v1/metrics and /v1/logs and keeps what it received, flattened.
import { once } from 'node:events';
import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage } from 'node:http';
import { gunzipSync } from 'node:zlib';

export const SPAN_KIND = { INTERNAL: 1, SERVER: 2, CLIENT: 3 } as const;

interface AnyValue {
  stringValue?: string;
  intValue?: string | number;
  doubleValue?: number;
  boolValue?: boolean;
  arrayValue?: { values?: AnyValue[] };
}
interface KeyValue {
  key: string;
  value: AnyValue;
}

export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
  name: string;
  kind: number;
  scope: string;
  resource: Record<string, unknown>;
  attributes: Record<string, unknown>;
  /** Everything the span says, as text: for looking for secrets. */
  text: string;
}

export interface ReceivedMetric {
  name: string;
  resource: Record<string, unknown>;
  /** The data points' attributes and values. */
  points: { attributes: Record<string, unknown>; value: number | undefined }[];
}

export interface ReceivedLogRecord {
  body: unknown;
  severityText: string | undefined;
  scope: string;
  resource: Record<string, unknown>;
  attributes: Record<string, unknown>;
}

export interface OtlpReceiver {
  url: string;
  spans: ReceivedSpan[];
  metrics: ReceivedMetric[];
  logs: ReceivedLogRecord[];
  /** Resolves once `count` log records have come. */
  waitForLogs(count: number, timeoutMs?: number): Promise<ReceivedLogRecord[]>;
  /** Resolves once some received span satisfies `match`. */
  waitForSpan(match: (span: ReceivedSpan) => boolean, timeoutMs?: number): Promise<ReceivedSpan>;
  waitForMetric(name: string, timeoutMs?: number): Promise<ReceivedMetric>;
  stop(): Promise<void>;
}

function valueOf(v: AnyValue): unknown {
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.doubleValue !== undefined) return v.doubleValue;
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.arrayValue) return (v.arrayValue.values ?? []).map(valueOf);
  return undefined;
}

function attributesOf(list: KeyValue[] | undefined): Record<string, unknown> {
  return Object.fromEntries((list ?? []).map((kv) => [kv.key, valueOf(kv.value)]));
}

async function bodyOf(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  let raw = Buffer.concat(chunks);
  if (req.headers['content-encoding'] === 'gzip') raw = gunzipSync(raw);
  return JSON.parse(raw.toString('utf8'));
}

interface TracesRequest {
  resourceSpans?: {
    resource?: { attributes?: KeyValue[] };
    scopeSpans?: {
      scope?: { name?: string };
      spans?: { traceId: string; spanId: string; parentSpanId?: string; name: string; kind: number; attributes?: KeyValue[]; events?: unknown[]; status?: unknown }[];
    }[];
  }[];
}

interface LogsRequest {
  resourceLogs?: {
    resource?: { attributes?: KeyValue[] };
    scopeLogs?: { scope?: { name?: string }; logRecords?: { body?: AnyValue; severityText?: string; attributes?: KeyValue[] }[] }[];
  }[];
}

interface MetricsRequest {
  resourceMetrics?: {
    resource?: { attributes?: KeyValue[] };
    scopeMetrics?: {
      metrics?: {
        name: string;
        sum?: { dataPoints?: { attributes?: KeyValue[]; asInt?: string | number; asDouble?: number }[] };
        histogram?: { dataPoints?: { attributes?: KeyValue[]; count?: string | number }[] };
      }[];
    }[];
  }[];
}

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = [];
  const metrics: ReceivedMetric[] = [];
  const logs: ReceivedLogRecord[] = [];
  const events = new EventEmitter();

  const server = createServer((req, res) => {
    void (async () => {
      const body = await bodyOf(req);
      if (req.url === '/v1/traces') {
        for (const rs of (body as TracesRequest).resourceSpans ?? []) {
          const resource = attributesOf(rs.resource?.attributes);
          for (const ss of rs.scopeSpans ?? []) {
            for (const s of ss.spans ?? []) {
              spans.push({
                traceId: s.traceId,
                spanId: s.spanId,
                parentSpanId: s.parentSpanId || undefined,
                name: s.name,
                kind: s.kind,
                scope: ss.scope?.name ?? '',
                resource,
                attributes: attributesOf(s.attributes),
                text: JSON.stringify(s),
              });
            }
          }
        }
      } else if (req.url === '/v1/logs') {
        for (const rl of (body as LogsRequest).resourceLogs ?? []) {
          const resource = attributesOf(rl.resource?.attributes);
          for (const sl of rl.scopeLogs ?? []) {
            for (const r of sl.logRecords ?? []) {
              logs.push({ body: r.body ? valueOf(r.body) : undefined, severityText: r.severityText, scope: sl.scope?.name ?? '', resource, attributes: attributesOf(r.attributes) });
            }
          }
        }
      } else if (req.url === '/v1/metrics') {
        for (const rm of (body as MetricsRequest).resourceMetrics ?? []) {
          const resource = attributesOf(rm.resource?.attributes);
          for (const sm of rm.scopeMetrics ?? []) {
            for (const m of sm.metrics ?? []) {
              const points = [
                ...(m.sum?.dataPoints ?? []).map((p) => ({ attributes: attributesOf(p.attributes), value: Number(p.asInt ?? p.asDouble) })),
                ...(m.histogram?.dataPoints ?? []).map((p) => ({ attributes: attributesOf(p.attributes), value: Number(p.count) })),
              ];
              metrics.push({ name: m.name, resource, points });
            }
          }
        }
      } else {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      events.emit('received');
    })().catch((err: unknown) => {
      res.writeHead(400, { 'content-type': 'text/plain' }).end(String(err));
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };

  function waitFor<T>(find: () => T | undefined, what: string, timeoutMs: number): Promise<T> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = find();
        if (found === undefined) return;
        clearTimeout(timer);
        events.off('received', check);
        resolve(found);
      };
      const timer = setTimeout(() => {
        events.off('received', check);
        reject(new Error(`the OTLP receiver got no ${what} within ${timeoutMs} ms (${spans.length} spans, ${metrics.length} metrics so far)`));
      }, timeoutMs);
      events.on('received', check);
      check();
    });
  }

  return {
    url: `http://127.0.0.1:${port}`,
    spans,
    metrics,
    logs,
    waitForLogs: (count, timeoutMs = 10_000) => waitFor(() => (logs.length >= count ? logs : undefined), `${count} log records`, timeoutMs),
    waitForSpan: (match, timeoutMs = 10_000) => waitFor(() => spans.find(match), 'matching span', timeoutMs),
    waitForMetric: (name, timeoutMs = 10_000) => waitFor(() => [...metrics].reverse().find((m) => m.name === name), `metric ${name}`, timeoutMs),
    stop() {
      return new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      });
    },
  };
}
