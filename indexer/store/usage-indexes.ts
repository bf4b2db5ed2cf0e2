/**
 * The secondary indexes of usage_records during a cold backfill (migration 045): deferred while the
 * indexer fills an empty table, built before it follows the head. The primary key and the partial
 * unique index of first occurrences always stay, so exactly-once and duplicate marking hold
 * throughout; only readers of the other indexes (API ranges, reorg deletes) scan instead meanwhile.
 * The DDL runs in functions owned by the owner: meterline_indexer owns nothing.
 */
import type pg from "pg";

/**
 * The indexes deferred (the definitions live in 001 and the functions of 045). The partial
 * usage_records_duplicate_ref stays: over rare duplicates it costs nothing to maintain, a full
 * scan to build.
 */
export const DEFERRABLE_USAGE_INDEXES = ["usage_records_tenant_period", "usage_records_tenant_block"] as const;

/** Whether a deferral is pending: set until the indexes are built, across crashes and restarts. */
export async function usageIndexesPending(db: pg.Pool | pg.PoolClient): Promise<boolean> {
  const { rows } = await db.query<{ pending: boolean }>("SELECT pending FROM usage_records_index_state");
  return rows[0]?.pending ?? false;
}

/** Defers the indexes if usage_records is empty (or already deferred); true when deferred. In the caller's transaction. */
export async function deferUsageIndexes(client: pg.PoolClient): Promise<boolean> {
  const { rows } = await client.query<{ deferred: boolean }>("SELECT indexer_defer_usage_indexes() AS deferred");
  return rows[0]!.deferred;
}

/** Builds the deferred indexes and clears the state. Idempotent. In the caller's transaction. */
export async function buildUsageIndexes(client: pg.PoolClient): Promise<void> {
  await client.query("SELECT indexer_build_usage_indexes()");
}
