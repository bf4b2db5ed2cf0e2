import { mkdir } from "node:fs/promises";
import path from "node:path";
import pg from "pg";
import type { PGlite } from "@electric-sql/pglite";

/** Where the database lives: a PostgreSQL URL, or the embedded PGlite default. */
export type DatabaseTarget = { kind: "postgres"; url: string } | { kind: "pglite"; dataDir: string };

export interface DatabaseOptions {
  target: DatabaseTarget;
  /** Pool size for PostgreSQL; PGlite always gets exactly one connection. */
  maxConnections?: number;
  /** Name reported in pg_stat_activity. */
  applicationName?: string;
  /** Statement timeout applied to every connection of the pool, in ms (0 = none). */
  statementTimeoutMs?: number;
}

export interface Database {
  pool: pg.Pool;
  /** The embedded instance when running on PGlite (for LISTEN/NOTIFY without a second connection). */
  pglite?: PGlite;
  /** A `pg` connection string that reaches this database (the socket server's, for PGlite). */
  url: string;
  embedded: boolean;
  close(): Promise<void>;
}

/** Default PGlite directory, relative to the working directory. */
export const DEFAULT_PGLITE_DIR = ".meterline/pglite";

/** Resolves DATABASE_URL / PGLITE_DIR style settings into a target (no I/O). */
export function databaseTarget(url: string | undefined, pgliteDir: string | undefined): DatabaseTarget {
  if (url && url.trim() !== "") return { kind: "postgres", url };
  return { kind: "pglite", dataDir: path.resolve(pgliteDir ?? DEFAULT_PGLITE_DIR) };
}

// 64-bit integers (bigint, numeric) come back as strings by default; keep them exact as strings
// and let callers convert with BigInt. int8 (20) and numeric (1700) are left as strings on purpose.

export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  const { target } = options;
  const statementTimeout = options.statementTimeoutMs ?? 0;
  if (target.kind === "postgres") {
    const pool = new pg.Pool({
      connectionString: target.url,
      max: options.maxConnections ?? 10,
      application_name: options.applicationName ?? "meterline",
      ...(statementTimeout > 0 ? { statement_timeout: statementTimeout } : {}),
    });
    // An idle client losing its server (restart, network) must not crash the process;
    // the next checkout gets a fresh connection.
    pool.on("error", () => undefined);
    return {
      pool,
      url: target.url,
      embedded: false,
      close: () => pool.end(),
    };
  }

  const [{ PGlite }, { PGLiteSocketServer }] = await Promise.all([
    import("@electric-sql/pglite"),
    import("@electric-sql/pglite-socket"),
  ]);
  await mkdir(target.dataDir, { recursive: true });
  const pglite = await PGlite.create({ dataDir: target.dataDir });
  const server = new PGLiteSocketServer({ db: pglite, host: "127.0.0.1", port: 0 });
  await server.start();
  const address = server.getServerConn();
  const url = `postgres://postgres@${address}/postgres?sslmode=disable`;
  // PGlite is a single connection: one pooled client, so a transaction never interleaves with
  // another caller's statements through the socket server's multiplexer.
  const pool = new pg.Pool({
    connectionString: url,
    max: 1,
    application_name: options.applicationName ?? "meterline",
    ...(statementTimeout > 0 ? { statement_timeout: statementTimeout } : {}),
  });
  pool.on("error", () => undefined);
  return {
    pool,
    pglite,
    url,
    embedded: true,
    async close() {
      await pool.end();
      await server.stop();
      await pglite.close();
    },
  };
}

/**
 * Runs `fn` in a transaction on one pooled client; rolls back on any error. While the client is out
 * of the pool it keeps an 'error' listener (a backend killed between two statements would otherwise
 * surface as an uncaught exception), and a client that failed is destroyed rather than returned, so
 * a dead connection never poisons the next caller.
 */
export async function withTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  const onError = (err: Error) => {
    broken = err;
  };
  client.on("error", onError);
  try {
    await client.query("BEGIN");
    const result = await fn(client);
    await client.query("COMMIT");
    return result;
  } catch (err) {
    broken ??= err instanceof Error ? err : new Error(String(err));
    await client.query("ROLLBACK").catch(() => undefined);
    throw err;
  } finally {
    client.off("error", onError);
    client.release(broken);
  }
}
