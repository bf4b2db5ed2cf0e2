import type pg from "pg";
import { InconsistentStateError } from "../errors";
import type { Checkpoint, ContractRef } from "./contract";
import { fromHex } from "../../chain/hex";
import { CHANNELS, encodeNotice } from "../../db/channels";

export interface RevertResult {
  records: number;
  commitments: number;
  buckets: number;
}

/**
 * Removes everything derived from blocks above `ancestor`, inside the caller's transaction:
 * usage records (and their hourly rollups, recomputed from the records that remain), commitment
 * rows and the status changes orphaned reveals/expiries made, reporter events, meters, tenants,
 * the stored block hashes, and moves the checkpoint back to the ancestor.
 */
export async function revertAbove(client: pg.PoolClient, contract: ContractRef, ancestor: Checkpoint): Promise<RevertResult> {
  const cid = contract.id;
  const above = ancestor.number.toString();

  const { rows: buckets } = await client.query<{ tenant_id: string; meter_id: number; bucket: Date; records: number }>(
    `WITH del AS (
       -- Through the contract's tenants, so each is an index range on (tenant_id, block_number).
       DELETE FROM usage_records
       WHERE tenant_id IN (SELECT id FROM tenants WHERE contract_id = $1) AND contract_id = $1 AND block_number > $2
       RETURNING tenant_id, meter_id, date_trunc('hour', period_start, 'UTC') AS bucket
     )
     SELECT tenant_id::text AS tenant_id, meter_id, bucket, count(*)::int AS records FROM del GROUP BY 1, 2, 3`,
    [cid, above],
  );
  if (buckets.length > 0) {
    const args = [buckets.map((b) => b.tenant_id), buckets.map((b) => b.meter_id), buckets.map((b) => b.bucket)];
    await client.query(
      `DELETE FROM usage_rollups r USING unnest($1::bigint[], $2::int[], $3::timestamptz[]) AS k(t, m, b)
       WHERE r.tenant_id = k.t AND r.meter_id = k.m AND r.bucket_start = k.b`,
      args,
    );
    // Max cannot be "subtracted": recompute each touched bucket from the records left in it.
    await client.query(
      `INSERT INTO usage_rollups (tenant_id, meter_id, bucket_start, quantity_sum, quantity_max, record_count)
       SELECT k.t, k.m, k.b, sum(u.quantity), max(u.quantity), count(*)
       FROM unnest($1::bigint[], $2::int[], $3::timestamptz[]) AS k(t, m, b)
       JOIN usage_records u ON u.tenant_id = k.t AND u.meter_id = k.m
         AND u.period_start >= k.b AND u.period_start < k.b + interval '1 hour'
       GROUP BY k.t, k.m, k.b`,
      args,
    );
  }

  await client.query(
    `UPDATE commitments SET status = 'committed', resolved_tx_hash = NULL, resolved_log_index = NULL,
       resolved_block_number = NULL, resolved_block_hash = NULL, resolved_block_time = NULL
     WHERE contract_id = $1 AND resolved_block_number > $2`,
    [cid, above],
  );
  const commitments = await client.query("DELETE FROM commitments WHERE contract_id = $1 AND block_number > $2", [cid, above]);
  await client.query(
    `DELETE FROM reporter_events e USING tenants t
     WHERE e.tenant_id = t.id AND t.contract_id = $1 AND e.block_number > $2`,
    [cid, above],
  );
  try {
    await client.query(
      `DELETE FROM meters m USING tenants t WHERE m.tenant_id = t.id AND t.contract_id = $1 AND m.block_number > $2`,
      [cid, above],
    );
    await client.query("DELETE FROM tenants WHERE contract_id = $1 AND block_number > $2", [cid, above]);
  } catch (err) {
    // Billing and API rows reference tenants and meters. Configuring a tenant whose registration is
    // not yet final (CONFIRMATIONS) and then losing that registration in a reorg cannot be repaired
    // automatically: stop loudly rather than drop someone's configuration.
    if ((err as { code?: string }).code === "23503") {
      throw new InconsistentStateError(
        `reorg below block ${above} orphans a tenant or meter registration that other tables already reference ` +
          `(${(err as Error).message}); resolve those rows, then restart the indexer`,
      );
    }
    throw err;
  }
  await client.query("DELETE FROM blocks WHERE contract_id = $1 AND number > $2", [cid, above]);
  await client.query(
    `UPDATE checkpoints SET block_number = $2, block_hash = $3, block_time = to_timestamp($4), updated_at = now()
     WHERE contract_id = $1`,
    [cid, above, fromHex(ancestor.hash), Number(ancestor.time)],
  );

  const perTenant = new Map<string, number>();
  for (const b of buckets) perTenant.set(b.tenant_id, (perTenant.get(b.tenant_id) ?? 0) + b.records);
  if (perTenant.size > 0) {
    await client.query(`SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p`, [
      CHANNELS.usage,
      [...perTenant].map(([tenantId, n]) => encodeNotice(CHANNELS.usage, { tenantId, records: -n, toBlock: String(above), reorg: true })),
    ]);
  }
  return {
    records: buckets.reduce((s, b) => s + b.records, 0),
    commitments: commitments.rowCount ?? 0,
    buckets: buckets.length,
  };
}
