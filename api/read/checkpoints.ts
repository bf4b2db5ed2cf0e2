import type pg from "pg";

/**
 * The lowest indexed block over every contract, null before the indexer's first checkpoint.
 * Checkpoints are not tenant data: meterline_api may read them (035_service_roles.sql), with no
 * tenant set.
 */
export async function lowestCheckpoint(db: Pick<pg.ClientBase, "query">): Promise<bigint | null> {
  const { rows } = await db.query<{ low: string | null }>("SELECT min(block_number)::text AS low FROM checkpoints");
  return rows[0]?.low ? BigInt(rows[0].low) : null;
}
