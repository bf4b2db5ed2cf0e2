import { configureMeter } from "../../billing/catalog";
import type { Aggregation } from "../../rating/aggregation";
import type { RequestContext } from "../context";
import { findMeter, listMeters } from "../read/meters";
import { meterArg, meterIdOf } from "./args";
import { billingCall, underInput } from "./billing-call";
import { meterNode } from "./nodes";

interface ConfigureMeterInput {
  meter: string;
  aggregation: Aggregation;
  unit: string;
  displayName: string;
}

export const meterResolvers = {
  Query: {
    meters: (_: unknown, __: unknown, ctx: RequestContext) =>
      ctx.db.run(ctx.principal, async (c, tenantId) => (tenantId === null ? [] : (await listMeters(c, tenantId)).map(meterNode))),
    meter: (_: unknown, args: { id: string }, ctx: RequestContext) =>
      ctx.db.run(ctx.principal, async (c, tenantId) => {
        const meterId = meterIdOf(args.id, tenantId);
        if (meterId === null) return null;
        const row = await findMeter(c, tenantId!, meterId);
        return row ? meterNode(row) : null;
      }),
  },
  Mutation: {
    configureMeter: (_: unknown, { input }: { input: ConfigureMeterInput }, ctx: RequestContext) =>
      billingCall(ctx, underInput, async (c, tenantId, at) => {
        const meter = meterArg(input.meter, tenantId, "input.meter");
        await configureMeter(c, tenantId, { meter, aggregation: input.aggregation, unit: input.unit, displayName: input.displayName }, at);
        return meterNode((await findMeter(c, tenantId, meter))!);
      }),
  },
};
