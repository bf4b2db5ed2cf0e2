import { randomBytes } from "node:crypto";
import pg from "pg";
import { openDatabase, type Database } from "../../db/connection";
import { migrate } from "../../db/migrate";

/**
 * The PostgreSQL server tests run against: TEST_DATABASE_URL, else DATABASE_URL, else the local
 * server every developer and CI machine has. Each call to createTestDatabase makes a brand-new
 * database on it, so test runs (and test files) never share state.
 */
export const TEST_SERVER_URL =
  process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

export interface TestDatabase extends Database {
  name: string;
  /** Drops the database (after closing this pool). */
  drop(): Promise<void>;
}

function urlFor(serverUrl: string, database: string): string {
  const u = new URL(serverUrl);
  u.pathname = `/${database}`;
  return u.toString();
}

export async function createTestDatabase(options: { migrate?: boolean; maxConnections?: number; serverUrl?: string } = {}): Promise<TestDatabase> {
  const server = options.serverUrl ?? TEST_SERVER_URL;
  const name = `meterline_test_${process.pid}_${randomBytes(4).toString("hex")}`;
  const admin = new pg.Client({ connectionString: server });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = urlFor(server, name);
  const db = await openDatabase({ target: { kind: "postgres", url }, maxConnections: options.maxConnections ?? 10 });
  if (options.migrate ?? true) await migrate(db.pool);
  return {
    ...db,
    name,
    async drop() {
      await db.close().catch(() => undefined);
      const c = new pg.Client({ connectionString: server });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}

/** The database roles of the services (db/migrations/035_service_roles.sql). */
export type ServiceRole = "meterline_indexer" | "meterline_billing" | "meterline_webhooks" | "meterline_api";

/** A connection string for `url` that acts as `role` from its first statement (SET ROLE at startup). */
export function urlAsRole(url: string, role: ServiceRole): string {
  const u = new URL(url);
  u.searchParams.set("options", `-c role=${role}`);
  return u.toString();
}

/**
 * A second pool on the test database acting as a service's role, so tests run each service with
 * exactly its grants (and no superuser, owner or BYPASSRLS rights). Closed by `drop()` of its parent.
 */
export async function openAsRole(db: TestDatabase, role: ServiceRole, maxConnections = 5): Promise<Database> {
  const opened = await openDatabase({ target: { kind: "postgres", url: urlAsRole(db.url, role) }, maxConnections, applicationName: role });
  const drop = db.drop.bind(db);
  db.drop = async () => {
    await opened.close().catch(() => undefined);
    await drop();
  };
  return opened;
}
