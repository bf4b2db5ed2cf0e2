import type { RequestContext } from "../context";
import { BadInputError, NotFoundError } from "../errors";
import { recordAudit } from "../../db/audit-log";
import { insertRatePlan, listRatePlans, type RatePlanRow } from "../read/rate-plans";
import { toGlobalId } from "./ids";

const ratePlanNode = (r: RatePlanRow) => ({ id: toGlobalId("RatePlan", r.id), name: r.name, createdAt: r.created_at });

export const ratePlanResolvers = {
  Query: {
    ratePlans: (_: unknown, __: unknown, ctx: RequestContext) =>
      ctx.db.run(ctx.principal, async (c, tenantId) => (await listRatePlans(c, tenantId)).map(ratePlanNode)),
  },
  Mutation: {
    createRatePlan: (_: unknown, args: { name: string }, ctx: RequestContext) => {
      if (args.name.length < 1 || args.name.length > 200) throw new BadInputError("name must be 1-200 characters");
      return ctx.db.run(ctx.principal, async (c, tenantId) => {
        if (tenantId === null) throw new NotFoundError();
        const row = await insertRatePlan(c, tenantId, args.name);
        if (!row) throw new BadInputError("a rate plan with this name exists");
        await recordAudit(c, tenantId, ctx.actor, { action: "rate_plan.create", entityType: "rate_plan", entityId: row.id, before: null, after: { name: args.name } });
        return ratePlanNode(row);
      });
    },
  },
};
