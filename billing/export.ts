/**
 * Billing documents as a tenant receives them: self-contained JSON that says which deployment and
 * tenant it is for, carries its content exactly as hashed, and the hash stored when it was issued.
 */
import { toHex } from "../chain/hex";
import { CREDIT_NOTE_EXPORT_FORMAT, INVOICE_EXPORT_FORMAT, type CreditNoteExport, type InvoiceExport } from "../verifier/document";
import { BillingNotFoundError } from "./errors";
import { creditNoteIdsOf, loadCreditNote } from "./store/credit-notes";
import { loadInvoiceContent, type Queryable } from "./store/invoice-store";
import { loadTenantParties } from "./store/tenants";

/** @deprecated name kept for callers that catch it; it is a BillingNotFoundError. */
export const InvoiceNotFoundError = BillingNotFoundError;

/**
 * An invoice document with the credit notes issued against it. The content hash is the one stored
 * at finalization, not one recomputed now: were the rows altered since, the document would no
 * longer match its hash and verification would say so.
 */
export async function exportInvoice(db: { pool: Queryable } | Queryable, tenantId: string, invoiceId: string): Promise<InvoiceExport> {
  // A pool, or a client already in a transaction (e.g. the API's, under row-level security).
  const q: Queryable = "pool" in db ? db.pool : db;
  const parties = await loadTenantParties(q, tenantId);
  const loaded = parties ? await loadInvoiceContent(q, invoiceId, parties) : null;
  if (!parties || !loaded || loaded.row.tenant_id !== tenantId) throw new BillingNotFoundError(`invoice ${invoiceId} of tenant ${tenantId} not found`);
  const creditNotes: CreditNoteExport[] = [];
  for (const id of await creditNoteIdsOf(q, invoiceId)) creditNotes.push(await exportCreditNote(q, tenantId, id));
  return {
    format: INVOICE_EXPORT_FORMAT,
    status: loaded.row.status,
    contentHash: loaded.row.status === "finalized" && loaded.row.content_hash ? toHex(loaded.row.content_hash) : null,
    invoice: loaded.content,
    creditNotes,
  };
}

export async function exportCreditNote(db: { pool: Queryable } | Queryable, tenantId: string, creditNoteId: string): Promise<CreditNoteExport> {
  const q: Queryable = "pool" in db ? db.pool : db;
  const note = await loadCreditNote(q, creditNoteId);
  if (!note || note.tenantId !== tenantId) throw new BillingNotFoundError(`credit note ${creditNoteId} of tenant ${tenantId} not found`);
  return { format: CREDIT_NOTE_EXPORT_FORMAT, contentHash: note.contentHash, creditNote: note.content };
}
