/**
 * Late usage of an earlier period is billed as it would have been: an adjustment line refers to
 * an earlier invoice of the tenant's anchored chain for that very period (not one voided since),
 * is priced with the plan anchored for that period, and on top of what the earlier documents
 * charge for it, recomputed here from the history. The line's own `baseQuantity` is only compared.
 */
import { documentHash } from "../../rating/document-hash";
import { isoOf, plural } from "../format";
import { anchoredPlanFor } from "../plans";
import { outcome, type CheckResult } from "../result";
import { seconds } from "../document";
import type { CheckContext } from "./context";

export function checkAdjustments(ctx: CheckContext): CheckResult {
  const inv = ctx.docs.invoice;
  const lines = inv.content.lines.filter((l) => l.kind === "adjustment");
  const plans = new Map([inv.content.planSnapshot.plan, ...inv.content.planSnapshot.adjustmentPlans].map((p) => [p.versionId, p]));
  const anchors = ctx.facts.anchorHistory;
  const problems: string[] = [];
  const seen = new Map<string, number>();
  for (const line of lines) {
    const where = `line ${line.lineNo}`;
    if (line.adjustsPeriodStart === null || line.adjustsPeriodEnd === null || line.meterId === null) {
      problems.push(`${where}: an adjustment line must name its meter and the period it adjusts`);
      continue;
    }
    const start = seconds(line.adjustsPeriodStart);
    const end = seconds(line.adjustsPeriodEnd);
    const same = seen.get(`${line.meterId}:${start}`);
    if (same !== undefined) problems.push(`${where}: line ${same} already adjusts meter ${line.meterId} for the same period; each would be priced on the same base`);
    seen.set(`${line.meterId}:${start}`, line.lineNo);

    const source = ctx.docs.history.find((d) => d.kind === "invoice" && d.number === line.adjustsInvoiceNumber);
    if (line.adjustsInvoiceNumber === null || !source) {
      problems.push(`${where}: it adjusts invoice ${line.adjustsInvoiceNumber ?? "(none)"}, which is not an earlier document of the tenant's chain`);
    } else {
      if (source.periodStart !== start || source.periodEnd !== end) {
        problems.push(`${where}: it adjusts ${isoOf(start)} to ${isoOf(end)}, but invoice ${source.number} is for ${isoOf(source.periodStart)} to ${isoOf(source.periodEnd)}`);
      }
      if (source.kind === "invoice" && ctx.before.isVoided(source.content.invoiceId)) {
        problems.push(`${where}: invoice ${source.number} was voided; late usage of its period goes against its reissue`);
      }
    }
    if (end > inv.periodStart) problems.push(`${where}: the period it adjusts does not end before this invoice's period starts`);

    const plan = plans.get(line.planVersionId ?? "");
    if (!plan) problems.push(`${where}: it names plan version ${line.planVersionId ?? "(none)"}, which the invoice does not carry`);
    else if (anchors) {
      const choice = anchoredPlanFor(anchors, start);
      const hash = documentHash(plan);
      if (!choice.plan) problems.push(`${where}: no plan is anchored for the period it adjusts (${isoOf(start)})`);
      else if (choice.plan.planHash !== hash) {
        problems.push(`${where}: priced with plan "${plan.planName}" v${plan.version} (${hash}), not the plan anchored for ${isoOf(start)} (${choice.plan.planHash})`);
      }
    }

    const base = ctx.bases.get(line.lineNo);
    if (base !== undefined && (line.baseQuantity === null || BigInt(line.baseQuantity) !== base)) {
      problems.push(`${where}: it states ${line.baseQuantity ?? "no"} units already billed for meter ${line.meterId} in that period; the earlier documents charge ${base}`);
    }
  }
  if (!anchors && lines.length > 0) problems.push("the plans of the adjusted periods could not be read (see parties)");
  return outcome(
    "adjustments",
    problems,
    lines.length === 0
      ? "no adjustment lines"
      : `${plural(lines.length, "adjustment line")}: each adjusts an earlier anchored invoice, priced with that period's anchored plan, on a base recomputed from the history`,
  );
}
