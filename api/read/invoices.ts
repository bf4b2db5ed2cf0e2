import { INVOICE_COLUMNS, type InvoiceRow } from "../../billing/store/invoice-store";
import type { RecordRow } from "../../billing/store/records";
import type { Aggregation } from "../../rating/aggregation";
import { Where, type Tx } from "./types";

// The invoice row and its columns are billing's (billing/store/invoice-store.ts): the API reads
// what billing writes and hashes, under the same names.
export type { InvoiceRow };

function filtered(tenantId: string | null, status: InvoiceRow["status"] | null): Where {
  const where = new Where().add((n) => `tenant_id = $${n}`, tenantId);
  if (status) where.add((n) => `status = $${n}`, status);
  return where;
}

/** Newest first; `limit` invoices with ids below `afterId`. */
export async function pageInvoices(
  c: Tx,
  tenantId: string | null,
  status: InvoiceRow["status"] | null,
  afterId: string | null,
  limit: number,
): Promise<InvoiceRow[]> {
  const where = filtered(tenantId, status);
  if (afterId !== null) where.add((n) => `id < $${n}`, afterId);
  where.params.push(limit);
  const { rows } = await c.query<InvoiceRow>(
    `SELECT ${INVOICE_COLUMNS} FROM invoices WHERE ${where.sql} ORDER BY id DESC LIMIT $${where.params.length}`,
    where.params,
  );
  return rows;
}

export async function countInvoices(c: Tx, tenantId: string | null, status: InvoiceRow["status"] | null): Promise<number> {
  const where = filtered(tenantId, status);
  const { rows } = await c.query<{ n: number }>(`SELECT count(*)::int AS n FROM invoices WHERE ${where.sql}`, where.params);
  return rows[0]!.n;
}

export async function findInvoice(c: Tx, tenantId: string | null, invoiceId: string): Promise<InvoiceRow | null> {
  const { rows } = await c.query<InvoiceRow>(`SELECT ${INVOICE_COLUMNS} FROM invoices WHERE tenant_id = $1 AND id = $2`, [tenantId, invoiceId]);
  return rows[0] ?? null;
}

export interface InvoiceLineRow {
  id: string;
  line_no: number;
  kind: string;
  meter_id: number | null;
  description: string;
  aggregation: Aggregation | null;
  quantity: string;
  amount_minor: string;
}

export async function invoiceLines(c: Tx, tenantId: string | null, invoiceId: string): Promise<InvoiceLineRow[]> {
  const { rows } = await c.query<InvoiceLineRow>(
    `SELECT id::text, line_no, kind, meter_id, description, aggregation, quantity::text, amount_minor::text
     FROM invoice_lines WHERE tenant_id = $1 AND invoice_id = $2 ORDER BY line_no`,
    [tenantId, invoiceId],
  );
  return rows;
}

export interface LineRecordRow {
  chain_id: string;
  tx_hash: Buffer;
  log_index: number;
  block_number: string;
  commitment: Buffer;
}

export async function lineRecords(c: Tx, tenantId: string | null, lineId: string, limit: number): Promise<LineRecordRow[]> {
  const { rows } = await c.query<LineRecordRow>(
    `SELECT chain_id::text, tx_hash, log_index, block_number::text, commitment FROM invoice_line_records
     WHERE tenant_id = $1 AND line_id = $2 ORDER BY block_number, chain_id, tx_hash, log_index, record_index LIMIT $3`,
    [tenantId, lineId, limit],
  );
  return rows;
}

/** A cited record has billing's one record shape (identity, content, where it was seen). */
export type LineCitationRow = RecordRow;

/** A line's records as the invoice cites them: by identity (reporter, sequence), and where billing saw each. */
export async function lineCitations(c: Tx, tenantId: string | null, lineId: string, limit: number): Promise<LineCitationRow[]> {
  const { rows } = await c.query<LineCitationRow>(
    `SELECT reporter, sequence::text, ref, meter_id, period_start, period_end, quantity::text, block_number::text, tx_hash, log_index,
            record_index, commitment
       FROM invoice_line_records WHERE tenant_id = $1 AND line_id = $2 ORDER BY reporter, sequence LIMIT $3`,
    [tenantId, lineId, limit],
  );
  return rows;
}
