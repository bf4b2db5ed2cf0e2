/**
 * Which anchored plan version prices a period: the anchor with the latest `effectiveFrom` at or
 * before the period's start, among those anchored before they took effect by a BILLER_ROLE holder.
 * Two anchors with the same `effectiveFrom` were both public before it; the later one counts, as
 * a later anchored version replaces an earlier one.
 */
import { heldBillerRole, type AnchoredPlan, type AnchorHistory } from "./chain/anchor-history";
import { comparePositions } from "./chain/logs";
import { isoOf, short } from "./format";

export interface PlanChoice {
  plan: AnchoredPlan | null;
  /** Anchors left out, and why. */
  ignored: string[];
}

export function anchoredPlanFor(history: AnchorHistory, periodStart: number): PlanChoice {
  const ignored: string[] = [];
  let best: AnchoredPlan | null = null;
  for (const p of history.plans) {
    if (p.timestamp >= p.effectiveFrom) {
      ignored.push(`plan ${short(p.planHash)} was anchored at ${isoOf(p.timestamp)}, not before it took effect (${isoOf(p.effectiveFrom)})`);
      continue;
    }
    if (!heldBillerRole(history, p.biller, p)) {
      ignored.push(`plan ${short(p.planHash)} was anchored by ${p.biller}, which did not hold BILLER_ROLE`);
      continue;
    }
    if (p.effectiveFrom > periodStart) continue;
    if (!best || p.effectiveFrom > best.effectiveFrom || (p.effectiveFrom === best.effectiveFrom && comparePositions(p, best) > 0)) best = p;
  }
  return { plan: best, ignored };
}
