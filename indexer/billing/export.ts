import { z } from "zod";
import type { InvoiceContent } from "./content-hash";
import { hex, loadInvoiceContent, type Queryable } from "./invoice-store";
import { invoiceSnapshotSchema } from "./snapshot";

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
        aggregation: z.enum(["SUM", "COUNT", "MAX"]).nullable(),
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

export class InvoiceNotFoundError extends Error {
  override name = "InvoiceNotFoundError";
}

/**
 * A self-contained invoice document: the deployment it was metered on, the plan snapshot it was
 * priced with, and every line's on-chain records, so a tenant can verify it with only an RPC
 * endpoint (verifyInvoice / meter:verify-invoice).
 */
export async function exportInvoice(
  db: { pool: Queryable } | Queryable,
  tenantId: string,
  invoiceId: string,
): Promise<InvoiceExport> {
  // A pool, or a client already in a transaction (e.g. the API's, under row-level security).
  const q: Queryable = "pool" in db ? db.pool : db;
  const { rows } = await q.query<{ slug: string; onchain_id: number; chain_id: string; address: Buffer }>(
    `SELECT t.slug, t.onchain_id, c.chain_id, c.address
       FROM invoices i JOIN tenants t ON t.id = i.tenant_id JOIN contracts c ON c.id = t.contract_id
      WHERE i.id = $1 AND i.tenant_id = $2`,
    [invoiceId, tenantId],
  );
  const t = rows[0];
  const loaded = t ? await loadInvoiceContent(q, invoiceId) : null;
  if (!t || !loaded) throw new InvoiceNotFoundError(`invoice ${invoiceId} of tenant ${tenantId} not found`);
  const content: InvoiceContent = loaded.content;
  return {
    format: INVOICE_EXPORT_FORMAT,
    deployment: { chainId: t.chain_id, address: hex(t.address) },
    tenant: { id: tenantId, slug: t.slug, onchainId: t.onchain_id },
    status: loaded.row.status,
    // The hash stored at finalization, not one recomputed now: if the rows were altered since,
    // the document no longer matches its hash and verification says so.
    contentHash: loaded.row.status === "finalized" && loaded.row.content_hash ? hex(loaded.row.content_hash) : null,
    invoice: content,
  };
}
