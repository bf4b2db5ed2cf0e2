import type { RequestContext } from "../context";
import { BadInputError, NotFoundError } from "../errors";
import { recordAudit } from "../../db/audit-log";
import { meterExists } from "../read/meters";
import { deleteQuota, findQuota, listQuotas, upsertQuota, type QuotaRow } from "../read/quotas";
import { requireMeterId } from "./args";
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

interface SetQuotaInput {
  meter: string;
  softLimit?: string | null;
  hardLimit?: string | null;
  thresholds?: number[] | null;
}

export const quotaResolvers = {
  Query: {
    quotas: (_: unknown, __: unknown, ctx: RequestContext) =>
      ctx.db.run(ctx.principal, async (c, tenantId) => (tenantId === null ? [] : (await listQuotas(c, tenantId)).map(quotaNode))),
  },
  Mutation: {
    setQuota: (_: unknown, { input }: { input: SetQuotaInput }, ctx: RequestContext) => {
      const softLimit = input.softLimit ?? null;
      const hardLimit = input.hardLimit ?? null;
      if (softLimit === null && hardLimit === null) throw new BadInputError("softLimit or hardLimit is required");
      for (const v of [softLimit, hardLimit]) if (v !== null && BigInt(v) <= 0n) throw new BadInputError("limits must be positive");
      if (softLimit !== null && hardLimit !== null && BigInt(softLimit) > BigInt(hardLimit)) {
        throw new BadInputError("softLimit must not exceed hardLimit");
      }
      const thresholds = input.thresholds ?? [50, 80, 100];
      if (thresholds.length > 20 || thresholds.some((t) => t <= 0 || t > 1000)) throw new BadInputError("thresholds must be 1-1000, at most 20");
      const quota = { softLimit, hardLimit, thresholds };
      return ctx.db.run(ctx.principal, async (c, tenantId) => {
        const meterId = requireMeterId(input.meter, tenantId);
        if (!(await meterExists(c, tenantId, meterId))) throw new NotFoundError();
        await upsertQuota(c, tenantId!, meterId, quota);
        await recordAudit(c, tenantId!, ctx.actor, { action: "quota.set", entityType: "quota", entityId: String(meterId), before: null, after: quota });
        return quotaNode((await findQuota(c, tenantId!, meterId))!);
      });
    },
    deleteQuota: (_: unknown, args: { meter: string }, ctx: RequestContext) =>
      ctx.db.run(ctx.principal, async (c, tenantId) => {
        const meterId = requireMeterId(args.meter, tenantId);
        if (!(await deleteQuota(c, tenantId, meterId))) throw new NotFoundError();
        await recordAudit(c, tenantId!, ctx.actor, { action: "quota.delete", entityType: "quota", entityId: String(meterId), before: null, after: null });
        return true;
      }),
  },
};
