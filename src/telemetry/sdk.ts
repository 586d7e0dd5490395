// The OpenTelemetry SDK, loaded only when telemetry is on. Metrics alone (the Prometheus
// endpoint) need just a MeterProvider; traces or OTLP export bring in the Node SDK and its
// instrumentations (node-sdk.ts), which is much heavier to load.
import { diag, DiagLogLevel } from '@opentelemetry/api';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { defaultResource, detectResources, envDetector, hostDetector, processDetector, resourceFromAttributes, type Resource } from '@opentelemetry/resources';
import { MeterProvider, type IMetricReader } from '@opentelemetry/sdk-metrics';
import type { Logger } from 'pino';
import type { Config } from '../config/types.js';
import { METER_NAME, type StartedSdk, type Telemetry } from './telemetry.js';

// Heroku allows 30 s from SIGTERM to exit; an unreachable collector must not use them up.
const SHUTDOWN_LIMIT_MS = 5_000;

/** SDK diagnostics (failed exports …) become warnings in our logs, unless OTEL_LOG_LEVEL asks for the SDK's own. */
function routeDiagnostics(logger: Logger): void {
  const warn = (message: string) => logger.warn({ message }, 'OpenTelemetry');
  const ignore = () => {};
  diag.setLogger({ error: warn, warn, info: ignore, debug: ignore, verbose: ignore }, DiagLogLevel.WARN);
}

export function serviceResource(serviceName: string): Resource {
  return defaultResource()
    .merge(detectResources({ detectors: [envDetector, processDetector, hostDetector] }))
    .merge(resourceFromAttributes({ 'service.name': serviceName }));
}

export async function startSdk(config: Config, logger: Logger): Promise<Telemetry> {
  const settings = config.telemetry;
  // The SDK reads OTEL_* from process.env itself: the values that came from .env reach it here.
  for (const [name, value] of Object.entries(settings.sdkEnvironment)) process.env[name] ??= value;
  routeDiagnostics(logger);

  const resource = serviceResource(settings.serviceName);
  const prometheus = settings.metricsPath ? new PrometheusExporter({ preventServerStart: true }) : undefined;
  const readers: IMetricReader[] = prometheus ? [prometheus] : [];
  let started: StartedSdk;
  if (settings.traces || settings.otlpMetrics) {
    const { startNodeSdk } = await import('./node-sdk.js');
    started = await startNodeSdk(config, resource, readers);
  } else {
    const provider = new MeterProvider({ resource, readers });
    started = { meter: provider.getMeter(METER_NAME), stop: () => provider.shutdown() };
  }

  const auditLogs = settings.auditLogs ? await (await import('./audit-export.js')).startAuditLogExport(resource) : undefined;

  let stopping: Promise<void> | undefined;
  return {
    meter: started.meter,
    scrape: prometheus ? (req, res) => prometheus.getMetricsRequestHandler(req, res) : undefined,
    auditLogs: auditLogs?.exporter,
    shutdown() {
      stopping ??= Promise.race([
        Promise.all([started.stop(), auditLogs?.stop()]).then(() => {}).catch((err: Error) => logger.warn({ message: err.message }, 'OpenTelemetry shutdown failed')),
        new Promise<void>((resolve) => setTimeout(resolve, SHUTDOWN_LIMIT_MS).unref()),
      ]);
      return stopping;
    },
  };
}
