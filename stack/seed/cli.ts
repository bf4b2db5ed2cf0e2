/**
 * Applies a billing seed to the database: `npx tsx stack/seed/cli.ts [seed.json]` (default
 * stack/seed/demo.json). Waits up to SEED_WAIT_MS (default 120000) for the indexer to have created
 * the seed's tenants and meters from chain events.
 */
import { z } from "zod";
import { databaseTarget, openDatabase } from "../../db/connection";
import { applySeed, DEMO_SEED_FILE, loadSeedFile } from "./apply-seed";

const env = z
  .object({
    DATABASE_URL: z.string().optional(),
    PGLITE_DIR: z.string().optional(),
    SEED_WAIT_MS: z
      .string()
      .regex(/^\d+$/, "SEED_WAIT_MS: expected milliseconds")
      .default("120000")
      .transform(Number),
  })
  .parse(process.env);

async function main(): Promise<void> {
  const file = process.argv[2] ?? DEMO_SEED_FILE;
  const seed = await loadSeedFile(file);
  const db = await openDatabase({ target: databaseTarget(env.DATABASE_URL, env.PGLITE_DIR), applicationName: "meterline-seed" });
  try {
    await applySeed(db, seed, { waitMs: env.SEED_WAIT_MS });
    console.log(`applied ${file}: ${seed.tenants.map((t) => t.slug).join(", ")}`);
  } finally {
    await db.close();
  }
}

main().catch((err: unknown) => {
  console.error(`error: ${(err as Error).message}`);
  process.exitCode = 1;
});
