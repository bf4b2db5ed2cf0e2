import pg from "pg";
import { IsoTimestamp, Where, type Reader } from "./types";

export type Granularity = "HOUR" | "DAY" | "MONTH";

// Hourly series read usage_rollups. Day and month series are cut in the tenant's time zone and
// read usage_daily_rollups (db/migrations/047) for every local day wholly inside [from, to), and
// the hourly rollups only for the partial days at either end (within 48 hours of from or of to:
// no local day is longer than that), so the result is exactly the fold of the hourly rollups in
// [from, to) by local day or month, while a 30-day range reads ~30 daily rows plus the edge hours.
// The tenant filter is explicit as well as enforced by row-level security.
const HOURLY = `SELECT bucket_start, quantity_sum::text AS quantity, quantity_max::text AS max, record_count::text AS records
  FROM usage_rollups
  WHERE tenant_id = $1 AND meter_id = $2 AND bucket_start >= $3 AND bucket_start < $4
  ORDER BY bucket_start`;

const EDGE = "interval '48 hours'";
const edgeHours = (range: string) => `SELECT r.bucket_start AT TIME ZONE z.tz AS local_ts, r.quantity_sum, r.quantity_max, r.record_count
    FROM usage_rollups r
    WHERE r.tenant_id = $1 AND r.meter_id = $2 AND ${range}
      AND NOT (date_trunc('day', r.bucket_start AT TIME ZONE z.tz) AT TIME ZONE z.tz >= $3::timestamptz
           AND (date_trunc('day', r.bucket_start AT TIME ZONE z.tz) + interval '1 day') AT TIME ZONE z.tz <= $4::timestamptz)`;

const BUCKETED = `WITH z AS (SELECT time_zone AS tz FROM tenants WHERE id = $1)
SELECT date_trunc($5, p.local_ts) AT TIME ZONE z.tz AS bucket_start,
    sum(p.q)::text AS quantity, max(p.x)::text AS max, sum(p.n)::text AS records
  FROM z CROSS JOIN LATERAL (
    SELECT d.local_day::timestamp AS local_ts, d.quantity_sum AS q, d.quantity_max AS x, d.record_count AS n
      FROM usage_daily_rollups d
      WHERE d.tenant_id = $1 AND d.meter_id = $2 AND d.day_start >= $3::timestamptz AND d.day_end <= $4::timestamptz
    UNION ALL
    ${edgeHours(`r.bucket_start >= $3::timestamptz AND r.bucket_start < LEAST($4::timestamptz, $3::timestamptz + ${EDGE})`)}
    UNION ALL
    ${edgeHours(`r.bucket_start >= GREATEST($3::timestamptz + ${EDGE}, $4::timestamptz - ${EDGE}) AND r.bucket_start < $4::timestamptz`)}
  ) p
  GROUP BY 1 ORDER BY 1`;

// The fold the daily table replaces, kept as the definition the agreement test checks against.
const FOLDED = `SELECT date_trunc($5, r.bucket_start AT TIME ZONE t.time_zone) AT TIME ZONE t.time_zone AS bucket_start,
    sum(r.quantity_sum)::text AS quantity, max(r.quantity_max)::text AS max, sum(r.record_count)::text AS records
  FROM usage_rollups r JOIN tenants t ON t.id = r.tenant_id
  WHERE r.tenant_id = $1 AND r.meter_id = $2 AND r.bucket_start >= $3 AND r.bucket_start < $4
  GROUP BY 1 ORDER BY 1`;

/** The dashboard query's SQL, exported for the benchmark's direct-pg baseline. */
export const USAGE_SQL = { HOURLY, BUCKETED, FOLDED };

// The series' bucket starts as the DateTime scalar writes them, straight from PostgreSQL's text
// (per row, pg's Date parsing and the scalar's formatting cost more than the rest of the row).
// When the session's TimeZone is UTC (the server's setting; the API sets none) and DateStyle is
// ISO (pg's default), a bucket start arrives as `2026-01-01 00:00:00+00` (whole seconds: date_trunc). Anything else (another offset, a fraction,
// a year outside 1000..9999, BC, infinity) takes pg's own parser, as before, and the scalar
// formats that Date as it always did: the output is the same either way.
const TIMESTAMPTZ = 1184;
const UTC_WHOLE_SECOND = /^[1-9]\d{3}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\+00$/;
const parseTimestamptz = pg.types.getTypeParser(TIMESTAMPTZ, "text") as (text: string) => unknown;
/** Exported for the test that holds the fast path to pg's parser and the scalar's format. */
export const SERIES_TYPES: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: string) =>
    oid === TIMESTAMPTZ && format !== "binary"
      ? (text: string) => (UTC_WHOLE_SECOND.test(text) ? new IsoTimestamp(`${text.slice(0, 10)}T${text.slice(11, 19)}.000Z`) : parseTimestamptz(text))
      : pg.types.getTypeParser(oid, format as "text")) as pg.CustomTypesConfig["getTypeParser"],
};

export interface UsagePointRow {
  /** An IsoTimestamp in the common case, else the Date pg parses (see SERIES_TYPES). */
  bucket_start: IsoTimestamp | Date;
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
      ? await c.query<UsagePointRow>({ text: HOURLY, types: SERIES_TYPES }, [tenantId, meterId, from, to])
      : await c.query<UsagePointRow>({ text: BUCKETED, types: SERIES_TYPES }, [tenantId, meterId, from, to, granularity.toLowerCase()]);
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
  c: Reader,
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

export async function countUsageRecords(c: Reader, tenantId: string | null, f: UsageRecordFilter): Promise<number> {
  const where = filtered(tenantId, f);
  const { rows } = await c.query<{ n: number }>(`SELECT count(*)::int AS n FROM usage_records WHERE ${where.sql}`, where.params);
  return rows[0]!.n;
}
