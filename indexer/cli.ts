/**
 * npm run indexer — follows UsageMeter into DATABASE_URL (or the embedded PGlite). Configuration
 * comes from the environment (see docs/indexer.md); a bad setting prints one line and exits 1.
 * SIGTERM/SIGINT finish the batch in flight, release the writer lease and exit 0.
 */
import { openDatabase } from "../db/connection";
import { createLogger, logFormatFromEnv, LogConfigError } from "../db/logger";
import { assertPortFree, PortInUseError } from "../db/ports";
import { migrate } from "../db/migrate";
import { parseIndexerConfig } from "./config";
import { withDbRetry } from "./db-retry";
import { AbortedError, ConfigError, ReorgTooDeepError } from "./errors";
import { startIndexer } from "./index";
import { createProgress } from "./progress";
import { DEFAULT_BACKOFF } from "./retry";

async function main(): Promise<number> {
  // Listen for signals from the first moment: a SIGTERM while the process is still starting
  // (migrations, RPC checks) must end it cleanly too, not by the default handler.
  let stopRequested: NodeJS.Signals | undefined;
  let stopIndexer: (() => void) | undefined;
  const startup = new AbortController();
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    signals++;
    if (signals > 1) process.exit(130);
    stopRequested = sig;
    startup.abort();
    stopIndexer?.();
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
  let config;
  let logFormat;
  try {
    config = parseIndexerConfig(process.env);
    logFormat = logFormatFromEnv(process.env);
    if (config.metricsPort !== null) await assertPortFree(config.metricsHost, config.metricsPort, "METRICS_PORT");
  } catch (err) {
    if (err instanceof ConfigError || err instanceof LogConfigError || err instanceof PortInUseError) {
      process.stderr.write(`indexer: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
  const logger = createLogger({ service: "meterline-indexer", level: config.logLevel, format: logFormat });
  const db = await openDatabase({ target: config.database, applicationName: "meterline-indexer", maxConnections: 4 });
  try {
    // The database may still be starting (compose, CI): wait for it a few minutes, then give up.
    const migrated = await withDbRetry(() => migrate(db.pool), {
      signal: startup.signal,
      logger,
      what: "migrations",
      backoff: DEFAULT_BACKOFF,
      maxAttempts: 21,
    }).then(
      () => true,
      (err: unknown) => {
        if (err instanceof AbortedError) return false;
        throw err;
      },
    );
    if (!migrated || stopRequested) {
      logger.info({ signal: stopRequested }, "stopped during start-up");
      return 0;
    }
    const progress = createProgress(logger, { tty: Boolean(process.stderr.isTTY) && config.logLevel !== "silent" });
    const indexer = await startIndexer(config, { db, logger, progress });
    stopIndexer = () => {
      logger.info({ signal: stopRequested }, "stopping after the batch in flight");
      void indexer.stop();
    };
    if (stopRequested) stopIndexer();
    try {
      await indexer.done;
      logger.info("indexer stopped");
      return 0;
    } catch (err) {
      logger.fatal({ err: err instanceof Error ? { name: err.name, message: err.message } : String(err) }, "indexer failed");
      return err instanceof ReorgTooDeepError ? 3 : 2;
    }
  } finally {
    await db.close().catch(() => undefined);
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`indexer: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
