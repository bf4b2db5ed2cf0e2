/**
 * The invoice is priced with the plan version the platform published for the tenant before it
 * took effect: the snapshot in the invoice hashes to the plan anchored for the period (and to the
 * tenant's own copy when given). Extra snapshots in the invoice may only serve adjustment lines:
 * one under the main plan's version id would otherwise reprice the usage lines.
 */
import { documentHash } from "../../rating/document-hash";
import { isoOf, short } from "../format";
import { anchoredPlanFor } from "../plans";
import { fail, notChecked, outcome, type CheckResult } from "../result";
import type { CheckContext } from "./context";

export function checkPlan(ctx: CheckContext): CheckResult {
  const history = ctx.facts.anchorHistory;
  if (!history) return notChecked("plan", "the tenant's anchors could not be read (see parties)");
  const inv = ctx.docs.invoice;
  const { plan, adjustmentPlans } = inv.content.planSnapshot;
  const hash = documentHash(plan);
  const choice = anchoredPlanFor(history, inv.periodStart);
  const label = `plan "${plan.planName}" v${plan.version}`;
  if (!choice.plan) return fail("plan", [`no plan version is anchored for tenant #${ctx.facts.tenant.id} taking effect at or before ${isoOf(inv.periodStart)}`], undefined, choice.ignored);

  const problems: string[] = [];
  const anchored = choice.plan;
  if (anchored.planHash !== hash) {
    problems.push(
      `the invoice's ${label} hashes to ${hash}; the plan anchored for this period (effective ${isoOf(anchored.effectiveFrom)}, anchored in block ${anchored.blockNumber}) is ${anchored.planHash}`,
    );
  }
  if (ctx.trust.planHash !== null && ctx.trust.planHash !== hash) problems.push(`the invoice's ${label} hashes to ${hash}; your copy of the plan hashes to ${ctx.trust.planHash}`);
  if (plan.currency !== inv.content.currency || plan.currencyExponent !== inv.content.currencyExponent) {
    problems.push(`the invoice is in ${inv.content.currency} (exponent ${inv.content.currencyExponent}), its plan in ${plan.currency} (exponent ${plan.currencyExponent})`);
  }
  const used = new Set(inv.content.lines.filter((l) => l.kind === "adjustment").map((l) => l.planVersionId));
  const seen = new Set([plan.versionId]);
  for (const p of adjustmentPlans) {
    if (seen.has(p.versionId)) problems.push(`the invoice carries a second plan snapshot under version id ${p.versionId}`);
    else if (!used.has(p.versionId)) problems.push(`the invoice carries a plan snapshot (version id ${p.versionId}) that no adjustment line uses`);
    seen.add(p.versionId);
  }
  return outcome(
    "plan",
    problems,
    `${label} (${short(hash)}) is the version anchored for this period: effective ${isoOf(anchored.effectiveFrom)}, anchored in block ${anchored.blockNumber} at ${isoOf(anchored.timestamp)}` +
      (ctx.trust.planHash !== null ? "; it is your copy" : ""),
    choice.ignored,
  );
}
