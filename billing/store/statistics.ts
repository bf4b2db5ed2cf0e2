import type pg from "pg";

/**
 * Refreshes the planner's statistics of the billing tables (migration 044) after a pass wrote many
 * rows, so the next pass does not plan on "empty" tables while autovacuum catches up.
 */
export async function refreshBillingStatistics(db: Pick<pg.Pool, "query">): Promise<void> {
  await db.query("SELECT billing_refresh_statistics()");
}
