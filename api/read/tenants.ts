import type { Tx } from "./types";

export interface TenantRow {
  id: string;
  slug: string;
  time_zone: string;
  chain_id: string;
  onchain_id: number;
}

export async function findTenant(c: Tx, tenantId: string): Promise<TenantRow | null> {
  const { rows } = await c.query<TenantRow>("SELECT id, slug, time_zone, chain_id, onchain_id FROM tenants WHERE id = $1", [tenantId]);
  return rows[0] ?? null;
}
