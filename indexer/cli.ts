/**
 * npm run indexer — follows UsageMeter into DATABASE_URL (or the embedded PGlite). Configuration
 * comes from the environment (see docs/indexer.md); a bad setting prints one line and exits 1.
 * SIGTERM/SIGINT finish the batch in flight, release the writer lease and exit 0.
 *
 * Like every service (db/service.ts), it migrates only its own embedded database: on a server it
 * runs as its role, meterline_indexer, which owns nothing, and checks that the schema is current
 * (`npm run db:migrate` runs as the owner).
 */
import { openDatabase, type Database } from "../db/connection";
import { createLogger, logFormatFromEnv, LogConfigError } from "../db/logger";
import { assertPortFree, PortInUseError } from "../db/ports";
import { migrate, pendingMigrations } from "../db/migrate";
import { parseIndexerConfig } from "./config";
import { DatabaseQueryError, DatabaseUnavailableError } from "./db-errors";
import { withDbRetry } from "./db-retry";
import { AbortedError, ConfigError, IndexerError, ReorgTooDeepError } from "./errors";
import { redactSecrets, redactUrl } from "./redact";
import { RpcCallError } from "./rpc-errors";
import { startIndexer } from "./index";
import { createProgress } from "./progress";
import { DEFAULT_BACKOFF } from "./retry";

/** The schema is behind and this process may not migrate it. */
class SchemaBehindError extends IndexerError {
  override name = "SchemaBehindError";
}

/** Embedded: migrate (the process owns it). Server: the schema must already be current. */
async function prepareSchema(db: Database): Promise<void> {
  if (db.embedded) {
    await migrate(db.pool);
    return;
  }
  const pending = await pendingMigrations(db.pool);
  if (pending.length > 0) {
    throw new SchemaBehindError(
      `the database schema at DATABASE_URL is behind (pending: ${pending.join(", ")}); run npm run db:migrate with the owner's DATABASE_URL first`,
    );
  }
}

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
  const dbUrl = db.embedded ? undefined : db.url;
  // Error text can quote the endpoints; their credentials and keys never reach the output.
  const clean = (text: string) => redactSecrets(text, [config.rpcUrl, config.wsRpcUrl ?? undefined, dbUrl]);
  try {
    // The database may still be starting (compose, CI): wait for it a few minutes, then give up.
    const migrated = await withDbRetry(() => prepareSchema(db), {
      signal: startup.signal,
      logger,
      what: db.embedded ? "migrations" : "schema check",
      url: dbUrl,
      backoff: DEFAULT_BACKOFF,
      maxAttempts: 21,
    }).then(
      () => true,
      (err: unknown) => {
        if (err instanceof AbortedError) return false;
        if (err instanceof DatabaseUnavailableError || err instanceof DatabaseQueryError) {
          const verb = err instanceof DatabaseUnavailableError ? "cannot reach" : "cannot use";
          throw new Error(`${verb} the database at DATABASE_URL (${dbUrl ? redactUrl(dbUrl) : "embedded"}): ${clean(err.message)}`);
        }
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
      const where = err instanceof RpcCallError ? { variable: "RPC_URL", endpoint: redactUrl(config.rpcUrl) } : {};
      logger.fatal({ ...where, err: err instanceof Error ? { name: err.name, message: clean(err.message) } : clean(String(err)) }, "indexer failed");
      return err instanceof ReorgTooDeepError ? 3 : 2;
    }
  } finally {
    await db.close().catch(() => undefined);
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    // Configuration is parsed before anything can fail here; mask both endpoints as they were given.
    const text = err instanceof Error ? err.message : String(err);
    process.stderr.write(`indexer: ${redactSecrets(text, [process.env.RPC_URL, process.env.WS_RPC_URL, process.env.DATABASE_URL])}\n`);
    process.exit(1);
  },
);
