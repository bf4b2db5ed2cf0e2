/**
 * The billing documents a tenant receives and verifies. Their content schemas live in rating/ (the
 * code that computes them); an export wraps the content with its status and the hash stored when
 * it was issued, and carries the tenant's earlier documents so the whole history can be checked
 * against the chain. Nothing in an export is trusted: hashes are recomputed, and the contracts,
 * tenant and plan come from the tenant's own configuration.
 */
import { z } from "zod";
import { creditNoteContentSchema, creditNoteContentHash, type CreditNoteContent } from "../rating/credit-note";
import { invoiceContentHash, invoiceContentSchema, type InvoiceContent } from "../rating/invoice";

export const INVOICE_EXPORT_FORMAT = "meterline.invoice.v2";
export const CREDIT_NOTE_EXPORT_FORMAT = "meterline.credit-note.v2";

const hash = z.string().regex(/^0x[0-9a-f]{64}$/);

export const creditNoteExportSchema = z
  .object({
    format: z.literal(CREDIT_NOTE_EXPORT_FORMAT),
    contentHash: hash,
    creditNote: creditNoteContentSchema,
  })
  .strict();
export type CreditNoteExport = z.infer<typeof creditNoteExportSchema>;

/** One earlier document of the tenant's hash chain, as it was issued. */
export const chainedDocumentSchema = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("invoice"), contentHash: hash, invoice: invoiceContentSchema }).strict(),
  z.object({ kind: z.literal("credit_note"), contentHash: hash, creditNote: creditNoteContentSchema }).strict(),
]);
export type ChainedDocument = z.infer<typeof chainedDocumentSchema>;

export const invoiceExportSchema = z
  .object({
    format: z.literal(INVOICE_EXPORT_FORMAT),
    status: z.enum(["draft", "finalized"]),
    contentHash: hash.nullable(),
    invoice: invoiceContentSchema,
    /** The credit notes issued against this invoice, in issue order. */
    creditNotes: z.array(creditNoteExportSchema).default([]),
    /** Every document of the tenant before this invoice in its hash chain, oldest first; empty for a draft. */
    history: z.array(chainedDocumentSchema),
  })
  .strict();
export type InvoiceExport = z.infer<typeof invoiceExportSchema>;

/** A document of the file with the hash recomputed from its content, labelled for reports. */
export type SuppliedDocument = {
  /** "invoice 3", "credit note 2". */
  label: string;
  /** The hash the file states; only compared, never used. */
  statedHash: string | null;
  hash: `0x${string}`;
  previousHash: string | null;
  number: number | null;
  periodStart: number;
  periodEnd: number;
} & ({ kind: "invoice"; content: InvoiceContent } | { kind: "credit_note"; content: CreditNoteContent });

export type SuppliedInvoice = Extract<SuppliedDocument, { kind: "invoice" }>;
export type SuppliedCreditNote = Extract<SuppliedDocument, { kind: "credit_note" }>;

export const seconds = (iso: string): number => Math.floor(Date.parse(iso) / 1000);

export function suppliedInvoice(content: InvoiceContent, statedHash: string | null): SuppliedInvoice {
  return {
    kind: "invoice",
    label: content.number === null ? "the draft invoice" : `invoice ${content.number}`,
    statedHash,
    hash: invoiceContentHash(content),
    previousHash: content.previousDocumentHash,
    number: content.number,
    periodStart: seconds(content.periodStart),
    periodEnd: seconds(content.periodEnd),
    content,
  };
}

export function suppliedCreditNote(content: CreditNoteContent, statedHash: string | null): SuppliedCreditNote {
  return {
    kind: "credit_note",
    label: `credit note ${content.number}`,
    statedHash,
    hash: creditNoteContentHash(content),
    previousHash: content.previousDocumentHash,
    number: content.number,
    periodStart: seconds(content.periodStart),
    periodEnd: seconds(content.periodEnd),
    content,
  };
}

/** The file's documents: its history (oldest first), the invoice, and the credit notes against it. */
export interface SuppliedChain {
  history: SuppliedDocument[];
  invoice: SuppliedInvoice;
  creditNotes: SuppliedCreditNote[];
}

export function suppliedChain(file: InvoiceExport): SuppliedChain {
  return {
    history: file.history.map((d) => (d.kind === "invoice" ? suppliedInvoice(d.invoice, d.contentHash) : suppliedCreditNote(d.creditNote, d.contentHash))),
    invoice: suppliedInvoice(file.invoice, file.contentHash),
    creditNotes: file.creditNotes.map((n) => suppliedCreditNote(n.creditNote, n.contentHash)),
  };
}
