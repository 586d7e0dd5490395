// Process entry: configuration → storage, IdP, provider, MCP server → listen → signals.
import { ConfigError, loadConfig, readEnvironment, type Config } from './config/index.js';
import { startProxy } from './boot.js';
import { createLogger } from './logging.js';

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
  let running;
  try {
    running = await startProxy(config, logger);
  } catch (err) {
    logger.fatal({ message: (err as Error).message }, 'startup failed');
    process.stderr.write(`Startup failed: ${(err as Error).message}\n`);
    logger.flush();
    process.exit(1);
  }

  if (config.verifyRelease) {
    await running.stop();
    process.stdout.write(`${RELEASE_VERIFIED}\n`);
    process.exit(0);
  }

  const shutdown = async (signal: string, code: number) => {
    logger.info({ signal }, 'shutting down');
    await running.stop();
    logger.flush();
    process.exit(code);
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM', 0));
  process.once('SIGINT', () => void shutdown('SIGINT', 0));
  void running.childExited?.then((code) => shutdown(`mcp-server exited with ${code}`, 1));
}
