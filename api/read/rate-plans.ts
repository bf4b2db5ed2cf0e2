import type { Tx } from "./types";

export interface RatePlanRow {
  id: string;
  name: string;
  created_at: Date;
}

export async function listRatePlans(c: Tx, tenantId: string | null): Promise<RatePlanRow[]> {
  const { rows } = await c.query<RatePlanRow>("SELECT id::text, name, created_at FROM rate_plans WHERE tenant_id = $1 ORDER BY id", [tenantId]);
  return rows;
}

/** Null when the tenant already has a plan of that name. */
export async function insertRatePlan(c: Tx, tenantId: string, name: string): Promise<RatePlanRow | null> {
  const { rows } = await c.query<RatePlanRow>(
    `INSERT INTO rate_plans (tenant_id, name) VALUES ($1, $2) ON CONFLICT (tenant_id, name) DO NOTHING RETURNING id::text, name, created_at`,
    [tenantId, name],
  );
  return rows[0] ?? null;
}
