/**
 * The invoice tables (invoices, invoice_lines, invoice_line_records, invoice_counters): the one row
 * type and column list everyone reads invoices through, and every statement that writes them.
 * Finalized invoices are immutable in the database itself (010's triggers); this module only ever
 * rewrites drafts.
 */
import type pg from "pg";
import { fromHex, toHex } from "../../chain/hex";
import type { RecordCitation } from "../../rating/citation";
import type { InvoiceContent, InvoiceLineContent } from "../../rating/invoice";
import { invoiceSnapshotSchema } from "../../rating/snapshot";
import type { Queryable, RecordRow } from "./records";
import type { TenantParties } from "./tenants";
import { previousHashOfInvoice } from "./documents";

export type { Queryable };

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
  replaces_invoice_id: string | null;
}

export const INVOICE_COLUMNS = `tenant_id::text AS tenant_id, id::text AS id, number, period_start, period_end, time_zone, status, currency,
  currency_exponent, total_minor::text AS total_minor, plan_version_id::text AS plan_version_id, plan_snapshot,
  confirmed_block::text AS confirmed_block, content_hash, finalized_at, source_fingerprint, replaces_invoice_id::text AS replaces_invoice_id`;

/** The tenant's invoice for a period: the reissue when one exists, else the original. */
const CURRENT_FOR_PERIOD = `NOT EXISTS (SELECT 1 FROM invoices n WHERE n.replaces_invoice_id = i.id)`;

export async function loadInvoiceRow(db: Queryable, invoiceId: string): Promise<InvoiceRow | null> {
  const { rows } = await db.query<InvoiceRow>(`SELECT ${INVOICE_COLUMNS} FROM invoices WHERE id = $1`, [invoiceId]);
  return rows[0] ?? null;
}

export async function draftsOf(db: Queryable, tenantId: string): Promise<InvoiceRow[]> {
  const { rows } = await db.query<InvoiceRow>(
    `SELECT ${INVOICE_COLUMNS} FROM invoices WHERE tenant_id = $1 AND status = 'draft' ORDER BY period_start`,
    [tenantId],
  );
  return rows;
}

/**
 * Finalized, current (not replaced) invoices whose late usage goes on `draft`: those ending at or
 * before the draft's start with no other draft between them and it.
 */
export async function adjustmentSources(db: Queryable, draft: Pick<InvoiceRow, "tenant_id" | "period_start">): Promise<InvoiceRow[]> {
  const { rows } = await db.query<InvoiceRow>(
    `SELECT ${INVOICE_COLUMNS} FROM invoices i
      WHERE i.tenant_id = $1 AND i.status = 'finalized' AND i.period_end <= $2 AND ${CURRENT_FOR_PERIOD}
        AND NOT EXISTS (SELECT 1 FROM invoices d WHERE d.tenant_id = i.tenant_id AND d.status = 'draft'
                         AND d.period_start >= i.period_end AND d.period_start < $2)
      ORDER BY i.period_start`,
    [draft.tenant_id, draft.period_start],
  );
  return rows;
}

/** Whether the tenant has an invoice (draft or finalized) for the period starting at `start`. */
export async function hasInvoiceFor(db: Queryable, tenantId: string, start: Date): Promise<boolean> {
  const { rows } = await db.query("SELECT 1 FROM invoices WHERE tenant_id = $1 AND period_start = $2 LIMIT 1", [tenantId, start]);
  return rows.length > 0;
}

export async function insertDraft(
  db: Queryable,
  d: { tenantId: string; start: Date; end: Date; timeZone: string; currency: string; exponent: number; planVersionId: string; snapshot: unknown; replaces?: string },
): Promise<string | null> {
  const { rows } = await db.query<{ id: string }>(
    d.replaces
      ? `INSERT INTO invoices (tenant_id, period_start, period_end, time_zone, currency, currency_exponent, plan_version_id, plan_snapshot, replaces_invoice_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id::text AS id`
      : `INSERT INTO invoices (tenant_id, period_start, period_end, time_zone, currency, currency_exponent, plan_version_id, plan_snapshot)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (tenant_id, period_start) WHERE replaces_invoice_id IS NULL DO NOTHING RETURNING id::text AS id`,
    [d.tenantId, d.start, d.end, d.timeZone, d.currency, d.exponent, d.planVersionId, JSON.stringify(d.snapshot), ...(d.replaces ? [d.replaces] : [])],
  );
  return rows[0]?.id ?? null;
}

