import type { RequestContext } from "../context";
import { BadInputError } from "../errors";
import { countInvoices, findInvoice, pageInvoices, type InvoiceRow } from "../read/invoices";
import { decimalIdOf } from "./args";
import { invoiceNode } from "./billing-documents";
import { afterKey, connection, pageSize } from "./pagination";

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
