/**
 * What an entitlement check reads: a meter's usage over a window from the indexer's hourly rollups
 * (no scan of raw records), plus raw records only in the partial hours at the window's edges (time
 * zones whose month starts off the hour, e.g. UTC+05:30), and the meter's quota and aggregation.
 */
import type { RollupTotals } from "../../rating/aggregation";
import type { Queryable } from "./records";

const HOUR_MS = 3_600_000;

export async function rollupTotals(db: Queryable, tenantId: string, meterId: number, from: Date, to: Date): Promise<RollupTotals> {
  const fullFrom = new Date(Math.ceil(from.getTime() / HOUR_MS) * HOUR_MS);
  const fullTo = new Date(Math.max(fullFrom.getTime(), Math.floor(to.getTime() / HOUR_MS) * HOUR_MS));
  const { rows } = await db.query<{ s: string; m: string; n: string }>(
    `WITH hours AS (
       SELECT coalesce(sum(quantity_sum), 0) AS s, coalesce(max(quantity_max), 0) AS m, coalesce(sum(record_count), 0) AS n
         FROM usage_rollups WHERE tenant_id = $1 AND meter_id = $2 AND bucket_start >= $3 AND bucket_start < $4
     ), edges AS (
       SELECT coalesce(sum(quantity), 0) AS s, coalesce(max(quantity), 0) AS m, count(*) AS n
         FROM usage_records r
        WHERE r.tenant_id = $1 AND r.meter_id = $2 AND NOT r.is_duplicate
          AND ((r.period_start >= $5 AND r.period_start < $3) OR (r.period_start >= $4 AND r.period_start < $6))
     )
     SELECT (hours.s + edges.s)::text AS s, greatest(hours.m, edges.m)::text AS m, (hours.n + edges.n)::text AS n FROM hours, edges`,
    [tenantId, meterId, fullFrom, fullTo, from, to],
  );
  const r = rows[0]!;
  return { sum: BigInt(r.s), max: BigInt(r.m), count: BigInt(r.n) };
}

export interface MeterLimits {
  meterId: number;
  aggregation: string | null;
  softLimit: string | null;
  hardLimit: string | null;
  timeZone: string;
}

export async function meterLimits(db: Queryable, tenantId: string, meterName: string): Promise<MeterLimits | null> {
  const { rows } = await db.query<{ meter_id: number; aggregation: string | null; soft_limit: string | null; hard_limit: string | null; time_zone: string }>(
    `SELECT m.meter_id, c.aggregation, q.soft_limit::text AS soft_limit, q.hard_limit::text AS hard_limit, t.time_zone
       FROM meters m JOIN tenants t ON t.id = m.tenant_id
       LEFT JOIN meter_configs c ON c.tenant_id = m.tenant_id AND c.meter_id = m.meter_id
       LEFT JOIN quotas q ON q.tenant_id = m.tenant_id AND q.meter_id = m.meter_id
      WHERE m.tenant_id = $1 AND (m.name = $2 OR m.meter_id::text = $2)`,
    [tenantId, meterName],
  );
  const r = rows[0];
  return r ? { meterId: r.meter_id, aggregation: r.aggregation, softLimit: r.soft_limit, hardLimit: r.hard_limit, timeZone: r.time_zone } : null;
}
