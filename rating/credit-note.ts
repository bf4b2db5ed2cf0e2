/**
 * The content of a credit note: which records (or lines) it takes off which finalized invoice, why,
 * and the amount per invoice line, so a verifier recomputes it from the invoice alone.
 */
import { z } from "zod";
import { compareCitations, recordCitationSchema } from "./citation";
import { documentHash } from "./document-hash";
import { documentPartiesSchema } from "./invoice";

/**
 * reorg: the records left the canonical chain; void: the invoice is reissued. Both release the
 * records (billable again if they are, or come back, on chain). excluded, dispute and goodwill
 * settle them: they are never billed again.
 */
export const CREDIT_REASONS = ["reorg", "void", "excluded", "dispute", "goodwill"] as const;
export type CreditReason = (typeof CREDIT_REASONS)[number];
export const RELEASING_REASONS: readonly CreditReason[] = ["reorg", "void"];

const instant = z.string().regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
const signedDecimal = z.string().regex(/^(0|-?[1-9]\d*)$/);

export const creditNoteLineSchema = z
  .object({
    lineNo: z.number().int().positive(),
    invoiceLineNo: z.number().int().positive(),
    description: z.string(),
    /** The whole invoice line is taken off (not only the records listed). */
    wholeLine: z.boolean(),
    /** The line's amount before minus after this note (the minimum line may rise: negative). */
    amountMinor: signedDecimal,
    records: z.array(recordCitationSchema),
  })
  .strict();

export const creditNoteContentSchema = z
  .object({
    ...documentPartiesSchema,
    creditNoteId: z.string().regex(/^\d+$/),
    number: z.number().int().positive(),
    invoiceId: z.string().regex(/^\d+$/),
    invoiceNumber: z.number().int().positive(),
    /** The content hash of the tenant's previous billing document (see rating/invoice.ts). */
    previousDocumentHash: z.string().regex(/^0x[0-9a-f]{64}$/),
    /** The credited invoice's period (what the anchor names). */
    periodStart: z.string().regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/),
    periodEnd: z.string().regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/),
    reason: z.enum(CREDIT_REASONS),
    memo: z.string(),
    issuedAt: instant,
    currency: z.string().regex(/^[A-Z]{3}$/),
    currencyExponent: z.number().int().min(0).max(18),
    totalMinor: signedDecimal,
    lines: z.array(creditNoteLineSchema),
  })
  .strict();

export type CreditNoteLineContent = z.infer<typeof creditNoteLineSchema>;
export type CreditNoteContent = z.infer<typeof creditNoteContentSchema>;

export function normalizeCreditNote(content: CreditNoteContent): CreditNoteContent {
  return {
    ...content,
    lines: [...content.lines].sort((a, b) => a.lineNo - b.lineNo).map((l) => ({ ...l, records: [...l.records].sort(compareCitations) })),
  };
}

export function creditNoteContentHash(content: CreditNoteContent) {
  return documentHash(normalizeCreditNote(content));
}
