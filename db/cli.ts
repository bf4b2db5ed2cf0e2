/** npm run db:migrate — applies pending migrations to DATABASE_URL (or the embedded PGlite). */
import { databaseTarget, openDatabase } from "./connection";
import { migrate } from "./migrate";

async function main(): Promise<void> {
  const db = await openDatabase({ target: databaseTarget(process.env.DATABASE_URL, process.env.PGLITE_DIR), applicationName: "meterline-migrate" });
  try {
    const applied = await migrate(db.pool);
    console.log(applied.length === 0 ? "database is up to date" : `applied migrations ${applied.join(", ")}`);
  } finally {
    await db.close();
  }
}

main().catch((err: unknown) => {
  console.error(`db:migrate failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
