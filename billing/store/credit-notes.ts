/** The credit note tables: append-only (030's triggers), numbered gap-free per tenant. */
import { fromHex, toHex } from "../../chain/hex";
import { citationKey } from "../../rating/citation";
import { creditNoteContentSchema, type CreditNoteContent } from "../../rating/credit-note";
import type { Removal } from "../../rating/recompute";
import type { Queryable } from "./records";

export async function nextCreditNoteNumber(db: Queryable, tenantId: string): Promise<number> {
  const { rows } = await db.query<{ last_number: number }>(
    `INSERT INTO credit_note_counters (tenant_id, last_number) VALUES ($1, 1)
     ON CONFLICT (tenant_id) DO UPDATE SET last_number = credit_note_counters.last_number + 1
     RETURNING last_number`,
    [tenantId],
  );
  return rows[0]!.last_number;
}

/** Reserves the row id first, so the content (which names it) can be hashed before the insert. */
export async function nextCreditNoteId(db: Queryable): Promise<string> {
  const { rows } = await db.query<{ id: string }>("SELECT nextval(pg_get_serial_sequence('credit_notes', 'id'))::text AS id");
  return rows[0]!.id;
}

export async function insertCreditNote(db: Queryable, tenantId: string, content: CreditNoteContent, contentHash: string, issuedBy: string): Promise<void> {
  await db.query(
    `INSERT INTO credit_notes (tenant_id, id, number, invoice_id, reason, memo, currency, currency_exponent, total_minor, content,
                               content_hash, issued_by, issued_at)
     OVERRIDING SYSTEM VALUE VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
    [tenantId, content.creditNoteId, content.number, content.invoiceId, content.reason, content.memo, content.currency, content.currencyExponent,
      content.totalMinor, JSON.stringify(content), fromHex(contentHash), issuedBy, content.issuedAt],
  );
  for (const l of content.lines) {
    await db.query(
      `INSERT INTO credit_note_lines (tenant_id, credit_note_id, line_no, invoice_line_no, description, whole_line, amount_minor)
       VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [tenantId, content.creditNoteId, l.lineNo, l.invoiceLineNo, l.description, l.wholeLine, l.amountMinor],
    );
    if (l.records.length === 0) continue;
    await db.query(
      `INSERT INTO credit_note_records (tenant_id, credit_note_id, line_no, reporter, sequence)
       SELECT $1, $2, $3, * FROM unnest($4::bytea[], $5::numeric[])`,
      [tenantId, content.creditNoteId, l.lineNo, l.records.map((r) => fromHex(r.reporter)), l.records.map((r) => r.sequence)],
    );
  }
}

/** Everything earlier credit notes took off an invoice: records by identity and whole lines. */
export async function creditedSoFar(db: Queryable, invoiceId: string): Promise<Removal> {
  const { rows: records } = await db.query<{ reporter: Buffer; sequence: string }>(
    `SELECT cr.reporter, cr.sequence::text AS sequence FROM credit_note_records cr JOIN credit_notes c ON c.id = cr.credit_note_id
      WHERE c.invoice_id = $1`,
    [invoiceId],
  );
  const { rows: lines } = await db.query<{ invoice_line_no: number }>(
    `SELECT l.invoice_line_no FROM credit_note_lines l JOIN credit_notes c ON c.id = l.credit_note_id
      WHERE c.invoice_id = $1 AND l.whole_line`,
    [invoiceId],
  );
  return {
    records: new Set(records.map((r) => citationKey({ reporter: toHex(r.reporter), sequence: r.sequence }))),
    lines: new Set(lines.map((l) => l.invoice_line_no)),
  };
}

export async function isVoided(db: Queryable, invoiceId: string): Promise<boolean> {
  const { rows } = await db.query("SELECT 1 FROM credit_notes WHERE invoice_id = $1 AND reason = 'void' LIMIT 1", [invoiceId]);
  return rows.length > 0;
}

export async function loadCreditNote(db: Queryable, creditNoteId: string): Promise<{ tenantId: string; content: CreditNoteContent; contentHash: string } | null> {
  const { rows } = await db.query<{ tenant_id: string; content: unknown; content_hash: Buffer }>(
    "SELECT tenant_id::text AS tenant_id, content, content_hash FROM credit_notes WHERE id = $1",
    [creditNoteId],
  );
  const r = rows[0];
  return r ? { tenantId: r.tenant_id, content: creditNoteContentSchema.parse(r.content), contentHash: toHex(r.content_hash) } : null;
}

export async function creditNoteIdsOf(db: Queryable, invoiceId: string): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>("SELECT id::text AS id FROM credit_notes WHERE invoice_id = $1 ORDER BY number", [invoiceId]);
  return rows.map((r) => r.id);
}
