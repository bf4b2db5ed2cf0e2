import type { Tx } from "./types";

// Limits and thresholds are written by billing's catalog service (billing/catalog/); read here.

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
