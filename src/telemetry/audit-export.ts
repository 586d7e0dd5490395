// OTEL_LOGS_EXPORTER=otlp: audit lines (grants, tool calls) also go out as OpenTelemetry log
// records, through a LoggerProvider of our own rather than a global one: the proxy's other logs
// stay on stdout, and nothing else in the process (a library's log bridge) picks it up. The OTLP
// exporter reads its endpoint and headers from OTEL_EXPORTER_OTLP_(LOGS_)* as the SDK's do.
import type { Resource } from '@opentelemetry/resources';
import { METER_NAME, type AuditRecordExporter } from './telemetry.js';

/** OpenTelemetry's INFO severity. */
const INFO = 9;

type AttributeValue = string | number | boolean;

/** Attributes as log records carry them: scalars as they are, anything else as JSON text. */
function flat(fields: Record<string, unknown>): Record<string, AttributeValue> {
  const attributes: Record<string, AttributeValue> = {};
  for (const [name, value] of Object.entries(fields)) {
    if (value === undefined || value === null) continue;
    attributes[name] = typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' ? value : JSON.stringify(value);
  }
  return attributes;
}

export async function startAuditLogExport(resource: Resource): Promise<{ exporter: AuditRecordExporter; stop(): Promise<void> }> {
  const { BatchLogRecordProcessor, LoggerProvider } = await import('@opentelemetry/sdk-logs');
  const protocol = (process.env.OTEL_EXPORTER_OTLP_LOGS_PROTOCOL ?? process.env.OTEL_EXPORTER_OTLP_PROTOCOL ?? 'http/protobuf').trim();
  const { OTLPLogExporter } = protocol === 'http/json' ? await import('@opentelemetry/exporter-logs-otlp-http') : await import('@opentelemetry/exporter-logs-otlp-proto');
  const provider = new LoggerProvider({ resource, processors: [new BatchLogRecordProcessor({ exporter: new OTLPLogExporter() })] });
  const logger = provider.getLogger(METER_NAME);
  return {
    exporter: {
      emit(message, fields) {
        logger.emit({ severityNumber: INFO, severityText: 'INFO', body: message, attributes: flat(fields) });
      },
    },
    stop: () => provider.shutdown(),
  };
}
