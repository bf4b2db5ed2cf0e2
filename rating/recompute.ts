/**
 * Prices invoice lines from the records they cite and the plan snapshot the invoice carries,
 * exactly as billing priced them. Used by billing (drafts, credit notes), the database audit and
 * the verifier, so all three agree by construction.
 */
import { aggregate, combineAggregates, DEFAULT_AGGREGATION } from "./aggregation";
import { citationKey } from "./citation";
import type { InvoiceContent, InvoiceLineContent } from "./invoice";
import { adjustmentAmountMinor, lineAmountMinor, minimumTopUpMinor } from "./pricing";
import type { PlanSnapshot } from "./snapshot";

export interface LineCheck {
  lineNo: number;
  ok: boolean;
  expectedQuantity: string;
  expectedAmountMinor: string;
  problems: string[];
}

/** What is taken off an invoice: records by identity key, and whole lines by number. */
export interface Removal {
  records: ReadonlySet<string>;
  lines: ReadonlySet<number>;
}

export const NO_REMOVAL: Removal = { records: new Set(), lines: new Set() };

function plansOf(content: InvoiceContent): Map<string, PlanSnapshot> {
  const plan = content.planSnapshot.plan;
  return new Map([[plan.versionId, plan], ...content.planSnapshot.adjustmentPlans.map((p) => [p.versionId, p] as const)]);
}

/** Quantity and amount of a usage or adjustment line over the given quantities. */
function price(line: InvoiceLineContent, plan: PlanSnapshot, quantities: readonly bigint[], exponent: number): { quantity: bigint; amount: bigint } {
  const aggregation = plan.meters.find((m) => m.meterId === line.meterId)?.aggregation ?? DEFAULT_AGGREGATION;
  const spec = plan.prices.find((p) => p.meterId === line.meterId);
  const agg = aggregate(aggregation, quantities);
  if (line.kind === "adjustment") {
    const base = BigInt(line.baseQuantity ?? "0");
    const total = combineAggregates(aggregation, base, agg);
    return { quantity: total, amount: spec ? adjustmentAmountMinor(spec, base, total, exponent) : 0n };
  }
  return { quantity: agg, amount: spec ? lineAmountMinor(spec, agg, exponent) : 0n };
}

/**
 * The amount of every line after `removal`: priced lines over their remaining records, the
 * minimum line as the top-up of the remaining usage lines. Lines whose plan is missing price at 0
 * (recomputeInvoice reports them).
 */
export function lineAmounts(content: InvoiceContent, removal: Removal = NO_REMOVAL): Map<number, bigint> {
  const plans = plansOf(content);
  const main = content.planSnapshot.plan;
  const out = new Map<number, bigint>();
  let usageMinor = 0n;
  for (const line of content.lines) {
    if (line.kind === "minimum") continue;
    const plan = plans.get(line.planVersionId ?? (line.kind === "usage" ? main.versionId : ""));
    const kept = removal.lines.has(line.lineNo) ? [] : line.records.filter((r) => !removal.records.has(citationKey(r)));
    const amount = plan ? price(line, plan, kept.map((r) => BigInt(r.quantity)), content.currencyExponent).amount : 0n;
    out.set(line.lineNo, amount);
    if (line.kind === "usage") usageMinor += amount;
  }
  for (const line of content.lines) {
    if (line.kind !== "minimum") continue;
    out.set(line.lineNo, removal.lines.has(line.lineNo) ? 0n : minimumTopUpMinor(BigInt(main.minimumMinor), usageMinor));
  }
  return out;
}

/** Recomputes every line and the total of an invoice; each line lists what does not match. */
export function recomputeInvoice(content: InvoiceContent): { lines: LineCheck[]; expectedTotalMinor: string; totalOk: boolean } {
  const plans = plansOf(content);
  const main = content.planSnapshot.plan;
  const amounts = lineAmounts(content);
  const checks: LineCheck[] = content.lines.map((line) => {
    const problems: string[] = [];
    const expectedAmount = amounts.get(line.lineNo) ?? 0n;
    let expectedQuantity = 0n;
    if (line.kind === "minimum") {
      if (line.records.length > 0) problems.push("minimum line cites usage records");
      if (line.planVersionId !== null && line.planVersionId !== main.versionId) problems.push(`minimum line names plan version ${line.planVersionId}, not the invoice's`);
    } else {
      const plan = plans.get(line.planVersionId ?? "");
      if (!plan) problems.push(`plan version ${line.planVersionId ?? "?"} is not in the snapshot`);
      if (line.kind === "usage" && line.planVersionId !== main.versionId) problems.push(`usage line priced with plan version ${line.planVersionId ?? "?"}, not the invoice's ${main.versionId}`);
      if (plan) {
        const aggregation = plan.meters.find((m) => m.meterId === line.meterId)?.aggregation ?? DEFAULT_AGGREGATION;
        if (line.aggregation !== aggregation) problems.push(`aggregation ${line.aggregation ?? "none"} != plan's ${aggregation}`);
        expectedQuantity = price(line, plan, line.records.map((r) => BigInt(r.quantity)), content.currencyExponent).quantity;
      }
      for (const r of line.records) {
        if (r.meterId !== line.meterId) problems.push(`record ${citationKey(r)} is for meter ${r.meterId}, not ${line.meterId}`);
      }
      if (BigInt(line.quantity) !== expectedQuantity) problems.push(`quantity ${line.quantity} != aggregate of records ${expectedQuantity}`);
    }
    if (BigInt(line.amountMinor) !== expectedAmount) problems.push(`amount ${line.amountMinor} != recomputed ${expectedAmount}`);
    return { lineNo: line.lineNo, ok: problems.length === 0, expectedQuantity: expectedQuantity.toString(), expectedAmountMinor: expectedAmount.toString(), problems };
  });
  const expectedTotal = [...amounts.values()].reduce((a, b) => a + b, 0n);
  const statedSum = content.lines.reduce((a, l) => a + BigInt(l.amountMinor), 0n);
  return {
    lines: checks.sort((a, b) => a.lineNo - b.lineNo),
    expectedTotalMinor: expectedTotal.toString(),
    totalOk: expectedTotal === BigInt(content.totalMinor) && statedSum === BigInt(content.totalMinor),
  };
}

/**
 * Per-line credit of taking `now` off an invoice from which `before` was already taken: each line's
 * amount before minus its amount after. Lines that do not change are left out.
 */
export function creditAmounts(content: InvoiceContent, before: Removal, now: Removal): Map<number, bigint> {
  const a = lineAmounts(content, before);
  const b = lineAmounts(content, {
    records: new Set([...before.records, ...now.records]),
    lines: new Set([...before.lines, ...now.lines]),
  });
  const out = new Map<number, bigint>();
  for (const [lineNo, amount] of a) {
    const diff = amount - (b.get(lineNo) ?? 0n);
    if (diff !== 0n) out.set(lineNo, diff);
  }
  return out;
}
