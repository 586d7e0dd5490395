// What the rest of the proxy sees of OpenTelemetry: a meter for our metrics, the Prometheus
// scrape handler, and a flush at shutdown. Only types are imported here, so a proxy with
// telemetry off loads nothing of OpenTelemetry.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Meter } from '@opentelemetry/api';

export interface Telemetry {
  /** The meter of our metrics; undefined when no metrics are exported (recording is then free). */
  meter: Meter | undefined;
  /** Writes the Prometheus text format; set when MCP_AUTH_PROXY_METRICS_PATH is. */
  scrape: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
  /** Where audit lines are also exported as log records (OTEL_LOGS_EXPORTER=otlp). */
  auditLogs?: AuditRecordExporter | undefined;
  /** Exports what is pending (spans, metrics) and stops the SDK; never throws. */
  shutdown(): Promise<void>;
}

/** Exports one audit line as an OpenTelemetry log record. */
export interface AuditRecordExporter {
  emit(message: string, attributes: Record<string, unknown>): void;
}

/** The name our metrics are recorded under. */
export const METER_NAME = 'mcp-auth-proxy';

/** A started OpenTelemetry SDK (metrics only, or the Node SDK with traces), as sdk.ts drives it. */
export interface StartedSdk {
  meter: Meter | undefined;
  stop(): Promise<void>;
}

export const NO_TELEMETRY: Telemetry = Object.freeze({
  meter: undefined,
  scrape: undefined,
  shutdown: async () => {},
});
