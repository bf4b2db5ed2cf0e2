/**
 * Billing's reads of usage records. A record is billable when it is neither a duplicate (by
 * idempotency key), nor excluded, nor charged by a finalized invoice line that no releasing credit
 * note took back. All three conditions key on the record's identity (tenant, reporter, sequence).
 */
import type pg from "pg";
import { toHex } from "../../chain/hex";
import type { RecordCitation } from "../../rating/citation";
import { RELEASING_REASONS } from "../../rating/credit-note";

export type Queryable = Pick<pg.Pool, "query">;

/** A usage record as billing reads it: identity, content, and where it was seen. */
export interface RecordRow {
  reporter: Buffer;
  sequence: string;
  ref: Buffer;
  meter_id: number;
  period_start: Date;
  period_end: Date;
  quantity: string;
  block_number: string;
  tx_hash: Buffer;
  log_index: number;
  record_index: number;
  commitment: Buffer;
}

export const RECORD_COLUMNS = `r.reporter, r.sequence::text AS sequence, r.ref, r.meter_id, r.period_start, r.period_end,
  r.quantity::text AS quantity, r.block_number::text AS block_number, r.tx_hash, r.log_index, r.record_index, r.commitment`;

export function toCitation(r: RecordRow): RecordCitation {
  return {
    reporter: toHex(r.reporter),
    sequence: r.sequence,
    meterId: r.meter_id,
    periodStart: r.period_start.toISOString(),
    periodEnd: r.period_end.toISOString(),
    quantity: r.quantity,
    ref: toHex(r.ref),
    seenAt: {
      blockNumber: r.block_number,
      txHash: toHex(r.tx_hash),
      logIndex: r.log_index,
      recordIndex: r.record_index,
      commitment: toHex(r.commitment),
    },
  };
}

const RELEASING = `ARRAY[${RELEASING_REASONS.map((r) => `'${r}'`).join(", ")}]::text[]`;

/**
 * SQL condition: the record `r` is charged by a finalized invoice (and not released since). Also
 * true for records credited with a settling reason: those are never billed again.
 */
export const CHARGED = `EXISTS (
  SELECT 1 FROM invoice_line_records lr
    JOIN invoice_lines l ON l.id = lr.line_id
    JOIN invoices i ON i.id = l.invoice_id AND i.status = 'finalized'
   WHERE lr.tenant_id = r.tenant_id AND lr.reporter = r.reporter AND lr.sequence = r.sequence
     AND NOT EXISTS (SELECT 1 FROM credit_note_records cr JOIN credit_notes c ON c.id = cr.credit_note_id
                      WHERE cr.tenant_id = lr.tenant_id AND cr.reporter = lr.reporter AND cr.sequence = lr.sequence
                        AND c.invoice_id = i.id AND c.reason = ANY (${RELEASING})))`;

export const EXCLUDED = `EXISTS (SELECT 1 FROM billing_exclusions x
  WHERE x.tenant_id = r.tenant_id AND x.reporter = r.reporter AND x.sequence = r.sequence)`;

/** Billable records of a tenant with usage in [from, to), at or below `maxBlock` when given. */
export async function billableRecords(db: Queryable, tenantId: string, from: Date, to: Date, maxBlock: bigint | null): Promise<RecordRow[]> {
  const { rows } = await db.query<RecordRow>(
    `SELECT ${RECORD_COLUMNS}
       FROM usage_records r
      WHERE r.tenant_id = $1 AND r.period_start >= $2 AND r.period_start < $3
        AND ($4::bigint IS NULL OR r.block_number <= $4)
        AND NOT r.is_duplicate AND NOT ${EXCLUDED} AND NOT ${CHARGED}`,
    [tenantId, from, to, maxBlock === null ? null : maxBlock.toString()],
  );
  return rows;
}

/**
 * An order-independent digest of the billable records in the given periods (at or below
 * `maxBlock`), computed in SQL so no record leaves the database: drafts whose digest did not change
 * are not rebuilt.
 */
export async function billableDigest(db: Queryable, tenantId: string, periods: readonly { start: Date; end: Date }[], maxBlock: bigint | null): Promise<{ n: string; h: string }> {
  const { rows } = await db.query<{ n: string; h: string }>(
    `SELECT count(*)::text AS n,
            coalesce(sum(hashtextextended(
              encode(r.reporter, 'hex') || ':' || r.sequence || ':' || r.meter_id || ':' || r.quantity || ':' || encode(r.ref, 'hex')
              || ':' || extract(epoch FROM r.period_start) || ':' || extract(epoch FROM r.period_end) || ':' || r.block_number
              || ':' || encode(r.tx_hash, 'hex') || ':' || r.log_index || ':' || r.record_index, 0)::numeric), 0)::text AS h
       FROM usage_records r
      WHERE r.tenant_id = $1
        AND EXISTS (SELECT 1 FROM unnest($2::timestamptz[], $3::timestamptz[]) AS p(s, e) WHERE r.period_start >= p.s AND r.period_start < p.e)
        AND ($4::bigint IS NULL OR r.block_number <= $4)
        AND NOT r.is_duplicate AND NOT ${EXCLUDED} AND NOT ${CHARGED}`,
    [tenantId, periods.map((p) => p.start), periods.map((p) => p.end), maxBlock === null ? null : maxBlock.toString()],
  );
  return rows[0] ?? { n: "0", h: "0" };
}

