import { exportInvoice } from "../../billing/export";
import { toHex, toHexOrNull } from "../../chain/hex";
import type { RequestContext } from "../context";
import { BadInputError } from "../errors";
import { countInvoices, findInvoice, invoiceLines, lineRecords, pageInvoices, type InvoiceLineRow, type InvoiceRow } from "../read/invoices";
import { decimalIdOf } from "./args";
import { toGlobalId } from "./ids";
import { afterKey, connection, pageSize } from "./pagination";

function invoiceNode(r: InvoiceRow, ctx: RequestContext) {
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
    export: () => invoiceExport(ctx, r.id),
  };
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
  };
}

/**
 * The invoice in the billing module's export format (meterline.invoice.v1, what
 * meter:verify-invoice reads), from the same stored content billing hashes. Its queries run in
 * this transaction, under row-level security.
 */
function invoiceExport(ctx: RequestContext, invoiceId: string): Promise<string | null> {
  return ctx.db.run(ctx.principal, async (c, tenantId) => (tenantId === null ? null : JSON.stringify(await exportInvoice(c, tenantId, invoiceId))));
}

type InvoiceStatusArg = "DRAFT" | "FINALIZED";
const statusOf = (s: InvoiceStatusArg | null | undefined): InvoiceRow["status"] | null => (s ? (s.toLowerCase() as InvoiceRow["status"]) : null);

export const invoiceResolvers = {
  Query: {
    invoices: (_: unknown, args: { status?: InvoiceStatusArg | null; first?: number | null; after?: string | null }, ctx: RequestContext) => {
      const first = pageSize(args.first);
      const after = afterKey(args.after, 1);
      if (after && !/^\d{1,18}$/.test(after[0]!)) throw new BadInputError("invalid cursor");
      const status = statusOf(args.status);
      return ctx.db.run(ctx.principal, async (c, tenantId) => {
        const rows = await pageInvoices(c, tenantId, status, after?.[0] ?? null, first + 1);
        return connection(
          rows,
          first,
          (r) => invoiceNode(r, ctx),
          (r) => [r.id],
          () => ctx.db.run(ctx.principal, (c2, t) => countInvoices(c2, t, status)),
        );
      });
    },
    invoice: (_: unknown, args: { id: string }, ctx: RequestContext) => {
      const invoiceId = decimalIdOf(args.id, "Invoice");
      if (invoiceId === null) return null;
      return ctx.db.run(ctx.principal, async (c, tenantId) => {
        const row = await findInvoice(c, tenantId, invoiceId);
        return row ? invoiceNode(row, ctx) : null;
      });
    },
  },
};
