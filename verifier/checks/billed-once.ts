/**
 * Across the tenant's documents, in chain order, no record is charged while another invoice
 * charges it, none is charged again after a credit note settled it (excluded, dispute, goodwill),
 * no period is invoiced twice without a void, and no record is charged that repeats an earlier
 * record's idempotency key (`ref`, non-zero): only the first occurrence on chain may be billed.
 */
import { citationKey, ZERO_REF } from "../../rating/citation";
import { plural } from "../format";
import { outcome, type CheckResult } from "../result";
import type { CheckContext } from "./context";

export function checkBilledOnce(ctx: CheckContext): CheckResult {
  const problems = [...ctx.after.problems];
  const notes: string[] = [];
  const history = ctx.facts.tenantHistory;
  const invoices = [...ctx.docs.history, ctx.docs.invoice].filter((d) => d.kind === "invoice");
  if (history) {
    for (const inv of invoices) {
      for (const line of inv.content.lines) {
        for (const c of line.records) {
          const key = citationKey(c);
          const r = history.records.get(key);
          if (!r || r.ref === ZERO_REF) continue;
          const first = history.firstByRef.get(r.ref);
          if (first !== undefined && first !== key) {
            problems.push(`${inv.label}, line ${line.lineNo}: record ${key} repeats the idempotency key ${r.ref} of record ${first}, revealed before it: only the first may be billed`);
          }
        }
      }
    }
  } else {
    notes.push("duplicates by idempotency key were not checked: the tenant's records could not be read (see parties)");
  }
  const documents = ctx.docs.history.length + 1 + ctx.docs.creditNotes.length;
  return outcome(
    "billed-once",
    problems,
    `no record is billed twice across ${plural(documents, "document")}; no duplicate by key, no credited or excluded record is charged`,
    notes,
  );
}