/** First instants of the billing periods (in `timeZone`) with billable usage and no finalized invoice yet. */
export async function periodsWithBillableUsage(db: Queryable, tenantId: string, timeZone: string): Promise<Date[]> {
  const { rows } = await db.query<{ first: Date }>(
    `SELECT DISTINCT billing_period_start($2, r.period_start) AS first
       FROM usage_records r
      WHERE r.tenant_id = $1 AND NOT r.is_duplicate AND NOT ${EXCLUDED} AND NOT ${CHARGED}
        -- usage of a period that already has its invoice goes on a later draft as an adjustment
        AND NOT EXISTS (SELECT 1 FROM invoices i WHERE i.tenant_id = r.tenant_id AND i.status = 'finalized'
                         AND r.period_start >= i.period_start AND r.period_start < i.period_end)`,
    [tenantId, timeZone],
  );
  return rows.map((r) => r.first);
}

/** A record's identity within its tenant. */
export interface RecordKey {
  reporter: Buffer;
  sequence: string;
}

/** The records, by identity, of a tenant that are on the indexed chain now (with their content). */
export async function recordsByIdentity(db: Queryable, tenantId: string, keys: readonly RecordKey[]): Promise<RecordRow[]> {
  if (keys.length === 0) return [];
  const { rows } = await db.query<RecordRow>(
    `SELECT ${RECORD_COLUMNS}
       FROM unnest($2::bytea[], $3::numeric[]) AS k(reporter, sequence)
       JOIN usage_records r ON r.tenant_id = $1 AND r.reporter = k.reporter AND r.sequence = k.sequence`,
    [tenantId, keys.map((k) => k.reporter), keys.map((k) => k.sequence)],
  );
  return rows;
}

/**
 * Quantities of a meter's records with usage in [from, to) that finalized invoices charge now (net
 * of every credit note): the base an adjustment for late usage of that period is priced on top of.
 */
/** SQL condition: invoice line record `lr` on line `l` of finalized invoice `i` is not credited. */
const NOT_CREDITED = `NOT EXISTS (SELECT 1 FROM credit_note_records cr JOIN credit_notes c ON c.id = cr.credit_note_id
                         WHERE c.invoice_id = i.id AND cr.reporter = lr.reporter AND cr.sequence = lr.sequence)
        AND NOT EXISTS (SELECT 1 FROM credit_note_lines cl JOIN credit_notes c ON c.id = cl.credit_note_id
                         WHERE c.invoice_id = i.id AND cl.invoice_line_no = l.line_no AND cl.whole_line)`;

/** The finalized invoices that charge the given records now (not credited), with the records they charge. */
export async function invoicesCharging(db: Queryable, tenantId: string, keys: readonly { reporter: Buffer; sequence: string }[]): Promise<Map<string, RecordKey[]>> {
  const { rows } = await db.query<{ invoice_id: string; reporter: Buffer; sequence: string }>(
    `SELECT i.id::text AS invoice_id, lr.reporter, lr.sequence::text AS sequence
       FROM unnest($2::bytea[], $3::numeric[]) AS k(reporter, sequence)
       JOIN invoice_line_records lr ON lr.tenant_id = $1 AND lr.reporter = k.reporter AND lr.sequence = k.sequence
       JOIN invoice_lines l ON l.id = lr.line_id
       JOIN invoices i ON i.id = l.invoice_id AND i.status = 'finalized'
      WHERE ${NOT_CREDITED}
      ORDER BY i.id`,
    [tenantId, keys.map((k) => k.reporter), keys.map((k) => k.sequence)],
  );
  const out = new Map<string, RecordKey[]>();
  for (const r of rows) out.set(r.invoice_id, [...(out.get(r.invoice_id) ?? []), { reporter: r.reporter, sequence: r.sequence }]);
  return out;
}

export async function chargedQuantities(db: Queryable, tenantId: string, meterId: number, from: Date, to: Date): Promise<bigint[]> {
  const { rows } = await db.query<{ quantity: string }>(
    `SELECT lr.quantity::text AS quantity
       FROM invoice_line_records lr
       JOIN invoice_lines l ON l.id = lr.line_id
       JOIN invoices i ON i.id = l.invoice_id AND i.status = 'finalized'
      WHERE lr.tenant_id = $1 AND lr.meter_id = $2 AND lr.period_start >= $3 AND lr.period_start < $4
        AND ${NOT_CREDITED}`,
    [tenantId, meterId, from, to],
  );
  return rows.map((r) => BigInt(r.quantity));
}

/** A change marker for everything charged so far: moves when an invoice is finalized or a credit note issued. */
export async function chargeMarker(db: Queryable, tenantId: string): Promise<string> {
  const { rows } = await db.query<{ m: string }>(
    `SELECT (SELECT coalesce(max(id), 0) FROM invoices WHERE tenant_id = $1 AND status = 'finalized')::text || ':' ||
            (SELECT coalesce(max(id), 0) FROM credit_notes WHERE tenant_id = $1)::text || ':' ||
            (SELECT count(*) FROM billing_exclusions WHERE tenant_id = $1)::text AS m`,
    [tenantId],
  );
  return rows[0]!.m;
}
