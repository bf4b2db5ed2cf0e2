/**
 * Billing documents as a tenant receives them: self-contained JSON that says which deployment and
 * tenant it is for, carries its content exactly as hashed, the hash stored when it was issued, and
 * the tenant's earlier documents of its hash chain, so a verifier can check the whole history
 * against the anchored chain without asking the platform for anything else.
 */
import { toHex } from "../chain/hex";
import {
  CREDIT_NOTE_EXPORT_FORMAT,
  INVOICE_EXPORT_FORMAT,
  type ChainedDocument,
  type CreditNoteExport,
  type InvoiceExport,
} from "../verifier/document";
import { BillingError, BillingNotFoundError } from "./errors";
import { creditNoteIdsOf, loadCreditNote } from "./store/credit-notes";
import { documentsBefore } from "./store/documents";
import { loadInvoiceContent, type Queryable } from "./store/invoice-store";
import { loadTenantParties, type TenantParties } from "./store/tenants";

/** @deprecated name kept for callers that catch it; it is a BillingNotFoundError. */
export const InvoiceNotFoundError = BillingNotFoundError;

/**
 * An invoice document with the credit notes issued against it and every document before it in the
 * tenant's chain (none for a draft, which is not in the chain). Content hashes are the ones stored
 * at issue, not recomputed now: were the rows altered since, the document would no longer match
 * its hash and verification would say so.
 */
export async function exportInvoice(db: { pool: Queryable } | Queryable, tenantId: string, invoiceId: string): Promise<InvoiceExport> {
  // A pool, or a client already in a transaction (e.g. the API's, under row-level security).
  const q: Queryable = "pool" in db ? db.pool : db;
  const parties = await loadTenantParties(q, tenantId);
  const loaded = parties ? await loadInvoiceContent(q, invoiceId, parties) : null;
  if (!parties || !loaded || loaded.row.tenant_id !== tenantId) throw new BillingNotFoundError(`invoice ${invoiceId} of tenant ${tenantId} not found`);
  const creditNotes: CreditNoteExport[] = [];
  for (const id of await creditNoteIdsOf(q, invoiceId)) creditNotes.push(await exportCreditNote(q, tenantId, id));
  const finalized = loaded.row.status === "finalized";
  return {
    format: INVOICE_EXPORT_FORMAT,
    status: loaded.row.status,
    contentHash: finalized && loaded.row.content_hash ? toHex(loaded.row.content_hash) : null,
    invoice: loaded.content,
    creditNotes,
    history: finalized ? await historyBefore(q, tenantId, parties, invoiceId) : [],
  };
}

export async function exportCreditNote(db: { pool: Queryable } | Queryable, tenantId: string, creditNoteId: string): Promise<CreditNoteExport> {
  const q: Queryable = "pool" in db ? db.pool : db;
  const note = await loadCreditNote(q, creditNoteId);
  if (!note || note.tenantId !== tenantId) throw new BillingNotFoundError(`credit note ${creditNoteId} of tenant ${tenantId} not found`);
  return { format: CREDIT_NOTE_EXPORT_FORMAT, contentHash: note.contentHash, creditNote: note.content };
}

/** The tenant's chain before the invoice, oldest first, each document with the hash the chain recorded. */
async function historyBefore(q: Queryable, tenantId: string, parties: TenantParties, invoiceId: string): Promise<ChainedDocument[]> {
  const out: ChainedDocument[] = [];
  for (const d of await documentsBefore(q, tenantId, invoiceId)) {
    if (d.kind === "invoice") {
      const loaded = await loadInvoiceContent(q, d.documentId, parties);
      if (!loaded) throw new BillingError(`invoice ${d.documentId} of tenant ${tenantId}'s chain vanished`);
      out.push({ kind: "invoice", contentHash: d.contentHash, invoice: loaded.content });
    } else {
      const note = await loadCreditNote(q, d.documentId);
      if (!note) throw new BillingError(`credit note ${d.documentId} of tenant ${tenantId}'s chain vanished`);
      out.push({ kind: "credit_note", contentHash: d.contentHash, creditNote: note.content });
    }
  }
  return out;
}