export async function setFingerprint(db: Queryable, invoiceId: string, fingerprint: string): Promise<void> {
  await db.query("UPDATE invoices SET source_fingerprint = $2 WHERE id = $1 AND status = 'draft'", [invoiceId, fingerprint]);
}

/** Replaces a draft's lines, evidence and totals with `content`. */
export async function writeDraftContent(db: Queryable, tenantId: string, content: InvoiceContent, contentHash: string, fingerprint: string): Promise<void> {
  await db.query("DELETE FROM invoice_lines WHERE invoice_id = $1", [content.invoiceId]);
  for (const l of content.lines) {
    const { rows } = await db.query<{ id: string }>(
      `INSERT INTO invoice_lines (tenant_id, invoice_id, line_no, kind, meter_id, description, aggregation, quantity,
                                  base_quantity, amount_minor, adjusts_period_start, adjusts_period_end, adjusts_invoice_id, plan_version_id)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12,
               (SELECT id FROM invoices WHERE tenant_id = $1 AND number = $13), $14) RETURNING id::text AS id`,
      [tenantId, content.invoiceId, l.lineNo, l.kind, l.meterId, l.description, l.aggregation, l.quantity, l.baseQuantity,
        l.amountMinor, l.adjustsPeriodStart, l.adjustsPeriodEnd, l.adjustsInvoiceNumber, l.planVersionId],
    );
    const lineId = rows[0]?.id;
    if (l.records.length === 0 || lineId === undefined) continue;
    await insertLineRecords(db, tenantId, lineId, l.records);
  }
  await db.query(
    `UPDATE invoices SET plan_version_id = $2, plan_snapshot = $3, currency = $4, currency_exponent = $5,
            total_minor = $6, content_hash = $7, confirmed_block = $8, source_fingerprint = $9, updated_at = now()
      WHERE id = $1 AND status = 'draft'`,
    [content.invoiceId, content.planSnapshot.plan.versionId, JSON.stringify(content.planSnapshot), content.currency, content.currencyExponent,
      content.totalMinor, fromHex(contentHash), content.confirmedBlock, fingerprint],
  );
}

async function insertLineRecords(db: Queryable, tenantId: string, lineId: string, records: readonly RecordCitation[]): Promise<void> {
  await db.query(
    `INSERT INTO invoice_line_records (tenant_id, line_id, contract_id, chain_id, reporter, sequence, ref, tx_hash, log_index,
                                       record_index, commitment, block_number, meter_id, period_start, period_end, quantity)
     SELECT $1, $2, t.contract_id, c.chain_id, u.* FROM tenants t JOIN contracts c ON c.id = t.contract_id,
            unnest($3::bytea[], $4::numeric[], $5::bytea[], $6::bytea[], $7::int[], $8::int[], $9::bytea[], $10::bigint[],
                   $11::int[], $12::timestamptz[], $13::timestamptz[], $14::numeric[]) AS u
      WHERE t.id = $1`,
    [
      tenantId,
      lineId,
      records.map((r) => fromHex(r.reporter)),
      records.map((r) => r.sequence),
      records.map((r) => fromHex(r.ref)),
      records.map((r) => fromHex(r.seenAt.txHash)),
      records.map((r) => r.seenAt.logIndex),
      records.map((r) => r.seenAt.recordIndex),
      records.map((r) => fromHex(r.seenAt.commitment)),
      records.map((r) => r.seenAt.blockNumber),
      records.map((r) => r.meterId),
      records.map((r) => r.periodStart),
      records.map((r) => r.periodEnd),
      records.map((r) => r.quantity),
    ],
  );
}

/** The tenant's next invoice number, in the caller's transaction: rolls back with it (gap-free). */
export async function nextInvoiceNumber(db: Queryable, tenantId: string): Promise<number> {
  const { rows } = await db.query<{ last_number: number }>(
    `INSERT INTO invoice_counters (tenant_id, last_number) VALUES ($1, 1)
     ON CONFLICT (tenant_id) DO UPDATE SET last_number = invoice_counters.last_number + 1
     RETURNING last_number`,
    [tenantId],
  );
  return rows[0]!.last_number;
}

