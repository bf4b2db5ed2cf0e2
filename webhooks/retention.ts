/**
 * Operational data does not live forever: deliveries (delivered or dead-lettered) and the outbox
 * events they all came from are deleted after the retention period. Financial records and the
 * audit log are never pruned (and cannot be truncated); only this transient delivery state is.
 */
import type pg from "pg";

export async function pruneDeliveries(db: { pool: pg.Pool }, olderThan: Date, batchSize = 5_000): Promise<{ deliveries: number; events: number }> {
  let deliveries = 0;
  for (;;) {
    const { rowCount } = await db.pool.query(
      `DELETE FROM webhook_deliveries WHERE id IN (
         SELECT id FROM webhook_deliveries WHERE status <> 'pending' AND created_at < $1 LIMIT $2)`,
      [olderThan, batchSize],
    );
    deliveries += rowCount ?? 0;
    if ((rowCount ?? 0) < batchSize) break;
  }
  const { rowCount: events } = await db.pool.query(
    `DELETE FROM webhook_outbox o WHERE o.created_at < $1
        AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = o.id)`,
    [olderThan],
  );
  return { deliveries, events: events ?? 0 };
}
