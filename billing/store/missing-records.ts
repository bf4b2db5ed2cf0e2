/**
 * billing_missing_records: invoiced records that left the indexed chain, since when. Billing's own
 * bookkeeping (not financial history): rows come and go as reorgs remove and re-include records.
 */
import type { Queryable, RecordKey } from "./records";

/** SQL: finalized invoice line record `lr` (line `l`, invoice `i`) still charged (no credit took it or its line). */
const STILL_CHARGED = `NOT EXISTS (SELECT 1 FROM credit_note_records cr JOIN credit_notes c ON c.id = cr.credit_note_id
                       WHERE c.invoice_id = i.id AND cr.reporter = lr.reporter AND cr.sequence = lr.sequence)
      AND NOT EXISTS (SELECT 1 FROM credit_note_lines cl JOIN credit_notes c ON c.id = cl.credit_note_id
                       WHERE c.invoice_id = i.id AND cl.invoice_line_no = l.line_no AND cl.whole_line)`;

/** SQL: the cited record `lr` is on the indexed chain with the content the invoice cites, and counts. */
const ON_CHAIN = `EXISTS (SELECT 1 FROM usage_records r
                  WHERE r.tenant_id = lr.tenant_id AND r.reporter = lr.reporter AND r.sequence = lr.sequence
                    AND r.meter_id = lr.meter_id AND r.quantity = lr.quantity AND r.ref = lr.ref
                    AND r.period_start = lr.period_start AND r.period_end = lr.period_end AND NOT r.is_duplicate)`;

/**
 * Brings the tenant's missing-evidence rows up to date with the indexed chain: records cited by
 * finalized invoices, seen in blocks a reorg can still replace (the indexer's unfinalized window),
 * that are gone or changed are recorded as missing since `checkpoint`; records that came back are
 * forgotten. Returns how many are missing now.
 */
export async function refreshMissingRecords(db: Queryable, tenantId: string, checkpoint: bigint): Promise<number> {
  // Back on chain, or no longer charged (credited or voided meanwhile): nothing left to correct.
  await db.query(
    `DELETE FROM billing_missing_records m
      WHERE m.tenant_id = $1
        AND EXISTS (SELECT 1 FROM invoice_line_records lr JOIN invoice_lines l ON l.id = lr.line_id JOIN invoices i ON i.id = l.invoice_id
                     WHERE lr.line_id = m.line_id AND lr.reporter = m.reporter AND lr.sequence = m.sequence
                       AND (${ON_CHAIN} OR NOT (${STILL_CHARGED})))`,
    [tenantId],
  );
  await db.query(
    `INSERT INTO billing_missing_records (tenant_id, reporter, sequence, line_id, missing_since_block)
     SELECT lr.tenant_id, lr.reporter, lr.sequence, lr.line_id, $2::bigint
       FROM tenants t
       JOIN invoice_line_records lr ON lr.tenant_id = t.id
       JOIN invoice_lines l ON l.id = lr.line_id
       JOIN invoices i ON i.id = l.invoice_id AND i.status = 'finalized'
      WHERE t.id = $1
        AND lr.block_number >= coalesce((SELECT min(b.number) FROM blocks b WHERE b.contract_id = t.contract_id), $2::bigint + 1)
        AND ${STILL_CHARGED} AND NOT ${ON_CHAIN}
     ON CONFLICT (tenant_id, reporter, sequence) DO NOTHING`,
    [tenantId, checkpoint.toString()],
  );
  const { rows } = await db.query<{ n: string }>("SELECT count(*)::text AS n FROM billing_missing_records WHERE tenant_id = $1", [tenantId]);
  return Number(rows[0]!.n);
}

/**
 * Missing records that stayed missing while the chain moved `confirmations` blocks on, grouped by
 * the invoice that charges them: a reorg that deep is not undone by the next block.
 */
export async function settledMissing(db: Queryable, tenantId: string, checkpoint: bigint, confirmations: number): Promise<Map<string, RecordKey[]>> {
  const { rows } = await db.query<{ invoice_id: string; reporter: Buffer; sequence: string }>(
    `SELECT l.invoice_id::text AS invoice_id, m.reporter, m.sequence::text AS sequence
       FROM billing_missing_records m JOIN invoice_lines l ON l.id = m.line_id
      WHERE m.tenant_id = $1 AND m.missing_since_block + $3 <= $2
      ORDER BY l.invoice_id, m.reporter, m.sequence`,
    [tenantId, checkpoint.toString(), confirmations],
  );
  const out = new Map<string, RecordKey[]>();
  for (const r of rows) out.set(r.invoice_id, [...(out.get(r.invoice_id) ?? []), { reporter: r.reporter, sequence: r.sequence }]);
  return out;
}

export async function forgetMissing(db: Queryable, tenantId: string, keys: readonly RecordKey[]): Promise<void> {
  await db.query(
    `DELETE FROM billing_missing_records m USING unnest($2::bytea[], $3::numeric[]) AS k(reporter, sequence)
      WHERE m.tenant_id = $1 AND m.reporter = k.reporter AND m.sequence = k.sequence`,
    [tenantId, keys.map((k) => k.reporter), keys.map((k) => k.sequence)],
  );
}
