import { createLogger, logFormatFromEnv, LogConfigError } from "../db/logger";
import { assertPortFree, PortInUseError } from "../db/ports";
import { openDatabase, databaseTarget } from "../db/connection";
import { migrate } from "../db/migrate";
import { startApi } from ".";
import { ConfigError, parseApiConfig } from "./config";
import { parseDashboardConfig } from "./http/dashboard";

// `npm run api`: the API on its own, with its own database pool.
async function main(): Promise<void> {
  let config, dashboard;
  try {
    config = parseApiConfig(process.env);
    dashboard = parseDashboardConfig(process.env, config);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`configuration error: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  let logFormat;
  try {
    logFormat = logFormatFromEnv(process.env);
    await assertPortFree(config.host, config.port, "PORT");
  } catch (err) {
    if (err instanceof LogConfigError || err instanceof PortInUseError) {
      process.stderr.write(`api: ${err.message}\n`);
      process.exit(err instanceof LogConfigError ? 2 : 1);
    }
    throw err;
  }
  const logger = createLogger({
    service: "meterline-api",
    level: process.env.LOG_LEVEL ?? "info",
    format: logFormat,
    redact: { paths: ["req.headers.authorization", "authorization", "token", "secret", "*.secret", "*.token"], censor: "[redacted]" },
  });
  const db = await openDatabase({
    target: databaseTarget(config.databaseUrl, config.pgliteDir),
    applicationName: "meterline-api",
    maxConnections: 20,
  });
  // The embedded database is this process's own: bring its schema up to date.
  if (db.embedded) await migrate(db.pool);
  if (!config.rpcUrl) logger.warn("RPC_URL is not set: /readyz does not check the indexer's lag behind the chain");
  const api = await startApi(config, { db, logger, ...(dashboard ? { dashboard } : {}) });
  const stop = async () => {
    await api.close();
    await db.close();
    process.exit(0);
  };
  process.once("SIGINT", () => void stop());
  process.once("SIGTERM", () => void stop());
}

main().catch((err: unknown) => {
  process.stderr.write(`api failed: ${(err as Error).message}\n`);
  process.exit(1);
});
