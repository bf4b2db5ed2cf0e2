/**
 * Entitlement check for the platform's own services: may this tenant use this meter now? Answered
 * from the hard limit and the current billing period's usage, read from rollups so it stays cheap
 * at any volume. Usage counts each idempotency key once, like billing and quotas.
 */
import { DEFAULT_AGGREGATION, fromRollup, type Aggregation } from "../rating/aggregation";
import { periodContaining } from "../rating/periods";
import { BillingNotFoundError } from "./errors";
import { meterLimits, rollupTotals } from "./store/entitlement";
import type { Queryable } from "./store/records";

export interface Entitlement {
  meterId: number;
  /** False once usage reached the hard limit; true when there is none. */
  allowed: boolean;
  usage: string;
  /** The hard limit, null when the meter has none. */
  limit: string | null;
  softLimit: string | null;
  /** limit - usage, never negative; null without a hard limit. */
  remaining: string | null;
  status: "ok" | "warning" | "exceeded";
  /** When usage resets: the end of the current billing period. */
  resetsAt: Date;
  periodStart: Date;
}

export async function checkEntitlement(db: Queryable, tenantId: string, meter: string, now: Date): Promise<Entitlement> {
  const m = await meterLimits(db, tenantId, meter);
  if (!m) throw new BillingNotFoundError(`meter ${meter} not found`);
  const period = periodContaining(now, m.timeZone);
  const totals = await rollupTotals(db, tenantId, m.meterId, period.start, period.end);
  const usage = fromRollup((m.aggregation as Aggregation | null) ?? DEFAULT_AGGREGATION, totals);
  const hard = m.hardLimit === null ? null : BigInt(m.hardLimit);
  const soft = m.softLimit === null ? null : BigInt(m.softLimit);
  const status = hard !== null && usage >= hard ? "exceeded" : soft !== null && usage >= soft ? "warning" : "ok";
  return {
    meterId: m.meterId,
    allowed: hard === null || usage < hard,
    usage: usage.toString(),
    limit: m.hardLimit,
    softLimit: m.softLimit,
    remaining: hard === null ? null : (usage >= hard ? 0n : hard - usage).toString(),
    status,
    resetsAt: period.end,
    periodStart: period.start,
  };
}
