// Starts OpenTelemetry when it has something to do, before the app's modules are imported (its
// instrumentations patch http, express and ioredis as they load). Off, it imports nothing of
// OpenTelemetry: the SDK costs startup time (0.1 to 0.3 s) only when it is used.
import type { Logger } from 'pino';
import type { Config, TelemetryConfig } from '../config/types.js';
import { NO_TELEMETRY, type Telemetry } from './telemetry.js';

/** The rule README states: traces, OTLP metrics, the Prometheus endpoint or audit log records asked for, and not disabled. */
export function telemetryWanted(settings: TelemetryConfig): boolean {
  return !settings.disabled && (settings.traces || settings.otlpMetrics || settings.metricsPath !== undefined || settings.auditLogs);
}

export async function startTelemetry(config: Config, logger: Logger): Promise<Telemetry> {
  const settings = config.telemetry;
  if (!telemetryWanted(settings)) return NO_TELEMETRY;
  if (settings.metricsPath && !settings.metricsToken && config.production) {
    logger.warn({ path: settings.metricsPath }, 'the metrics endpoint is public: set MCP_AUTH_PROXY_METRICS_TOKEN to require a bearer token');
  }
  try {
    const { startSdk } = await import('./sdk.js');
    const telemetry = await startSdk(config, logger);
    logger.info(
      { traces: settings.traces, otlpMetrics: settings.otlpMetrics, metricsPath: settings.metricsPath, auditLogs: settings.auditLogs, serviceName: settings.serviceName },
      'OpenTelemetry started',
    );
    return telemetry;
  } catch (err) {
    // Observability must not take the proxy down with it.
    logger.error({ message: (err as Error).message }, 'OpenTelemetry could not start; running without it');
    return NO_TELEMETRY;
  }
}
