import { excludeRecords, issueCreditNote, voidAndReissue, type CreditScope } from "../../billing/corrections";
import { toHex } from "../../chain/hex";
import { citationKey } from "../../rating/citation";
import type { RequestContext } from "../context";
import { BadInputError, NotFoundError } from "../errors";
import { countCreditNotes, findCreditNote, pageCreditNotes } from "../read/credit-notes";
import { countExclusions, pageExclusions, type ExclusionRow } from "../read/exclusions";
import { findInvoice } from "../read/invoices";
import type { Tx } from "../read/types";
import { decimalIdOf } from "./args";
import { billingCall, underInput } from "./billing-call";
import { creditNoteNode, invoiceNode } from "./billing-documents";
import { afterKey, connection, emptyConnection, pageSize } from "./pagination";

/** What an operator may give as the reason of a credit note; reorg, void and excluded are billing's own. */
const OPERATOR_REASONS = ["dispute", "goodwill"] as const;

interface CreditScopeArg {
  wholeInvoice?: boolean | null;
  lines?: number[] | null;
  records?: string[] | null;
}

function scopeOf(arg: CreditScopeArg): CreditScope {
  const given = [arg.wholeInvoice !== null && arg.wholeInvoice !== undefined, Boolean(arg.lines), Boolean(arg.records)].filter(Boolean).length;
  if (given !== 1) throw new BadInputError("give exactly one of wholeInvoice, lines or records", { field: "input.scope" });
  if (arg.lines) return { kind: "lines", lineNos: arg.lines };
  if (arg.records) return { kind: "records", keys: arg.records };
  if (arg.wholeInvoice !== true) throw new BadInputError("must be true to credit the whole invoice", { field: "input.scope.wholeInvoice" });
  return { kind: "invoice" };
}

// billing names the scope's lists by themselves; here they sit under input.scope.
const creditNoteField = (f: string) => (f === "lines" || f === "records" ? `input.scope.${f}` : underInput(f));

/** An Invoice id as billing's invoice id; malformed ids and other tenants' alike are not found. */
function invoiceIdArg(id: string): string {
  const invoiceId = decimalIdOf(id, "Invoice");
  if (invoiceId === null) throw new NotFoundError();
  return invoiceId;
}

async function noteNode(c: Tx, tenantId: string, creditNoteId: string, ctx: RequestContext) {
  return creditNoteNode((await findCreditNote(c, tenantId, creditNoteId))!, ctx);
}

const exclusionNode = (r: ExclusionRow) => {
  const identity = citationKey({ reporter: toHex(r.reporter), sequence: r.sequence });
  return { identity, reporter: toHex(r.reporter), sequence: r.sequence, reason: r.reason, excludedAt: r.excluded_at };
};

export const creditNoteResolvers = {
  Query: {
    creditNotes: (_: unknown, args: { invoice?: string | null; first?: number | null; after?: string | null }, ctx: RequestContext) => {
      const first = pageSize(args.first);
      const after = afterKey(args.after, 1);
      if (after && !/^\d{1,9}$/.test(after[0]!)) throw new BadInputError("invalid cursor");
      let invoiceId: string | null = null;
      if (args.invoice !== null && args.invoice !== undefined) {
        invoiceId = decimalIdOf(args.invoice, "Invoice");
        if (invoiceId === null) return emptyConnection();
      }
      return ctx.db.run(ctx.principal, async (c, tenantId) => {
        const rows = await pageCreditNotes(c, tenantId, invoiceId, after ? Number(after[0]) : null, first + 1);
        return connection(
          rows,
          first,
          (r) => creditNoteNode(r, ctx),
          (r) => [r.number],
          () => ctx.db.run(ctx.principal, (c2, t) => countCreditNotes(c2, t, invoiceId)),
        );
      });
    },
    creditNote: (_: unknown, args: { id: string }, ctx: RequestContext) => {
      const creditNoteId = decimalIdOf(args.id, "CreditNote");
      if (creditNoteId === null) return null;
      return ctx.db.run(ctx.principal, async (c, tenantId) => {
        const row = await findCreditNote(c, tenantId, creditNoteId);
        return row ? creditNoteNode(row, ctx) : null;
      });
    },
    exclusions: (_: unknown, args: { first?: number | null; after?: string | null }, ctx: RequestContext) => {
      const first = pageSize(args.first);
      const after = afterKey(args.after, 2);
      let key: { reporter: Buffer; sequence: string } | null = null;
      if (after) {
        const reporter = /^[0-9a-f]{40}$/.test(after[0]!) ? Buffer.from(after[0]!, "hex") : null;
        if (reporter === null || !/^\d{1,20}$/.test(after[1]!)) throw new BadInputError("invalid cursor");
        key = { reporter, sequence: after[1]! };
      }
      return ctx.db.run(ctx.principal, async (c, tenantId) => {
        const rows = await pageExclusions(c, tenantId, key, first + 1);
        return connection(
          rows,
          first,
          exclusionNode,
          (r) => [r.reporter.toString("hex"), r.sequence],
          () => ctx.db.run(ctx.principal, (c2, t) => countExclusions(c2, t)),
        );
      });
    },
  },
  Mutation: {
    issueCreditNote: (
      _: unknown,
      { input }: { input: { invoice: string; reason: string; memo: string; scope: CreditScopeArg } },
      ctx: RequestContext,
    ) => {
      if (!(OPERATOR_REASONS as readonly string[]).includes(input.reason)) {
        throw new BadInputError(`must be ${OPERATOR_REASONS.join(" or ")}; reorg, void and excluded notes are issued by billing itself`, { field: "input.reason" });
      }
      const scope = scopeOf(input.scope);
      const invoiceId = invoiceIdArg(input.invoice);
      return billingCall(ctx, creditNoteField, async (c, tenantId, at) => {
        const note = await issueCreditNote(c, {
          tenantId,
          invoiceId,
          reason: input.reason as (typeof OPERATOR_REASONS)[number],
          memo: input.memo,
          scope,
          actor: at.actor,
          now: at.now,
        });
        return noteNode(c, tenantId, note.creditNoteId, ctx);
      });
    },
    voidAndReissue: (_: unknown, { input }: { input: { invoice: string; memo: string } }, ctx: RequestContext) => {
      const invoiceId = invoiceIdArg(input.invoice);
      return billingCall(ctx, underInput, async (c, tenantId, at) => {
        const done = await voidAndReissue(c, { tenantId, invoiceId, memo: input.memo, actor: at.actor, now: at.now, confirmations: ctx.confirmations });
        return {
          creditNote: await noteNode(c, tenantId, done.creditNote.creditNoteId, ctx),
          invoice: invoiceNode((await findInvoice(c, tenantId, done.invoice.invoiceId))!, ctx),
        };
      });
    },
    excludeRecords: (_: unknown, { input }: { input: { records: string[]; reason: string } }, ctx: RequestContext) =>
      billingCall(ctx, underInput, async (c, tenantId, at) => {
        const done = await excludeRecords(c, { tenantId, keys: input.records, reason: input.reason, actor: at.actor, now: at.now });
        const creditNotes = [];
        for (const n of done.creditNotes) creditNotes.push(await noteNode(c, tenantId, n.creditNoteId, ctx));
        return { excluded: done.excluded, creditNotes };
      }),
  },
};
