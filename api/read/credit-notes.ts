import { Where, type Tx } from "./types";

// Credit notes are issued by billing (billing/corrections.ts, billing/reorgs.ts) and never change;
// the API reads them here. `content` is the document as hashed (rating/credit-note.ts).

export interface CreditNoteRow {
  id: string;
  number: number;
  invoice_id: string;
  reason: string;
  memo: string;
  currency: string;
  currency_exponent: number;
  total_minor: string;
  content: unknown;
  content_hash: Buffer;
  issued_at: Date;
}

const COLUMNS = `id::text, number, invoice_id::text, reason, memo, currency, currency_exponent, total_minor::text, content,
  content_hash, issued_at`;

function filtered(tenantId: string | null, invoiceId: string | null): Where {
  const where = new Where().add((n) => `tenant_id = $${n}`, tenantId);
  if (invoiceId !== null) where.add((n) => `invoice_id = $${n}`, invoiceId);
  return where;
}

/** Newest first; `limit` notes numbered below `afterNumber`, of one invoice or all. */
export async function pageCreditNotes(c: Tx, tenantId: string | null, invoiceId: string | null, afterNumber: number | null, limit: number): Promise<CreditNoteRow[]> {
  const where = filtered(tenantId, invoiceId);
  if (afterNumber !== null) where.add((n) => `number < $${n}`, afterNumber);
  where.params.push(limit);
  const { rows } = await c.query<CreditNoteRow>(
    `SELECT ${COLUMNS} FROM credit_notes WHERE ${where.sql} ORDER BY number DESC LIMIT $${where.params.length}`,
    where.params,
  );
  return rows;
}

export async function countCreditNotes(c: Tx, tenantId: string | null, invoiceId: string | null): Promise<number> {
  const where = filtered(tenantId, invoiceId);
  const { rows } = await c.query<{ n: number }>(`SELECT count(*)::int AS n FROM credit_notes WHERE ${where.sql}`, where.params);
  return rows[0]!.n;
}

export async function findCreditNote(c: Tx, tenantId: string | null, creditNoteId: string): Promise<CreditNoteRow | null> {
  const { rows } = await c.query<CreditNoteRow>(`SELECT ${COLUMNS} FROM credit_notes WHERE tenant_id = $1 AND id = $2`, [tenantId, creditNoteId]);
  return rows[0] ?? null;
}

/** An invoice's credit notes in the order they were issued. */
export async function creditNotesOfInvoice(c: Tx, tenantId: string | null, invoiceId: string): Promise<CreditNoteRow[]> {
  const { rows } = await c.query<CreditNoteRow>(`SELECT ${COLUMNS} FROM credit_notes WHERE tenant_id = $1 AND invoice_id = $2 ORDER BY number`, [
    tenantId,
    invoiceId,
  ]);
  return rows;
}
