import type { Tx } from "./types";

export interface QuotaRow {
  tenant_id: string;
  meter_id: number;
  soft_limit: string | null;
  hard_limit: string | null;
  thresholds: number[];
  usage: string;
  status: "ok" | "warning" | "exceeded";
  period_start: Date;
  period_end: Date;
}

const QUOTAS = `SELECT q.tenant_id, q.meter_id, q.soft_limit::text, q.hard_limit::text, q.thresholds,
    s.usage::text, s.status, s.period_start, s.period_end
  FROM quotas q JOIN quota_status s ON s.tenant_id = q.tenant_id AND s.meter_id = q.meter_id
  WHERE q.tenant_id = $1`;

export async function listQuotas(c: Tx, tenantId: string): Promise<QuotaRow[]> {
  return (await c.query<QuotaRow>(`${QUOTAS} ORDER BY q.meter_id`, [tenantId])).rows;
}

export async function findQuota(c: Tx, tenantId: string, meterId: number): Promise<QuotaRow | null> {
  const { rows } = await c.query<QuotaRow>(`${QUOTAS} AND q.meter_id = $2`, [tenantId, meterId]);
  return rows[0] ?? null;
}

export async function upsertQuota(
  c: Tx,
  tenantId: string,
  meterId: number,
  quota: { softLimit: string | null; hardLimit: string | null; thresholds: number[] },
): Promise<void> {
  await c.query(
    `INSERT INTO quotas (tenant_id, meter_id, soft_limit, hard_limit, thresholds) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (tenant_id, meter_id) DO UPDATE
       SET soft_limit = EXCLUDED.soft_limit, hard_limit = EXCLUDED.hard_limit, thresholds = EXCLUDED.thresholds, updated_at = now()`,
    [tenantId, meterId, quota.softLimit, quota.hardLimit, quota.thresholds],
  );
}

/** False when there was no quota to delete. */
export async function deleteQuota(c: Tx, tenantId: string | null, meterId: number): Promise<boolean> {
  const { rowCount } = await c.query("DELETE FROM quotas WHERE tenant_id = $1 AND meter_id = $2", [tenantId, meterId]);
  return rowCount !== 0;
}
