/**
 * How a careful dishonest platform would alter an invoice: change what it wants, then make
 * everything else consistent (bases recomputed from the file's own history, every line and the
 * total repriced with rating/, the content hash recomputed), so only the check aimed at the
 * change can catch it.
 */
import { creditNoteContentHash, type CreditNoteContent } from "../../../rating/credit-note";
import { invoiceContentHash, type InvoiceContent } from "../../../rating/invoice";
import { recomputeInvoice } from "../../../rating/recompute";
import { suppliedChain, type InvoiceExport } from "../../../verifier/document";
import { adjustmentBases, ChargeLedger } from "../../../verifier/ledger";

export const clone = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

/** Lines and total repriced from their records (on the stated bases). */
export function reprice(content: InvoiceContent): void {
  const checks = new Map(recomputeInvoice(content).lines.map((l) => [l.lineNo, l]));
  for (const line of content.lines) {
    const c = checks.get(line.lineNo)!;
    if (line.kind !== "minimum") line.quantity = c.expectedQuantity;
    line.amountMinor = c.expectedAmountMinor;
  }
  content.totalMinor = content.lines.reduce((a, l) => a + BigInt(l.amountMinor), 0n).toString();
}

/** Adjustment bases set to what the file's own history charges. */
export function rebase(file: InvoiceExport): void {
  const ledger = new ChargeLedger();
  for (const d of suppliedChain(file).history) ledger.apply(d);
  const bases = adjustmentBases(ledger, file.invoice);
  for (const line of file.invoice.lines) {
    const base = bases.get(line.lineNo);
    if (base !== undefined) line.baseQuantity = base.toString();
  }
}

export interface ForgeOptions {
  /** Keep the credit notes of the genuine invoice (they no longer hash-match a forged one's lines, but a platform may try). */
  keepCreditNotes?: boolean;
  /** Recompute adjustment bases from the history (default); off to keep a base the alteration set. */
  rebase?: boolean;
}

export function forge(genuine: InvoiceExport, alter: (invoice: InvoiceContent, file: InvoiceExport) => void, options: ForgeOptions = {}): InvoiceExport {
  const file = clone(genuine);
  alter(file.invoice, file);
  if (!options.keepCreditNotes) file.creditNotes = [];
  if (options.rebase ?? true) rebase(file);
  reprice(file.invoice);
  file.contentHash = invoiceContentHash(file.invoice);
  return file;
}

export function forgeCreditNote(genuine: CreditNoteContent, alter: (note: CreditNoteContent) => void): { content: CreditNoteContent; contentHash: string } {
  const content = clone(genuine);
  alter(content);
  return { content, contentHash: creditNoteContentHash(content) };
}
