// Process entry: configuration → telemetry → storage, IdP, provider, MCP server → listen → signals.
import { ConfigError, loadConfig, readEnvironment, type Config, type Environment } from './config/index.js';
import { environmentWarnings } from './config/warnings.js';
import type { RunningProxy } from './boot.js';
import { createLogger } from './logging.js';
import { demoBanner } from './demo/banner.js';
import { startTelemetry } from './telemetry/start.js';

export const RELEASE_VERIFIED = 'Verified release launches. Exit status 0';

// SIGTERM: Heroku (sent to every process of the dyno), Docker, Kubernetes; SIGINT: Ctrl-C;
// SIGHUP: the terminal went away. All of them drain and exit 0.
const SHUTDOWN_SIGNALS = ['SIGTERM', 'SIGINT', 'SIGHUP'] as const;

export async function main(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  let config: Config;
  let environment: Environment;
  try {
    environment = readEnvironment(env);
    config = loadConfig(environment);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  }
  const logger = createLogger(config);
  // What `mcp-auth-proxy config` would warn about: on Heroku nobody runs it, so say it here.
  for (const warning of [...environmentWarnings(environment, { demo: config.demo }), ...config.warnings]) logger.warn(warning);
  // OpenTelemetry first: its instrumentations patch http, express and ioredis as the app imports them.
  const telemetry = await startTelemetry(config, logger);
  const { startProxy } = await import('./boot.js');
  // Signals are handled from the start: one during startup stops what has started (the MCP server).
  // `on`, not `once`: a second signal (Heroku signals every process, npm or a shell may forward
  // one more) must not fall back to Node's default and kill the process mid-drain.
  const startup = new AbortController();
  let shutdown = (signal: string) => startup.abort(new Error(signal));
  for (const signal of SHUTDOWN_SIGNALS) process.on(signal, () => shutdown(signal));

  let running: RunningProxy;
  try {
    running = await startProxy(config, logger, startup.signal, telemetry);
  } catch (err) {
    if (startup.signal.aborted) {
      logger.info('startup interrupted by a signal');
      logger.flush();
      process.exit(0);
    }
    // One line, on stderr: the release log and `heroku logs` show it; the logger would repeat it.
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

  let stopping = false;
  const stop = async (reason: string, code: number) => {
    if (stopping) return;
    stopping = true;
    const drainMs = config.drainTimeoutMs;
    logger.info({ reason, drainMs }, 'shutting down: no new connections; draining in-flight requests');
    // Whatever happens in the drain, the process ends (the MCP server with it, see mcp/child.ts).
    const stopBound = drainMs + (config.mcp.child?.stopTimeoutMs ?? 0) + 10_000;
    setTimeout(() => {
      logger.error({ stopBound }, 'shutdown did not finish in time; exiting');
      logger.flush();
      process.exit(code || 1);
    }, stopBound).unref();
    const { cut, released } = await running.stop({ drainMs });
    if (released > 0) logger.info({ released }, 'ended MCP event streams at once (their clients reconnect)');
    if (cut > 0) logger.warn({ cut, drainMs }, 'the drain bound cut requests that were still open');
    // Spans of the last requests are still in the batch: export them before exiting.
    await telemetry.shutdown();
    logger.info({ code }, 'stopped');
    logger.flush();
    process.exit(code);
  };
  shutdown = (signal) => {
    if (stopping) logger.info({ signal }, 'already shutting down');
    void stop(signal, 0);
  };
  void running.mcpServerFailed?.then((reason) => {
    process.stderr.write(`The MCP server cannot be kept running: ${reason}\n`);
    return stop(reason, 1);
  });
}
