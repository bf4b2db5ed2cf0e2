import type { Hex } from "viem";
import { ZERO_REF } from "./revealed-refs";

/** Why an input line was left out. */
export type SkipReason = "submitted" | "repeated";

export interface SkippedLine {
  line: number;
  reason: SkipReason;
}

/**
 * Leaves out every row whose ref is already submitted for its tenant (`isSubmitted`) or repeats
 * the ref of an earlier row of the same tenant in this input; the first occurrence wins. The
 * zero ref means "no key" and is never left out.
 */
export function skipSubmittedKeys<T extends { tenantId: number; input: { line: number; ref: Hex } }>(
  rows: readonly T[],
  isSubmitted: (tenantId: number, ref: Hex) => boolean,
): { kept: T[]; skipped: SkippedLine[] } {
  const kept: T[] = [];
  const skipped: SkippedLine[] = [];
  const seen = new Set<string>();
  for (const row of rows) {
    const ref = row.input.ref.toLowerCase() as Hex;
    if (ref === ZERO_REF) {
      kept.push(row);
      continue;
    }
    const key = `${row.tenantId}:${ref}`;
    if (isSubmitted(row.tenantId, ref)) skipped.push({ line: row.input.line, reason: "submitted" });
    else if (seen.has(key)) skipped.push({ line: row.input.line, reason: "repeated" });
    else {
      seen.add(key);
      kept.push(row);
    }
  }
  return { kept, skipped };
}

/** Line numbers shown in the summary before "…". */
const SHOWN = 10;

/** The one summary line for skipped input lines, e.g. `skipped 3 line(s) …: lines 2, 5, 9`. */
export function describeSkipped(skipped: readonly SkippedLine[]): string {
  const submitted = skipped.filter((s) => s.reason === "submitted").length;
  const lines = skipped.map((s) => s.line).sort((a, b) => a - b);
  const shown = lines.slice(0, SHOWN).join(", ") + (lines.length > SHOWN ? `, … (${lines.length - SHOWN} more)` : "");
  return (
    `skipped ${skipped.length} line(s) whose ref was already submitted for the tenant ` +
    `(${submitted} on chain or pending, ${skipped.length - submitted} repeated in this input): lines ${shown}`
  );
}
