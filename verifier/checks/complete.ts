/**
 * Optional (--complete): every record of the tenant with usage in the period, revealed at or below
 * the invoice's confirmed block, is billed by a document of the file, so nothing billable was left
 * for a later invoice. Records repeating an earlier idempotency key are not billable and are skipped.
 */
import { ZERO_REF, citationKey } from "../../rating/citation";
import { isoOf, plural } from "../format";
import { notChecked, outcome, skipped, type CheckResult } from "../result";
import type { CheckContext } from "./context";

export function checkComplete(ctx: CheckContext): CheckResult {
  if (!ctx.options.complete) return skipped("complete", "not asked for (--complete)");
  const history = ctx.facts.tenantHistory;
  if (!history) return notChecked("complete", "the tenant's records could not be read (see parties)");
  const inv = ctx.docs.invoice;
  if (inv.content.confirmedBlock === null) return notChecked("complete", "the invoice names no confirmed block");
  const confirmed = BigInt(inv.content.confirmedBlock);
  const cited = new Set<string>();
  for (const d of [...ctx.docs.history, inv]) if (d.kind === "invoice") for (const l of d.content.lines) for (const r of l.records) cited.add(citationKey(r));
  const problems: string[] = [];
  let inPeriod = 0;
  for (const r of history.ordered) {
    if (r.periodStart < inv.periodStart || r.periodStart >= inv.periodEnd || r.blockNumber > confirmed) continue;
    if (r.ref !== ZERO_REF && history.firstByRef.get(r.ref) !== r.key) continue;
    inPeriod++;
    if (!cited.has(r.key)) {
      problems.push(`record ${r.key} (meter ${r.meterId}, quantity ${r.quantity}, usage at ${isoOf(r.periodStart)}, block ${r.blockNumber}) is not billed by any document`);
    }
  }
  return outcome("complete", problems, `all ${plural(inPeriod, "billable record")} of the period up to block ${confirmed} are billed`);
}
