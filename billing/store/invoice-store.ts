import { toHex } from "../../chain/hex";
import type pg from "pg";
import type { InvoiceContent, InvoiceLineContent, LineRecordRef } from "../../rating/content-hash";
import { invoiceSnapshotSchema } from "../../rating/snapshot";

/** A pool or a client inside a transaction. */
export type Queryable = Pick<pg.Pool, "query">;


/** A usage record as billing reads it: the on-chain reference plus what pricing needs. */
export interface RecordRow {
  chain_id: string;
  tx_hash: Buffer;
  log_index: number;
  record_index: number;
  commitment: Buffer;
  block_number: string;
  meter_id: number;
  period_start: Date;
  period_end: Date;
  quantity: string;
}

export function toRef(r: RecordRow): LineRecordRef {
  return {
    chainId: r.chain_id,
    txHash: toHex(r.tx_hash),
    logIndex: r.log_index,
    recordIndex: r.record_index,
    commitment: toHex(r.commitment),
    blockNumber: r.block_number,
    meterId: r.meter_id,
    periodStart: r.period_start.toISOString(),
    periodEnd: r.period_end.toISOString(),
    quantity: r.quantity,
  };
}

export interface InvoiceRow {
  tenant_id: string;
  id: string;
  number: number | null;
  period_start: Date;
  period_end: Date;
  time_zone: string;
  status: "draft" | "finalized";
  currency: string;
  currency_exponent: number;
  total_minor: string;
  plan_version_id: string;
  plan_snapshot: unknown;
  confirmed_block: string | null;
  content_hash: Buffer | null;
  finalized_at: Date | null;
  source_fingerprint: string | null;
}

export const INVOICE_COLUMNS = `tenant_id, id, number, period_start, period_end, time_zone, status, currency,
  currency_exponent, total_minor, plan_version_id, plan_snapshot, confirmed_block, content_hash, finalized_at, source_fingerprint`;

/** Reads an invoice with its lines and their records, as the content its hash covers. */
export async function loadInvoiceContent(db: Queryable, invoiceId: string): Promise<{ row: InvoiceRow; content: InvoiceContent } | null> {
  const { rows } = await db.query<InvoiceRow>(`SELECT ${INVOICE_COLUMNS} FROM invoices WHERE id = $1`, [invoiceId]);
  const row = rows[0];
  if (!row) return null;
  const { rows: lines } = await db.query<{
    id: string;
    line_no: number;
    kind: InvoiceLineContent["kind"];
    meter_id: number | null;
    description: string;
    aggregation: InvoiceLineContent["aggregation"];
    quantity: string;
    base_quantity: string | null;
    amount_minor: string;
    adjusts_period_start: Date | null;
    adjusts_period_end: Date | null;
    plan_version_id: string | null;
  }>(
    `SELECT id, line_no, kind, meter_id, description, aggregation, quantity, base_quantity, amount_minor,
            adjusts_period_start, adjusts_period_end, plan_version_id
       FROM invoice_lines WHERE invoice_id = $1 ORDER BY line_no`,
    [invoiceId],
  );
  const { rows: records } = await db.query<RecordRow & { line_id: string }>(
    `SELECT r.line_id, r.chain_id, r.tx_hash, r.log_index, r.record_index, r.commitment, r.block_number,
            r.meter_id, r.period_start, r.period_end, r.quantity
       FROM invoice_line_records r JOIN invoice_lines l ON l.id = r.line_id
      WHERE l.invoice_id = $1`,
    [invoiceId],
  );
  const byLine = new Map<string, LineRecordRef[]>();
  for (const r of records) {
    const list = byLine.get(r.line_id) ?? [];
    list.push(toRef(r));
    byLine.set(r.line_id, list);
  }
  const content: InvoiceContent = {
    tenantId: row.tenant_id,
    invoiceId: row.id,
    number: row.number,
    periodStart: row.period_start.toISOString(),
    periodEnd: row.period_end.toISOString(),
    timeZone: row.time_zone,
    currency: row.currency,
    currencyExponent: row.currency_exponent,
    totalMinor: row.total_minor,
    confirmedBlock: row.confirmed_block,
    finalizedAt: row.finalized_at ? row.finalized_at.toISOString() : null,
    planSnapshot: invoiceSnapshotSchema.parse(row.plan_snapshot),
    lines: lines.map((l) => ({
      lineNo: l.line_no,
      kind: l.kind,
      meterId: l.meter_id,
      description: l.description,
      aggregation: l.aggregation,
      quantity: l.quantity,
      baseQuantity: l.base_quantity,
      amountMinor: l.amount_minor,
      adjustsPeriodStart: l.adjusts_period_start ? l.adjusts_period_start.toISOString() : null,
      adjustsPeriodEnd: l.adjusts_period_end ? l.adjusts_period_end.toISOString() : null,
      planVersionId: l.plan_version_id,
      records: byLine.get(l.id) ?? [],
    })),
  };
  return { row, content };
}
