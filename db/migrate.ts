import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import type pg from "pg";

export const MIGRATIONS_DIR = path.join(__dirname, "migrations");

/** Arbitrary constant key: every migrating process takes the same session-level advisory lock. */
const MIGRATION_LOCK_KEY = 7_216_310_002;

export interface Migration {
  version: number;
  name: string;
  sql: string;
  checksum: string;
}

export class MigrationError extends Error {
  override name = "MigrationError";
}

export async function loadMigrations(dir: string = MIGRATIONS_DIR): Promise<Migration[]> {
  const files = (await readdir(dir)).filter((f) => /^\d{3}_[a-z0-9_]+\.sql$/.test(f)).sort();
  const migrations: Migration[] = [];
  for (const file of files) {
    const sql = await readFile(path.join(dir, file), "utf8");
    migrations.push({
      version: Number(file.slice(0, 3)),
      name: file.slice(4, -4),
      sql,
      checksum: createHash("sha256").update(sql).digest("hex"),
    });
  }
  const versions = new Set<number>();
  for (const m of migrations) {
    if (versions.has(m.version)) throw new MigrationError(`two migrations share version ${m.version}`);
    versions.add(m.version);
  }
  return migrations;
}

/**
 * Applies pending migrations, forward only, each in its own transaction, recorded in
 * schema_migrations. Safe to run twice and from several processes at once: a session advisory
 * lock serializes migrators, and an already-applied migration whose file changed is an error
 * rather than being silently skipped. Returns the versions applied by this call.
 */
export async function migrate(pool: pg.Pool, dir: string = MIGRATIONS_DIR): Promise<number[]> {
  const migrations = await loadMigrations(dir);
  const client = await pool.connect();
  try {
    await client.query("SELECT pg_advisory_lock($1)", [MIGRATION_LOCK_KEY]);
    try {
      await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
        version integer PRIMARY KEY,
        name text NOT NULL,
        checksum text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`);
      const { rows } = await client.query<{ version: number; checksum: string }>(
        "SELECT version, checksum FROM schema_migrations",
      );
      const applied = new Map(rows.map((r) => [r.version, r.checksum]));
      const done: number[] = [];
      for (const m of migrations) {
        const checksum = applied.get(m.version);
        if (checksum !== undefined) {
          if (checksum !== m.checksum) {
            throw new MigrationError(`migration ${m.version}_${m.name} changed after it was applied`);
          }
          continue;
        }
        await client.query("BEGIN");
        try {
          await client.query(m.sql);
          await client.query("INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)", [
            m.version,
            m.name,
            m.checksum,
          ]);
          await client.query("COMMIT");
        } catch (err) {
          await client.query("ROLLBACK").catch(() => undefined);
          throw new MigrationError(`migration ${m.version}_${m.name} failed: ${(err as Error).message}`);
        }
        done.push(m.version);
      }
      return done;
    } finally {
      await client.query("SELECT pg_advisory_unlock($1)", [MIGRATION_LOCK_KEY]).catch(() => undefined);
    }
  } finally {
    client.release();
  }
}

/**
 * Migrations in `dir` not yet applied to the database (empty when it is current). Services that
 * connect as a role owning nothing cannot migrate; they check this at start and refuse to run on
 * an outdated schema, naming the command that fixes it.
 */
export async function pendingMigrations(pool: pg.Pool, dir: string = MIGRATIONS_DIR): Promise<string[]> {
  const migrations = await loadMigrations(dir);
  const { rows } = await pool.query<{ version: number }>("SELECT version FROM schema_migrations").catch((err: { code?: string }) => {
    if (err.code === "42P01") return { rows: [] as { version: number }[] }; // no schema_migrations: nothing applied
    throw err;
  });
  const applied = new Set(rows.map((r) => r.version));
  return migrations.filter((m) => !applied.has(m.version)).map((m) => `${String(m.version).padStart(3, "0")}_${m.name}`);
}
