// Process entry: configuration → telemetry → storage, IdP, provider, MCP server → listen → signals.
import { ConfigError, loadConfig, readEnvironment, type Config } from './config/index.js';
import type { RunningProxy } from './boot.js';
import { createLogger } from './logging.js';
import { demoBanner } from './demo/banner.js';
import { startTelemetry } from './telemetry/start.js';

export const RELEASE_VERIFIED = 'Verified release launches. Exit status 0';

export async function main(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  let config: Config;
  try {
    config = loadConfig(readEnvironment(env));
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  }
  const logger = createLogger(config);
  // OpenTelemetry first: its instrumentations patch http, express and ioredis as the app imports them.
  const telemetry = await startTelemetry(config, logger);
  const { startProxy } = await import('./boot.js');
  // Signals are handled from the start: one during startup stops what has started (the MCP server).
  const startup = new AbortController();
  let shutdown = (signal: string) => startup.abort(new Error(signal));
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));

  let running: RunningProxy;
  try {
    running = await startProxy(config, logger, startup.signal, telemetry);
  } catch (err) {
    if (startup.signal.aborted) {
      logger.info('startup interrupted by a signal');
      logger.flush();
      process.exit(0);
    }
    logger.fatal({ message: (err as Error).message }, 'startup failed');
    process.stderr.write(`Startup failed: ${(err as Error).message}\n`);
    logger.flush();
    process.exit(1);
  }

  if (config.verifyRelease) {
    await running.stop();
    await telemetry.shutdown();
    process.stdout.write(`${RELEASE_VERIFIED}\n`);
    process.exit(0);
  }

  if (config.demo) process.stdout.write(demoBanner(config));

  const stop = async (reason: string, code: number) => {
    logger.info({ reason }, 'shutting down');
    await running.stop();
    // Spans of the last requests are still in the batch: export them before exiting.
    await telemetry.shutdown();
    logger.flush();
    process.exit(code);
  };
  shutdown = (signal) => void stop(signal, 0);
  void running.childExited?.then((code) => stop(`mcp-server exited with ${code}`, 1));
}
