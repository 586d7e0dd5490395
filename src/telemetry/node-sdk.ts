// Traces (and OTLP metrics) through the Node SDK: the standard OTEL_* variables choose exporters,
// protocol, sampler and propagators. Instrumented: incoming and outgoing HTTP (the proxied MCP
// requests), Express, ioredis and fetch (openid-client's calls to the identity provider).
import { register } from 'node:module';
import { metrics } from '@opentelemetry/api';
import { ExpressInstrumentation } from '@opentelemetry/instrumentation-express';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { IORedisInstrumentation } from '@opentelemetry/instrumentation-ioredis';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
import type { Resource } from '@opentelemetry/resources';
import type { IMetricReader } from '@opentelemetry/sdk-metrics';
import { NodeSDK, type NodeSDKConfiguration } from '@opentelemetry/sdk-node';
import { createAddHookMessageChannel } from 'import-in-the-middle';
import type { Config } from '../config/types.js';
import { redactSpanUrls, redisStatement } from './redaction.js';
import { METER_NAME, type StartedSdk } from './telemetry.js';

type SpanProcessor = NonNullable<NodeSDKConfiguration['spanProcessors']>[number];

/**
 * The SDK's own reading of OTEL_* for exporters, so ours behaves exactly like a plain NodeSDK's.
 * Not part of its public entry point (its exports name only '.'): loaded from the file beside
 * that entry, of the exactly pinned version; test/process/telemetry.test.ts fails if it moves.
 */
interface SdkEnvironmentHelpers {
  getSpanProcessorsFromEnv(selfObservability: undefined): SpanProcessor[];
  getOtlpMetricExporterFromEnv(): unknown;
  getPeriodicExportingMetricReaderFromEnv(exporter: unknown): IMetricReader;
}
const sdkHelpers = (): Promise<SdkEnvironmentHelpers> =>
  import(new URL('./utils.mjs', import.meta.resolve('@opentelemetry/sdk-node')).href) as Promise<SdkEnvironmentHelpers>;

/**
 * Redacts query values in every span just before it ends, whichever instrumentation made it:
 * callback URLs carry authorization codes, device URLs user codes.
 */
export const redactingSpanProcessor: SpanProcessor = {
  onStart: () => {},
  onEnding: (span) => redactSpanUrls(span),
  onEnd: () => {},
  forceFlush: async () => {},
  shutdown: async () => {},
};

function instrumentations(config: Config) {
  const metricsPath = config.telemetry.metricsPath;
  return [
    new HttpInstrumentation({
      // Prometheus scrapes every few seconds: not worth a trace each.
      ignoreIncomingRequestHook: (req) => metricsPath !== undefined && (req.url ?? '').split('?')[0] === metricsPath,
    }),
    new ExpressInstrumentation(),
    new IORedisInstrumentation({ dbStatementSerializer: redisStatement(config.redis.prefix) }),
    new UndiciInstrumentation(),
  ];
}

export async function startNodeSdk(config: Config, resource: Resource, readers: IMetricReader[]): Promise<StartedSdk> {
  const { traces, otlpMetrics } = config.telemetry;
  const { getOtlpMetricExporterFromEnv, getPeriodicExportingMetricReaderFromEnv, getSpanProcessorsFromEnv } = await sdkHelpers();
  if (otlpMetrics) readers.push(getPeriodicExportingMetricReaderFromEnv(getOtlpMetricExporterFromEnv()));
  let acknowledged: (() => Promise<void>) | undefined;
  if (traces) {
    // ESM imports (express, ioredis from our modules) are patched through this loader hook; it
    // wraps only the modules the instrumentations ask for.
    const { registerOptions, waitForAllMessagesAcknowledged } = createAddHookMessageChannel();
    register('@opentelemetry/instrumentation/hook.mjs', import.meta.url, registerOptions);
    acknowledged = waitForAllMessagesAcknowledged;
  }
  const sdk = new NodeSDK({
    resource,
    autoDetectResources: false,
    instrumentations: traces ? instrumentations(config) : [],
    spanProcessors: traces ? [redactingSpanProcessor, ...getSpanProcessorsFromEnv(undefined)] : [],
    // Always our readers (possibly none): the SDK's default would export metrics to localhost:4318.
    metricReaders: readers,
    // Our logs go to stdout through pino, not through OpenTelemetry.
    logRecordProcessors: [],
  });
  sdk.start();
  await acknowledged?.();
  return { meter: readers.length > 0 ? metrics.getMeter(METER_NAME) : undefined, stop: () => sdk.shutdown() };
}
