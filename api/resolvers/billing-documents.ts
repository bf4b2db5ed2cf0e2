import { exportCreditNote, exportInvoice } from "../../billing/export";
import { toHex, toHexOrNull } from "../../chain/hex";
import { creditNoteContentSchema } from "../../rating/credit-note";
import type { RequestContext } from "../context";
import { creditNotesOfInvoice, type CreditNoteRow } from "../read/credit-notes";
import { findInvoice, invoiceLines, lineCitations, lineRecords, type InvoiceLineRow, type InvoiceRow } from "../read/invoices";
import { toGlobalId } from "./ids";
import { citationNode } from "./nodes";
import { pageSize } from "./pagination";

// Invoices and credit notes refer to each other; their nodes live together so neither module
// imports the other.

export function invoiceNode(r: InvoiceRow, ctx: RequestContext) {
  return {
    id: toGlobalId("Invoice", r.id),
    number: r.number,
    status: r.status.toUpperCase(),
    periodStart: r.period_start,
    periodEnd: r.period_end,
    timeZone: r.time_zone,
    currency: r.currency,
    currencyExponent: r.currency_exponent,
    totalMinor: r.total_minor,
    confirmedBlock: r.confirmed_block,
    contentHash: toHexOrNull(r.content_hash),
    finalizedAt: r.finalized_at,
    lines: () => ctx.db.run(ctx.principal, async (c, tenantId) => (await invoiceLines(c, tenantId, r.id)).map((l) => lineNode(l, ctx))),
    replaces: () => (r.replaces_invoice_id === null ? null : invoiceById(ctx, r.replaces_invoice_id)),
    creditNotes: () => ctx.db.run(ctx.principal, async (c, tenantId) => (await creditNotesOfInvoice(c, tenantId, r.id)).map((n) => creditNoteNode(n, ctx))),
    export: () => invoiceExport(ctx, r.id),
  };
}

export function invoiceById(ctx: RequestContext, invoiceId: string) {
  return ctx.db.run(ctx.principal, async (c, tenantId) => {
    const row = await findInvoice(c, tenantId, invoiceId);
    return row ? invoiceNode(row, ctx) : null;
  });
}

function lineNode(l: InvoiceLineRow, ctx: RequestContext) {
  return {
    lineNo: l.line_no,
    kind: l.kind,
    meterId: l.meter_id,
    description: l.description,
    aggregation: l.aggregation,
    quantity: l.quantity,
    amountMinor: l.amount_minor,
    records: (args: { first?: number | null }) => {
      const first = pageSize(args.first ?? 100);
      return ctx.db.run(ctx.principal, async (c, tenantId) =>
        (await lineRecords(c, tenantId, l.id, first)).map((x) => ({
          chainId: x.chain_id,
          txHash: toHex(x.tx_hash),
          logIndex: x.log_index,
          blockNumber: x.block_number,
          blockHash: null,
          commitment: toHex(x.commitment),
        })),
      );
    },
    citations: (args: { first?: number | null }) => {
      const first = pageSize(args.first ?? 100);
      return ctx.db.run(ctx.principal, async (c, tenantId) =>
        (await lineCitations(c, tenantId, l.id, first)).map((x) =>
          citationNode({
            reporter: toHex(x.reporter),
            sequence: x.sequence,
            meterId: x.meter_id,
            periodStart: x.period_start.toISOString(),
            periodEnd: x.period_end.toISOString(),
            quantity: x.quantity,
            ref: toHex(x.ref),
            seenAt: { blockNumber: x.block_number, txHash: toHex(x.tx_hash), logIndex: x.log_index, recordIndex: x.record_index, commitment: toHex(x.commitment) },
          }),
        ),
      );
    },
  };
}

/**
 * The invoice in billing's export format (meterline.invoice.v2, with the credit notes issued
 * against it: what meter:verify-invoice reads), from the same stored content billing hashed. Its
 * queries run in this transaction, under row-level security.
 */
function invoiceExport(ctx: RequestContext, invoiceId: string): Promise<string | null> {
  return ctx.db.run(ctx.principal, async (c, tenantId) => (tenantId === null ? null : JSON.stringify(await exportInvoice(c, tenantId, invoiceId))));
}

export function creditNoteNode(r: CreditNoteRow, ctx: RequestContext) {
  // The stored content is the document as hashed: lines and citations come from it as issued.
  const content = creditNoteContentSchema.parse(r.content);
  return {
    id: toGlobalId("CreditNote", r.id),
    number: r.number,
    invoice: () => invoiceById(ctx, r.invoice_id),
    invoiceNumber: content.invoiceNumber,
    reason: r.reason,
    memo: r.memo,
    issuedAt: r.issued_at,
    currency: r.currency,
    currencyExponent: r.currency_exponent,
    totalMinor: r.total_minor,
    contentHash: toHex(r.content_hash),
    lines: content.lines.map((l) => ({
      lineNo: l.lineNo,
      invoiceLineNo: l.invoiceLineNo,
      description: l.description,
      wholeLine: l.wholeLine,
      amountMinor: l.amountMinor,
      records: l.records.map(citationNode),
    })),
    export: () => ctx.db.run(ctx.principal, async (c, tenantId) => JSON.stringify(await exportCreditNote(c, tenantId!, r.id))),
  };
}
