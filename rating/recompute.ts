import type { InvoiceContent, InvoiceLineContent } from "./content-hash";
import { aggregate, combineAggregates } from "./aggregation";
import { adjustmentAmountMinor, lineAmountMinor, minimumTopUpMinor } from "./pricing";
import type { PlanSnapshot } from "./snapshot";

export interface LineCheck {
  lineNo: number;
  ok: boolean;
  expectedQuantity: string;
  expectedAmountMinor: string;
  problems: string[];
}

/**
 * Recomputes every line of an invoice from the records it cites and the plan snapshot it carries,
 * exactly as the billing worker priced it. Shared by the database audit and invoice verification.
 */
export function recomputeInvoice(content: InvoiceContent): { lines: LineCheck[]; expectedTotalMinor: string; totalOk: boolean } {
  const plan = content.planSnapshot.plan;
  const plans = new Map<string, PlanSnapshot>([[plan.versionId, plan], ...content.planSnapshot.adjustmentPlans.map((p) => [p.versionId, p] as const)]);
  const checks: LineCheck[] = [];
  let usageMinor = 0n;
  for (const line of content.lines) {
    if (line.kind === "usage") {
      const c = checkPricedLine(line, plans.get(line.planVersionId ?? plan.versionId), content.currencyExponent);
      usageMinor += BigInt(c.expectedAmountMinor);
      checks.push(c);
    }
  }
  for (const line of content.lines) {
    if (line.kind === "adjustment") checks.push(checkPricedLine(line, plans.get(line.planVersionId ?? ""), content.currencyExponent));
    if (line.kind === "minimum") {
      const expected = minimumTopUpMinor(BigInt(plan.minimumMinor), usageMinor);
      const problems = BigInt(line.amountMinor) === expected ? [] : [`minimum amount ${line.amountMinor} != expected ${expected}`];
      if (line.records.length > 0) problems.push("minimum line cites usage records");
      checks.push({ lineNo: line.lineNo, ok: problems.length === 0, expectedQuantity: "0", expectedAmountMinor: expected.toString(), problems });
    }
  }
  checks.sort((a, b) => a.lineNo - b.lineNo);
  const expectedTotal = checks.reduce((a, c) => a + BigInt(c.expectedAmountMinor), 0n);
  const statedSum = content.lines.reduce((a, l) => a + BigInt(l.amountMinor), 0n);
  return {
    lines: checks,
    expectedTotalMinor: expectedTotal.toString(),
    totalOk: expectedTotal === BigInt(content.totalMinor) && statedSum === BigInt(content.totalMinor),
  };
}

function checkPricedLine(line: InvoiceLineContent, plan: PlanSnapshot | undefined, exponent: number): LineCheck {
  const problems: string[] = [];
  const fail = (p: string): LineCheck => ({ lineNo: line.lineNo, ok: false, expectedQuantity: "?", expectedAmountMinor: "0", problems: [p] });
  if (!plan) return fail(`plan version ${line.planVersionId ?? "?"} is not in the snapshot`);
  const meter = plan.meters.find((m) => m.meterId === line.meterId);
  const aggregation = meter?.aggregation ?? "SUM";
  if (line.aggregation !== null && line.aggregation !== aggregation) problems.push(`aggregation ${line.aggregation} != plan's ${aggregation}`);
  for (const r of line.records) {
    if (r.meterId !== line.meterId) problems.push(`record ${r.txHash}:${r.logIndex}:${r.recordIndex} is for meter ${r.meterId}, not ${line.meterId}`);
  }
  const agg = aggregate(aggregation, line.records.map((r) => BigInt(r.quantity)));
  const price = plan.prices.find((p) => p.meterId === line.meterId);
  let quantity: bigint;
  let amount: bigint;
  if (line.kind === "adjustment") {
    const base = BigInt(line.baseQuantity ?? "0");
    quantity = combineAggregates(aggregation, base, agg);
    amount = price ? adjustmentAmountMinor(price, base, quantity, exponent) : 0n;
  } else {
    quantity = agg;
    amount = price ? lineAmountMinor(price, quantity, exponent) : 0n;
  }
  if (BigInt(line.quantity) !== quantity) problems.push(`quantity ${line.quantity} != sum of records ${quantity}`);
  if (BigInt(line.amountMinor) !== amount) problems.push(`amount ${line.amountMinor} != recomputed ${amount}`);
  return { lineNo: line.lineNo, ok: problems.length === 0, expectedQuantity: quantity.toString(), expectedAmountMinor: amount.toString(), problems };
}
