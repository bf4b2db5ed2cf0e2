import { removeQuota, setAlertThresholds, setQuotaLimits } from "../../billing/catalog";
import type { RequestContext } from "../context";
import { findQuota, listQuotas, type QuotaRow } from "../read/quotas";
import { meterArg } from "./args";
import { billingCall, underInput } from "./billing-call";
import { toGlobalId } from "./ids";

const quotaNode = (r: QuotaRow) => ({
  id: toGlobalId("Quota", r.tenant_id, r.meter_id),
  meterId: r.meter_id,
  softLimit: r.soft_limit,
  hardLimit: r.hard_limit,
  thresholds: r.thresholds,
  usage: r.usage,
  status: r.status.toUpperCase(),
  periodStart: r.period_start,
  periodEnd: r.period_end,
});

export const quotaResolvers = {
  Query: {
    quotas: (_: unknown, __: unknown, ctx: RequestContext) =>
      ctx.db.run(ctx.principal, async (c, tenantId) => (tenantId === null ? [] : (await listQuotas(c, tenantId)).map(quotaNode))),
  },
  Mutation: {
    setQuotaLimits: (_: unknown, { input }: { input: { meter: string; softLimit?: string | null; hardLimit?: string | null } }, ctx: RequestContext) =>
      billingCall(ctx, underInput, async (c, tenantId, at) => {
        const meter = meterArg(input.meter, tenantId, "input.meter");
        await setQuotaLimits(c, tenantId, { meter, softLimit: input.softLimit ?? null, hardLimit: input.hardLimit ?? null }, at);
        return quotaNode((await findQuota(c, tenantId, meter))!);
      }),
    removeQuota: (_: unknown, args: { meter: string }, ctx: RequestContext) =>
      billingCall(
        ctx,
        (f) => f,
        (c, tenantId, at) => removeQuota(c, tenantId, { meter: meterArg(args.meter, tenantId, "meter") }, at),
      ),
    setAlertThresholds: (_: unknown, { input }: { input: { meter: string; thresholds: number[] } }, ctx: RequestContext) =>
      billingCall(ctx, underInput, async (c, tenantId, at) => {
        const meter = meterArg(input.meter, tenantId, "input.meter");
        await setAlertThresholds(c, tenantId, { meter, thresholds: input.thresholds }, at);
        return quotaNode((await findQuota(c, tenantId, meter))!);
      }),
  },
};
