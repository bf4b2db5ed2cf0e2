/**
 * The content of an invoice: everything it asserts, and exactly what its content hash covers.
 * Numbers that can exceed 2^53 are decimal strings; instants are ISO 8601 UTC with milliseconds.
 */
import { z } from "zod";
import { AGGREGATIONS } from "./aggregation";
import { compareCitations, recordCitationSchema } from "./citation";
import { documentHash } from "./document-hash";
import { invoiceSnapshotSchema } from "./snapshot";

const decimal = z.string().regex(/^(0|[1-9]\d*)$/);
const signedDecimal = z.string().regex(/^(0|-?[1-9]\d*)$/);
const instant = z.string().regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);

/** Where the cited records live and whose they are: one deployment, one tenant per document. */
export const documentPartiesSchema = {
  deployment: z.object({ chainId: decimal, address: z.string().regex(/^0x[0-9a-f]{40}$/) }).strict(),
  tenant: z.object({ slug: z.string().min(1), onchainId: z.number().int().positive() }).strict(),
};

export const invoiceLineSchema = z
  .object({
    lineNo: z.number().int().positive(),
    /** usage: the period's usage of a meter; adjustment: late usage of an earlier finalized period; minimum: top-up. */
    kind: z.enum(["usage", "adjustment", "minimum"]),
    meterId: z.number().int().positive().nullable(),
    description: z.string(),
    aggregation: z.enum(AGGREGATIONS).nullable(),
    quantity: decimal,
    /** adjustment: the aggregate already billed for the adjusted period. */
    baseQuantity: decimal.nullable(),
    amountMinor: signedDecimal,
    adjustsPeriodStart: instant.nullable(),
    adjustsPeriodEnd: instant.nullable(),
    /** adjustment: the number of the finalized invoice of the adjusted period. */
    adjustsInvoiceNumber: z.number().int().positive().nullable(),
    /** The plan version whose prices this line used (the adjusted period's for adjustments). */
    planVersionId: z.string().nullable(),
    records: z.array(recordCitationSchema),
  })
  .strict();

export const invoiceContentSchema = z
  .object({
    ...documentPartiesSchema,
    invoiceId: decimal,
    number: z.number().int().positive().nullable(),
    /** Set on a reissue: the number of the voided invoice it replaces. */
    replacesInvoiceNumber: z.number().int().positive().nullable(),
    /**
     * The content hash of the tenant's previous billing document (invoice or credit note), zero for
     * its first; null on a draft. The tenant's documents form a hash chain, anchored on chain.
     */
    previousDocumentHash: z.string().regex(/^0x[0-9a-f]{64}$/).nullable(),
    periodStart: instant,
    periodEnd: instant,
    timeZone: z.string(),
    currency: z.string().regex(/^[A-Z]{3}$/),
    currencyExponent: z.number().int().min(0).max(18),
    totalMinor: signedDecimal,
    /** Highest block whose usage the invoice includes (set at finalization). */
    confirmedBlock: decimal.nullable(),
    finalizedAt: instant.nullable(),
    planSnapshot: invoiceSnapshotSchema,
    lines: z.array(invoiceLineSchema),
  })
  .strict();

export type InvoiceLineContent = z.infer<typeof invoiceLineSchema>;
export type InvoiceContent = z.infer<typeof invoiceContentSchema>;

/** Lines in line order and each line's records in canonical order: the form that is hashed. */
export function normalizeInvoice(content: InvoiceContent): InvoiceContent {
  return {
    ...content,
    lines: [...content.lines].sort((a, b) => a.lineNo - b.lineNo).map((l) => ({ ...l, records: [...l.records].sort(compareCitations) })),
  };
}

export function invoiceContentHash(content: InvoiceContent) {
  return documentHash(normalizeInvoice(content));
}
