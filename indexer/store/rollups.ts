/**
 * usage_rollups: per (tenant, meter, hour) partial aggregates of usage_records (sum, max, count),
 * enough to answer every aggregation over hour-aligned windows without reading records. Only first
 * occurrences count: a record marked is_duplicate (a repeated idempotency key) is not usage. The
 * rating module owns the aggregation rule; test/rating/aggregation.test.ts proves these agree.
 */
import type pg from "pg";

/** The hour a record counts in, from its period start: the one definition of `bucket_start`. */
export const bucketOf = (periodStart: string): string => `date_trunc('hour', ${periodStart}, 'UTC')`;

/** One hourly bucket of one tenant's meter. `bucket` is the hour's start in unix seconds. */
export interface RollupBucket {
  tenantId: string;
  meterId: number;
  bucket: number;
}

/** Partial aggregates of some records of one bucket (numerics as decimal strings, exact). */
export interface RollupDelta extends RollupBucket {
  sum: string;
  max: string;
  count: number;
}

/**
 * Adds newly inserted records' aggregates to their buckets. The deltas must come from the rows an
 * insert actually returned in this transaction: that, not a key, is what keeps a replayed batch
 * from counting twice.
 */
export async function addToRollups(client: pg.PoolClient, deltas: readonly RollupDelta[]): Promise<void> {
  if (deltas.length === 0) return;
  await client.query(
    `INSERT INTO usage_rollups (tenant_id, meter_id, bucket_start, quantity_sum, quantity_max, record_count)
     SELECT d.t, d.m, to_timestamp(d.b), d.s, d.x, d.n
     FROM unnest($1::bigint[], $2::int[], $3::bigint[], $4::numeric[], $5::numeric[], $6::bigint[]) AS d(t, m, b, s, x, n)
     ON CONFLICT (tenant_id, meter_id, bucket_start) DO UPDATE
       SET quantity_sum = usage_rollups.quantity_sum + EXCLUDED.quantity_sum,
           quantity_max = GREATEST(usage_rollups.quantity_max, EXCLUDED.quantity_max),
           record_count = usage_rollups.record_count + EXCLUDED.record_count`,
    [
      deltas.map((d) => d.tenantId),
      deltas.map((d) => d.meterId),
      deltas.map((d) => d.bucket),
      deltas.map((d) => d.sum),
      deltas.map((d) => d.max),
      deltas.map((d) => d.count),
    ],
  );
}

/**
 * Rebuilds buckets from the records that count in them, after records were deleted or promoted to
 * first occurrence (a reorg). A maximum cannot be subtracted, so the buckets are recomputed rather
 * than decremented; a bucket with no counting records left disappears.
 */
export async function recomputeRollups(client: pg.PoolClient, buckets: readonly RollupBucket[]): Promise<void> {
  if (buckets.length === 0) return;
  const args = [buckets.map((b) => b.tenantId), buckets.map((b) => b.meterId), buckets.map((b) => b.bucket)];
  await client.query(
    `DELETE FROM usage_rollups r USING unnest($1::bigint[], $2::int[], $3::bigint[]) AS k(t, m, b)
     WHERE r.tenant_id = k.t AND r.meter_id = k.m AND r.bucket_start = to_timestamp(k.b)`,
    args,
  );
  await client.query(
    `INSERT INTO usage_rollups (tenant_id, meter_id, bucket_start, quantity_sum, quantity_max, record_count)
     SELECT k.t, k.m, to_timestamp(k.b), sum(u.quantity), max(u.quantity), count(*)
     FROM unnest($1::bigint[], $2::int[], $3::bigint[]) AS k(t, m, b)
     JOIN usage_records u ON u.tenant_id = k.t AND u.meter_id = k.m AND NOT u.is_duplicate
       AND u.period_start >= to_timestamp(k.b) AND u.period_start < to_timestamp(k.b) + interval '1 hour'
     GROUP BY k.t, k.m, k.b`,
    args,
  );
}
