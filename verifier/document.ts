/**
 * The billing documents a tenant receives and verifies. Their content schemas live in rating/ (the
 * code that computes them); a document wraps the content with its status and the hash stored when
 * it was issued.
 */
import { z } from "zod";
import { creditNoteContentSchema } from "../rating/credit-note";
import { invoiceContentSchema } from "../rating/invoice";

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

export const invoiceExportSchema = z
  .object({
    format: z.literal(INVOICE_EXPORT_FORMAT),
    status: z.enum(["draft", "finalized"]),
    contentHash: hash.nullable(),
    invoice: invoiceContentSchema,
    creditNotes: z.array(creditNoteExportSchema).default([]),
  })
  .strict();
export type InvoiceExport = z.infer<typeof invoiceExportSchema>;
