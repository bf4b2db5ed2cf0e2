import { lineAmountMinor, minimumTopUpMinor, type PriceSpec } from "./pricing";

export interface MeterUsage {
  meterId: number;
  /** Aggregated quantity of the meter over the period. */
  quantity: bigint;
}

export interface ComputedLine {
  kind: "usage" | "minimum";
  meterId: number | null;
  quantity: bigint;
  amountMinor: bigint;
}

/**
 * Usage lines (one per meter with usage, in meter order) plus a minimum line when usage falls
 * short of the plan minimum. Each amount is rounded once; the total is the sum of the lines, so
 * lines always add up to it exactly.
 */
export function buildLines(input: {
  prices: readonly PriceSpec[];
  usage: readonly MeterUsage[];
  minimumMinor: bigint;
  currencyExponent: number;
}): { lines: ComputedLine[]; totalMinor: bigint } {
  const byMeter = new Map(input.prices.map((p) => [p.meterId, p]));
  const lines: ComputedLine[] = [...input.usage]
    .sort((a, b) => a.meterId - b.meterId)
    .map((u) => {
      const price = byMeter.get(u.meterId);
      // A meter without a price in the plan is listed (its records stay traceable) at zero.
      const amountMinor = price ? lineAmountMinor(price, u.quantity, input.currencyExponent) : 0n;
      return { kind: "usage" as const, meterId: u.meterId, quantity: u.quantity, amountMinor };
    });
  const usageMinor = lines.reduce((a, l) => a + l.amountMinor, 0n);
  const topUp = minimumTopUpMinor(input.minimumMinor, usageMinor);
  if (topUp > 0n) lines.push({ kind: "minimum", meterId: null, quantity: 0n, amountMinor: topUp });
  return { lines, totalMinor: lines.reduce((a, l) => a + l.amountMinor, 0n) };
}
