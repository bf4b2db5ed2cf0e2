import { z } from "zod";
import { AGGREGATIONS } from "./aggregation";
import { priceSpecSchema } from "./pricing";

/** The plan version an invoice was priced with, frozen into the invoice (all numbers as strings). */
export const planSnapshotSchema = z.object({
  planId: z.string(),
  planName: z.string(),
  versionId: z.string(),
  version: z.number().int(),
  effectiveFrom: z.string(),
  currency: z.string().regex(/^[A-Z]{3}$/),
  currencyExponent: z.number().int().min(0).max(18),
  minimumMinor: z.string().regex(/^\d+$/),
  meters: z.array(
    z.object({
      meterId: z.number().int().positive(),
      name: z.string(),
      aggregation: z.enum(AGGREGATIONS),
      unit: z.string(),
      displayName: z.string(),
    }),
  ),
  prices: z.array(priceSpecSchema),
});
export type PlanSnapshot = z.infer<typeof planSnapshotSchema>;

/** invoices.plan_snapshot: the invoice's own plan plus the plans its adjustment lines used. */
export const invoiceSnapshotSchema = z.object({
  plan: planSnapshotSchema,
  adjustmentPlans: z.array(planSnapshotSchema).default([]),
});
export type InvoiceSnapshot = z.infer<typeof invoiceSnapshotSchema>;