export async function markFinalized(db: Queryable, invoiceId: string, f: { number: number; at: Date; confirmedBlock: bigint; contentHash: string }): Promise<void> {
  await db.query(
    `UPDATE invoices SET status = 'finalized', number = $2, finalized_at = $3, confirmed_block = $4, content_hash = $5, updated_at = $3
      WHERE id = $1 AND status = 'draft'`,
    [invoiceId, f.number, f.at, f.confirmedBlock.toString(), fromHex(f.contentHash)],
  );
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);

/** Reads an invoice with its lines and their records, as the content its hash covers. */
export async function loadInvoiceContent(db: Queryable, invoiceId: string, parties: Pick<TenantParties, "deployment" | "tenant">): Promise<{ row: InvoiceRow; content: InvoiceContent } | null> {
  const row = await loadInvoiceRow(db, invoiceId);
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
    adjusts_number: number | null;
    plan_version_id: string | null;
  }>(
    `SELECT l.id::text AS id, l.line_no, l.kind, l.meter_id, l.description, l.aggregation, l.quantity::text AS quantity,
            l.base_quantity::text AS base_quantity, l.amount_minor::text AS amount_minor, l.adjusts_period_start, l.adjusts_period_end,
            a.number AS adjusts_number, l.plan_version_id::text AS plan_version_id
       FROM invoice_lines l LEFT JOIN invoices a ON a.id = l.adjusts_invoice_id
      WHERE l.invoice_id = $1 ORDER BY l.line_no`,
    [invoiceId],
  );
  const { rows: records } = await db.query<RecordRow & { line_id: string }>(
    `SELECT r.line_id::text AS line_id, r.reporter, r.sequence::text AS sequence, r.ref, r.meter_id, r.period_start, r.period_end,
            r.quantity::text AS quantity, r.block_number::text AS block_number, r.tx_hash, r.log_index, r.record_index, r.commitment
       FROM invoice_line_records r JOIN invoice_lines l ON l.id = r.line_id
      WHERE l.invoice_id = $1`,
    [invoiceId],
  );
  const byLine = new Map<string, RecordCitation[]>();
  for (const r of records) {
    const list = byLine.get(r.line_id) ?? [];
    list.push({
      reporter: toHex(r.reporter),
      sequence: r.sequence,
      meterId: r.meter_id,
      periodStart: r.period_start.toISOString(),
      periodEnd: r.period_end.toISOString(),
      quantity: r.quantity,
      ref: toHex(r.ref),
      seenAt: { blockNumber: r.block_number, txHash: toHex(r.tx_hash), logIndex: r.log_index, recordIndex: r.record_index, commitment: toHex(r.commitment) },
    });
    byLine.set(r.line_id, list);
  }
  let replacesNumber: number | null = null;
  if (row.replaces_invoice_id) replacesNumber = (await loadInvoiceRow(db, row.replaces_invoice_id))?.number ?? null;
  const content: InvoiceContent = {
    deployment: parties.deployment,
    tenant: parties.tenant,
    invoiceId: row.id,
    number: row.number,
    replacesInvoiceNumber: replacesNumber,
    previousDocumentHash: row.status === "finalized" ? await previousHashOfInvoice(db, row.id) : null,
    periodStart: row.period_start.toISOString(),
    periodEnd: row.period_end.toISOString(),
    timeZone: row.time_zone,
    currency: row.currency,
    currencyExponent: row.currency_exponent,
    totalMinor: row.total_minor,
    confirmedBlock: row.confirmed_block,
    finalizedAt: iso(row.finalized_at),
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
      adjustsPeriodStart: iso(l.adjusts_period_start),
      adjustsPeriodEnd: iso(l.adjusts_period_end),
      adjustsInvoiceNumber: l.adjusts_number,
      planVersionId: l.plan_version_id,
      records: byLine.get(l.id) ?? [],
    })),
  };
  return { row, content };
}

/** pg's transaction client also satisfies Queryable; named for signatures that must run in one. */
export type Tx = pg.PoolClient;
