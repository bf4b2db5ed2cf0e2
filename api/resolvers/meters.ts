import type { Aggregation } from "../../rating/aggregation";
import type { RequestContext } from "../context";
import { BadInputError, NotFoundError } from "../errors";
import { recordAudit } from "../../db/audit-log";
import { findMeter, listMeters, meterExists, upsertMeterConfig } from "../read/meters";
import { meterIdOf, requireMeterId } from "./args";
import { meterNode } from "./nodes";

interface ConfigureMeterInput {
  meter: string;
  aggregation: Aggregation;
  unit?: string | null;
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
    configureMeter: (_: unknown, { input }: { input: ConfigureMeterInput }, ctx: RequestContext) => {
      if (input.displayName.length < 1 || input.displayName.length > 200) throw new BadInputError("displayName must be 1-200 characters");
      if (input.unit !== undefined && input.unit !== null && (input.unit.length < 1 || input.unit.length > 50)) {
        throw new BadInputError("unit must be 1-50 characters");
      }
      const config = { aggregation: input.aggregation, unit: input.unit ?? "unit", displayName: input.displayName };
      return ctx.db.run(ctx.principal, async (c, tenantId) => {
        const meterId = requireMeterId(input.meter, tenantId);
        if (!(await meterExists(c, tenantId, meterId))) throw new NotFoundError();
        await upsertMeterConfig(c, tenantId!, meterId, config);
        await recordAudit(c, tenantId!, ctx.actor, { action: "meter.configure", entityType: "meter", entityId: String(meterId), before: null, after: config });
        const row = await findMeter(c, tenantId!, meterId);
        return row ? meterNode(row) : null;
      });
    },
  },
};
