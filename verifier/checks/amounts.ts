/**
 * Every amount recomputes exactly with the pricing rules of rating/ (the code billing prices
 * with): each line from its records and plan, adjustment lines on the base recomputed from the
 * history, the minimum line, the total, and every credit note in the file from its invoice and
 * the credit notes before it. Lines must be one per meter (two lines for a meter would each get
 * the included units and the first tiers), one per meter and adjusted period, one minimum line.
 */
import { citationKey } from "../../rating/citation";
import type { InvoiceContent } from "../../rating/invoice";
import { creditAmounts, recomputeInvoice, type Removal } from "../../rating/recompute";
import type { SuppliedCreditNote, SuppliedInvoice } from "../document";
import { formatMinor, plural } from "../format";
import { outcome, type CheckResult } from "../result";
import type { CheckContext } from "./context";

function structureProblems(content: InvoiceContent): string[] {
  const problems: string[] = [];
  const numbers = new Set<number>();
  const usageMeters = new Set<number>();
  let minimums = 0;
  for (const l of content.lines) {
    if (numbers.has(l.lineNo)) problems.push(`line number ${l.lineNo} appears twice`);
    numbers.add(l.lineNo);
    if (l.kind === "usage" && l.meterId !== null) {
      if (usageMeters.has(l.meterId)) problems.push(`meter ${l.meterId} has two usage lines: each would be priced from zero`);
      usageMeters.add(l.meterId);
    }
    if (l.kind === "minimum") minimums++;
  }
  if (minimums > 1) problems.push(`the invoice has ${minimums} minimum lines; the minimum is charged once`);
  return problems;
}

function creditNoteProblems(note: SuppliedCreditNote, invoice: SuppliedInvoice, before: Removal): string[] {
  const problems: string[] = [];
  const c = note.content;
  const content = invoice.content;
  if (c.currency !== content.currency || c.currencyExponent !== content.currencyExponent) problems.push(`${note.label} is in ${c.currency}, ${invoice.label} in ${content.currency}`);
  const lineOf = new Map(content.lines.map((l) => [l.lineNo, l]));
  const now: Removal = { records: new Set(), lines: new Set() };
  for (const l of c.lines) {
    const invoiceLine = lineOf.get(l.invoiceLineNo);
    if (!invoiceLine) continue; // reported by billed-once
    const cited = new Set(invoiceLine.records.map(citationKey));
    for (const r of l.records) {
      if (!cited.has(citationKey(r))) problems.push(`${note.label}, line ${l.lineNo}: record ${citationKey(r)} is not on line ${l.invoiceLineNo} of ${invoice.label}`);
      (now.records as Set<string>).add(citationKey(r));
    }
    if (l.wholeLine) (now.lines as Set<number>).add(l.invoiceLineNo);
  }
  const expected = creditAmounts(content, before, now);
  const stated = new Map<number, bigint>();
  for (const l of c.lines) stated.set(l.invoiceLineNo, (stated.get(l.invoiceLineNo) ?? 0n) + BigInt(l.amountMinor));
  for (const lineNo of new Set([...expected.keys(), ...stated.keys()])) {
    const want = expected.get(lineNo) ?? 0n;
    const got = stated.get(lineNo) ?? 0n;
    if (want !== got) problems.push(`${note.label} credits ${got} for line ${lineNo} of ${invoice.label}; recomputed from the invoice: ${want}`);
  }
  const total = [...stated.values()].reduce((a, b) => a + b, 0n);
  if (BigInt(c.totalMinor) !== total) problems.push(`${note.label} states a total of ${c.totalMinor}; its lines add up to ${total}`);
  for (const k of now.records) (before.records as Set<string>).add(k);
  for (const n of now.lines) (before.lines as Set<number>).add(n);
  return problems;
}

export function checkAmounts(ctx: CheckContext): CheckResult {
  const inv = ctx.docs.invoice;
  const problems = structureProblems(inv.content);
  // Priced on the bases recomputed from the history, never on the ones the invoice states.
  const priced: InvoiceContent = {
    ...inv.content,
    lines: inv.content.lines.map((l) => {
      const base = ctx.bases.get(l.lineNo);
      return base === undefined ? l : { ...l, baseQuantity: base.toString() };
    }),
  };
  const recomputed = recomputeInvoice(priced);
  for (const l of recomputed.lines) for (const p of l.problems) problems.push(`line ${l.lineNo}: ${p}`);
  if (!recomputed.totalOk) {
    const sum = inv.content.lines.reduce((a, l) => a + BigInt(l.amountMinor), 0n);
    problems.push(`the total is ${inv.content.totalMinor}; the lines add up to ${sum}, recomputed ${recomputed.expectedTotalMinor}`);
  }

  const invoices = new Map<string, SuppliedInvoice>();
  const removals = new Map<string, Removal>();
  let notes = 0;
  for (const d of [...ctx.docs.history, inv, ...ctx.docs.creditNotes]) {
    if (d.kind === "invoice") {
      invoices.set(d.content.invoiceId, d);
      removals.set(d.content.invoiceId, { records: new Set(), lines: new Set() });
      continue;
    }
    const target = invoices.get(d.content.invoiceId);
    if (!target) continue; // reported by billed-once
    problems.push(...creditNoteProblems(d, target, removals.get(d.content.invoiceId)!));
    notes++;
  }
  const c = inv.content;
  return outcome(
    "amounts",
    problems,
    `${plural(c.lines.length, "line")} and the total (${formatMinor(c.totalMinor, c.currencyExponent)} ${c.currency}) recompute exactly; ${plural(notes, "credit note")} ${notes === 1 ? "recomputes from its invoice" : "recompute from their invoices"}`,
  );
}
