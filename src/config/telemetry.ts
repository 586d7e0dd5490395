// What OpenTelemetry does, from the OTEL_* variables (read as the SDK reads them) and ours: the
// SDK loads only when traces, OTLP metrics or the Prometheus endpoint are on.
import { SETTINGS, type ParsedSettings } from './settings.js';
import type { Environment, TelemetryConfig } from './types.js';

// Our own routes and oidc-provider's: the metrics path must not shadow any of them.
const RESERVED_PATHS = ['/.well-known', '/interaction', '/auth', '/token', '/reg', '/device', '/session', '/jwks', '/me', '/request', '/backchannel'];

export function telemetryConfig(env: Environment, v: ParsedSettings, problems: string[], serverUrl: URL | undefined): TelemetryConfig | undefined {
  const disabled = v.OTEL_SDK_DISABLED ?? false;
  const chosen = (list: string[] | undefined) => list !== undefined && list.length > 0 && !list.includes('none');
  const declined = (list: string[] | undefined) => list?.includes('none') ?? false;
  const traces =
    !disabled &&
    !declined(v.OTEL_TRACES_EXPORTER) &&
    (chosen(v.OTEL_TRACES_EXPORTER) || !!v.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || !!v.OTEL_EXPORTER_OTLP_ENDPOINT);
  const otlpMetrics =
    !disabled &&
    !declined(v.OTEL_METRICS_EXPORTER) &&
    (chosen(v.OTEL_METRICS_EXPORTER) || !!v.OTEL_EXPORTER_OTLP_METRICS_ENDPOINT || !!v.OTEL_EXPORTER_OTLP_ENDPOINT);

  const auditLogs = !disabled && chosen(v.OTEL_LOGS_EXPORTER);
  const logsProtocol = env.OTEL_EXPORTER_OTLP_LOGS_PROTOCOL ?? env.OTEL_EXPORTER_OTLP_PROTOCOL;
  if (auditLogs && logsProtocol !== undefined && !['http/protobuf', 'http/json'].includes(logsProtocol.trim())) {
    problems.push(`OTEL_LOGS_EXPORTER: audit log records are exported over http/protobuf or http/json, not ${logsProtocol} (set OTEL_EXPORTER_OTLP_LOGS_PROTOCOL)`);
  }
  const metricsPath = v.MCP_AUTH_PROXY_METRICS_PATH?.replace(/(.)\/+$/, '$1');
  const before = problems.length;
  if (metricsPath !== undefined) {
    const mount = serverUrl?.pathname.replace(/\/+$/, '');
    const clash = [...RESERVED_PATHS, ...(mount ? [mount] : []), v.IDENTITY_CALLBACK_PATH ?? ''].find(
      (p) => p && (metricsPath === p || metricsPath.startsWith(`${p}/`) || p.startsWith(`${metricsPath}/`)),
    );
    if (metricsPath === '/') problems.push('MCP_AUTH_PROXY_METRICS_PATH: must not be "/" (use e.g. /metrics)');
    else if (clash) problems.push(`MCP_AUTH_PROXY_METRICS_PATH: must not overlap the proxy's own path ${clash} (use e.g. /metrics)`);
    if (disabled) problems.push('MCP_AUTH_PROXY_METRICS_PATH: metrics need OpenTelemetry, but OTEL_SDK_DISABLED=true (unset one of them)');
  }
  if (v.MCP_AUTH_PROXY_METRICS_TOKEN !== undefined && metricsPath === undefined) {
    problems.push('MCP_AUTH_PROXY_METRICS_TOKEN: is set but MCP_AUTH_PROXY_METRICS_PATH is not (there is no endpoint to protect)');
  }
  if (problems.length > before) return undefined;

  // OTel's precedence: OTEL_SERVICE_NAME, then service.name in OTEL_RESOURCE_ATTRIBUTES, then ours.
  const fromAttributes = /(?:^|,)\s*service\.name\s*=\s*([^,]+)/.exec(v.OTEL_RESOURCE_ATTRIBUTES ?? '')?.[1]?.trim();
  const serviceName = (env.OTEL_SERVICE_NAME ? v.OTEL_SERVICE_NAME : fromAttributes ? percentDecoded(fromAttributes) : v.OTEL_SERVICE_NAME) ?? SETTINGS.OTEL_SERVICE_NAME.default;
  const sdkEnvironment = Object.fromEntries(
    Object.entries(env).filter((entry): entry is [string, string] => entry[0].startsWith('OTEL_') && entry[1] !== undefined && entry[1] !== ''),
  );
  return {
    disabled,
    serviceName,
    traces,
    otlpMetrics,
    auditLogs,
    metricsPath,
    metricsToken: v.MCP_AUTH_PROXY_METRICS_TOKEN,
    sdkEnvironment,
  };
}

function percentDecoded(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}
