import { z } from "zod";
import { AGGREGATIONS } from "../rating/aggregation";
import { invoiceSnapshotSchema } from "../rating/snapshot";

/** The invoice document a tenant receives and verifies: `meterline.invoice.v1`. */
export const INVOICE_EXPORT_FORMAT = "meterline.invoice.v1";

const recordRefSchema = z.object({
  chainId: z.string().regex(/^\d+$/),
  txHash: z.string().regex(/^0x[0-9a-f]{64}$/),
  logIndex: z.number().int().nonnegative(),
  recordIndex: z.number().int().nonnegative(),
  commitment: z.string().regex(/^0x[0-9a-f]{64}$/),
  blockNumber: z.string().regex(/^\d+$/),
  meterId: z.number().int().positive(),
  periodStart: z.string(),
  periodEnd: z.string(),
  quantity: z.string().regex(/^\d+$/),
});

export const invoiceExportSchema = z.object({
  format: z.literal(INVOICE_EXPORT_FORMAT),
  deployment: z.object({ chainId: z.string().regex(/^\d+$/), address: z.string().regex(/^0x[0-9a-fA-F]{40}$/) }),
  tenant: z.object({ id: z.string(), slug: z.string(), onchainId: z.number().int().positive() }),
  status: z.enum(["draft", "finalized"]),
  contentHash: z.string().nullable(),
  invoice: z.object({
    tenantId: z.string(),
    invoiceId: z.string(),
    number: z.number().int().nullable(),
    periodStart: z.string(),
    periodEnd: z.string(),
    timeZone: z.string(),
    currency: z.string(),
    currencyExponent: z.number().int().min(0).max(18),
    totalMinor: z.string().regex(/^-?\d+$/),
    confirmedBlock: z.string().nullable(),
    finalizedAt: z.string().nullable(),
    planSnapshot: invoiceSnapshotSchema,
    lines: z.array(
      z.object({
        lineNo: z.number().int().positive(),
        kind: z.enum(["usage", "adjustment", "minimum"]),
        meterId: z.number().int().nullable(),
        description: z.string(),
        aggregation: z.enum(AGGREGATIONS).nullable(),
        quantity: z.string().regex(/^\d+$/),
        baseQuantity: z.string().nullable(),
        amountMinor: z.string().regex(/^-?\d+$/),
        adjustsPeriodStart: z.string().nullable(),
        adjustsPeriodEnd: z.string().nullable(),
        planVersionId: z.string().nullable(),
        records: z.array(recordRefSchema),
      }),
    ),
  }),
});
export type InvoiceExport = z.infer<typeof invoiceExportSchema>;
