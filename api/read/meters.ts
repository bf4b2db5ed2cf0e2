import type { Aggregation } from "../../rating/aggregation";
import type { OnchainRow, Reader, Tx } from "./types";

// Meter configuration is written by billing's catalog service (billing/catalog/); read here.

export interface MeterRow extends OnchainRow {
  tenant_id: string;
  meter_id: number;
  name: string;
  aggregation: Aggregation | null;
  unit: string | null;
  display_name: string | null;
}

const METERS = `SELECT m.tenant_id, m.meter_id, m.name, m.chain_id, m.tx_hash, m.log_index, m.block_number, m.block_hash,
    c.aggregation, c.unit, c.display_name
  FROM meters m LEFT JOIN meter_configs c ON c.tenant_id = m.tenant_id AND c.meter_id = m.meter_id
  WHERE m.tenant_id = $1`;

export async function listMeters(c: Tx, tenantId: string): Promise<MeterRow[]> {
  return (await c.query<MeterRow>(`${METERS} ORDER BY m.meter_id`, [tenantId])).rows;
}

export async function findMeter(c: Tx, tenantId: string, meterId: number): Promise<MeterRow | null> {
  const { rows } = await c.query<MeterRow>(`${METERS} AND m.meter_id = $2`, [tenantId, meterId]);
  return rows[0] ?? null;
}

export async function meterExists(c: Reader, tenantId: string | null, meterId: number): Promise<boolean> {
  const { rowCount } = await c.query("SELECT 1 FROM meters WHERE tenant_id = $1 AND meter_id = $2", [tenantId, meterId]);
  return rowCount !== 0;
}
