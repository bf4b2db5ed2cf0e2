/**
 * The life of a database-backed service process (billing worker, webhook delivery): open its
 * database (the embedded one is this process's own and is migrated; a server's schema must be
 * current, since the service's role owns nothing and cannot migrate), serve /healthz /readyz
 * /metrics on the ops listener, and stop cleanly on SIGTERM/SIGINT from the first moment.
 */
import type { Registry } from "prom-client";
import { databaseTarget, openDatabase, type Database } from "./connection";
import { migrate, pendingMigrations } from "./migrate";
import { serveOps, type OpsChecks } from "./ops-server";
import { portErrorLine } from "./ports";

export class ServiceStartError extends Error {
  override name = "ServiceStartError";
}

export interface ServiceSettings {
  name: string;
  databaseUrl?: string;
  pgliteDir?: string;
  /** null: no ops listener. */
  metricsPort: number | null;
  metricsHost: string;
}

/** Database checks every service's /readyz includes: reachable, under which role, schema current. */
export async function databaseReadiness(db: Database): Promise<{ database: boolean | string; role: string }> {
  try {
    const { rows } = await db.pool.query<{ role: string }>("SELECT current_user AS role");
    return { database: true, role: rows[0]!.role };
  } catch (err) {
    return { database: (err as Error).message, role: "unknown" };
  }
}

export async function openServiceDatabase(settings: ServiceSettings): Promise<Database> {
  const db = await openDatabase({ target: databaseTarget(settings.databaseUrl, settings.pgliteDir), applicationName: `meterline-${settings.name}`, maxConnections: 4 });
  try {
    if (db.embedded) await migrate(db.pool);
    else {
      const pending = await pendingMigrations(db.pool);
      if (pending.length > 0) {
        throw new ServiceStartError(`the database schema is behind (pending: ${pending.join(", ")}); run npm run db:migrate with the owner's DATABASE_URL first`);
      }
    }
    return db;
  } catch (err) {
    await db.close().catch(() => undefined);
    const code = (err as { code?: string }).code;
    // Connection-level failures (refused, unknown host, auth, missing database) name the variable.
    if (code && /^(E[A-Z]+|28\w{3}|3D000|08\w{3}|57P03)$/.test(code)) {
      throw new ServiceStartError(`cannot reach the database at DATABASE_URL (${code}: ${(err as Error).message})`, { cause: err });
    }
    throw err;
  }
}

/**
 * Runs `work` until a signal: `work` receives an AbortSignal that fires on SIGTERM/SIGINT and
 * returns when it has stopped. A second signal exits at once. Resolves with the exit code.
 */
export async function runService(
  settings: ServiceSettings,
  deps: { registry: Registry; checks: (db: Database) => OpsChecks; log: (msg: string, fields?: object) => void },
  work: (db: Database, signal: AbortSignal) => Promise<void>,
): Promise<number> {
  const stop = new AbortController();
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    if (++signals > 1) process.exit(130);
    deps.log("stopping", { signal: sig });
    stop.abort();
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
  let db: Database;
  try {
    db = await openServiceDatabase(settings);
  } catch (err) {
    process.stderr.write(`${settings.name}: ${(err as Error).message}\n`);
    return 1;
  }
  let ops: Awaited<ReturnType<typeof serveOps>> | null = null;
  if (settings.metricsPort !== null) {
    try {
      ops = await serveOps({ port: settings.metricsPort, host: settings.metricsHost, registry: deps.registry, checks: deps.checks(db) });
    } catch (err) {
      await db.close().catch(() => undefined);
      const line = portErrorLine(err, settings.metricsPort, "METRICS_PORT");
      if (!line) throw err;
      process.stderr.write(`${settings.name}: ${line}\n`);
      return 1;
    }
  }
  if (ops) deps.log("ops listener", { url: `http://${settings.metricsHost}:${ops.port}` });
  try {
    if (!stop.signal.aborted) await work(db, stop.signal);
    return 0;
  } finally {
    await ops?.close();
    await db.close().catch(() => undefined);
  }
}
