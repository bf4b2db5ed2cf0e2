import { Where, type Reader, type Tx } from "./types";

export type Granularity = "HOUR" | "DAY" | "MONTH";

// Hourly rollups; day and month buckets are cut in the tenant's time zone. The tenant filter is
// explicit as well as enforced by row-level security.
const HOURLY = `SELECT bucket_start, quantity_sum::text AS quantity, quantity_max::text AS max, record_count::text AS records
  FROM usage_rollups
  WHERE tenant_id = $1 AND meter_id = $2 AND bucket_start >= $3 AND bucket_start < $4
  ORDER BY bucket_start`;

const BUCKETED = `SELECT date_trunc($5, r.bucket_start AT TIME ZONE t.time_zone) AT TIME ZONE t.time_zone AS bucket_start,
    sum(r.quantity_sum)::text AS quantity, max(r.quantity_max)::text AS max, sum(r.record_count)::text AS records
  FROM usage_rollups r JOIN tenants t ON t.id = r.tenant_id
  WHERE r.tenant_id = $1 AND r.meter_id = $2 AND r.bucket_start >= $3 AND r.bucket_start < $4
  GROUP BY 1 ORDER BY 1`;

/** The dashboard query's SQL, exported for the benchmark's direct-pg baseline. */
export const USAGE_SQL = { HOURLY, BUCKETED };

export interface UsagePointRow {
  bucket_start: Date;
  quantity: string;
  max: string;
  records: string;
}

export async function usageSeries(
  c: Reader,
  tenantId: string | null,
  meterId: number,
  range: { from: Date; to: Date; granularity: Granularity },
): Promise<UsagePointRow[]> {
  const { from, to, granularity } = range;
  const { rows } =
    granularity === "HOUR"
      ? await c.query<UsagePointRow>(HOURLY, [tenantId, meterId, from, to])
      : await c.query<UsagePointRow>(BUCKETED, [tenantId, meterId, from, to, granularity.toLowerCase()]);
  return rows;
}

export interface UsageRecordRow {
  tenant_id: string;
  meter_id: number;
  period_start: Date;
  period_end: Date;
  quantity: string;
  sequence: string;
  ref: Buffer;
  reporter: Buffer;
  commitment: Buffer;
  chain_id: string;
  tx_hash: Buffer;
  log_index: number;
  record_index: number;
  block_number: string;
  block_hash: Buffer;
  block_time: Date;
  is_duplicate: boolean;
}

export interface UsageRecordFilter {
  /** false: records that count (the first on-chain occurrence of each idempotency key); true: the later ones. */
  duplicate: boolean;
  meterId?: number;
  from?: Date;
  to?: Date;
  reporter?: Buffer;
  commitment?: Buffer;
}

/** Keyset position: the sort key of the last row of the previous page. */
export interface UsageRecordKey {
  blockNumber: string;
  chainId: string;
  txHash: Buffer;
  logIndex: string;
  recordIndex: string;
}

function filtered(tenantId: string | null, f: UsageRecordFilter): Where {
  const where = new Where().add((n) => `tenant_id = $${n}`, tenantId).add((n) => `is_duplicate = $${n}`, f.duplicate);
  if (f.meterId !== undefined) where.add((n) => `meter_id = $${n}`, f.meterId);
  if (f.from) where.add((n) => `period_start >= $${n}`, f.from);
  if (f.to) where.add((n) => `period_start < $${n}`, f.to);
  if (f.reporter) where.add((n) => `reporter = $${n}`, f.reporter);
  if (f.commitment) where.add((n) => `commitment = $${n}`, f.commitment);
  return where;
}

/** Newest first; `limit` rows after `after`. */
export async function pageUsageRecords(
  c: Tx,
  tenantId: string | null,
  f: UsageRecordFilter,
  after: UsageRecordKey | null,
  limit: number,
): Promise<UsageRecordRow[]> {
  const where = filtered(tenantId, f);
  if (after) {
    where.params.push(after.blockNumber, after.chainId, after.txHash, after.logIndex, after.recordIndex);
    const n = where.params.length;
    where.parts.push(`(block_number, chain_id, tx_hash, log_index, record_index) < ($${n - 4}, $${n - 3}, $${n - 2}, $${n - 1}, $${n})`);
  }
  where.params.push(limit);
  const { rows } = await c.query<UsageRecordRow>(
    `SELECT tenant_id, meter_id, period_start, period_end, quantity::text, sequence::text, ref, reporter, commitment,
       chain_id, tx_hash, log_index, record_index, block_number, block_hash, block_time, is_duplicate
     FROM usage_records WHERE ${where.sql}
     ORDER BY block_number DESC, chain_id DESC, tx_hash DESC, log_index DESC, record_index DESC
     LIMIT $${where.params.length}`,
    where.params,
  );
  return rows;
}

export async function countUsageRecords(c: Tx, tenantId: string | null, f: UsageRecordFilter): Promise<number> {
  const where = filtered(tenantId, f);
  const { rows } = await c.query<{ n: number }>(`SELECT count(*)::int AS n FROM usage_records WHERE ${where.sql}`, where.params);
  return rows[0]!.n;
}
