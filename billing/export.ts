import type { InvoiceContent } from "../rating/content-hash";
import { toHex } from "../chain/hex";
import { loadInvoiceContent, type Queryable } from "./store/invoice-store";
import { INVOICE_EXPORT_FORMAT, type InvoiceExport } from "../verifier/document";

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
    deployment: { chainId: t.chain_id, address: toHex(t.address) },
    tenant: { id: tenantId, slug: t.slug, onchainId: t.onchain_id },
    status: loaded.row.status,
    // The hash stored at finalization, not one recomputed now: if the rows were altered since,
    // the document no longer matches its hash and verification says so.
    contentHash: loaded.row.status === "finalized" && loaded.row.content_hash ? toHex(loaded.row.content_hash) : null,
    invoice: content,
  };
}
