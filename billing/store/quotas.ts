/** quotas and quota_alerts: limits, thresholds, status and exactly-once crossings. */
import type pg from "pg";
import { enqueueEvent } from "../../webhooks/outbox";

export interface QuotaAlert {
  tenantId: string;
  meterId: number;
  periodStart: Date;
  periodEnd: Date;
  threshold: number;
  limit: string;
  usage: string;
}

/**
 * Records every threshold crossing of a tenant's quotas in the current and the previous billing
 * period (late usage can still push the previous one over). The unique key of quota_alerts makes
 * each crossing exactly-once: replays, reorgs that lower and raise usage again, and concurrent
 * workers all hit ON CONFLICT. The webhook event is written in the same transaction.
 */
export async function evaluateQuotas(client: pg.PoolClient, tenantId: string, now: Date): Promise<QuotaAlert[]> {
  const { rows } = await client.query<{
    meter_id: number;
    period_start: Date;
    period_end: Date;
    threshold: number;
    limit_value: string;
    usage: string;
  }>(
    `WITH t AS (SELECT time_zone FROM tenants WHERE id = $1),
          s AS (
            SELECT * FROM quota_status_at($2) WHERE tenant_id = $1
            UNION ALL
            SELECT * FROM quota_status_at((SELECT billing_period_start(time_zone, $2) FROM t) - interval '1 microsecond')
             WHERE tenant_id = $1
          )
     INSERT INTO quota_alerts (tenant_id, meter_id, period_start, period_end, threshold, limit_value, usage, crossed_at)
     SELECT s.tenant_id, s.meter_id, s.period_start, s.period_end, th, coalesce(q.hard_limit, q.soft_limit), s.usage, $2
       FROM s
       JOIN quotas q ON q.tenant_id = s.tenant_id AND q.meter_id = s.meter_id
       CROSS JOIN LATERAL unnest(q.thresholds) AS th
      WHERE s.usage * 100 >= coalesce(q.hard_limit, q.soft_limit) * th
     ON CONFLICT (tenant_id, meter_id, period_start, threshold) DO NOTHING
     RETURNING meter_id, period_start, period_end, threshold, limit_value, usage`,
    [tenantId, now],
  );
  const alerts: QuotaAlert[] = [];
  for (const r of rows) {
    const alert: QuotaAlert = {
      tenantId,
      meterId: r.meter_id,
      periodStart: r.period_start,
      periodEnd: r.period_end,
      threshold: r.threshold,
      limit: r.limit_value,
      usage: r.usage,
    };
    await enqueueEvent(client, tenantId, "quota.threshold_crossed", `quota.threshold_crossed:${tenantId}:${r.meter_id}:${r.period_start.toISOString()}:${r.threshold}`, {
      tenantId,
      meterId: r.meter_id,
      periodStart: r.period_start.toISOString(),
      periodEnd: r.period_end.toISOString(),
      thresholdPercent: r.threshold,
      limit: r.limit_value,
      usage: r.usage,
    });
    alerts.push(alert);
  }
  return alerts;
}

export type QuotaState = "ok" | "warning" | "exceeded";

/** Current quota status of a tenant (the quota_status view at `at`). */
export async function quotaStatus(
  db: Pick<pg.Pool, "query">,
  tenantId: string,
  at: Date,
): Promise<Array<{ meterId: number; usage: string; softLimit: string | null; hardLimit: string | null; status: QuotaState }>> {
  const { rows } = await db.query<{ meter_id: number; usage: string; soft_limit: string | null; hard_limit: string | null; status: QuotaState }>(
    "SELECT meter_id, usage, soft_limit, hard_limit, status FROM quota_status_at($2) WHERE tenant_id = $1 ORDER BY meter_id",
    [tenantId, at],
  );
  return rows.map((r) => ({ meterId: r.meter_id, usage: r.usage, softLimit: r.soft_limit, hardLimit: r.hard_limit, status: r.status }));
}
