import type pg from "pg";

/**
 * The lowest indexed block over every contract, null before the indexer's first checkpoint. Runs
 * as the pool's login role: checkpoints are not tenant data and the API role cannot read them.
 */
export async function lowestCheckpoint(pool: pg.Pool): Promise<bigint | null> {
  const { rows } = await pool.query<{ low: string | null }>("SELECT min(block_number)::text AS low FROM checkpoints");
  return rows[0]?.low ? BigInt(rows[0].low) : null;
}
