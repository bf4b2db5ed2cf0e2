import { checkEntitlement } from "../../billing/entitlement";
import type { RequestContext } from "../context";
import { BadInputError, ForbiddenError } from "../errors";
import { billingCall } from "./billing-call";

export const entitlementResolvers = {
  Query: {
    entitlement: (_: unknown, args: { tenant?: string | null; meter: string }, ctx: RequestContext) => {
      // The tenant argument only states which tenant the caller means; it never selects one. A
      // tenant token asks about its own tenant, a platform token about the one its header names
      // (and the platform audit recorded): any other answers the same, whether it exists or not.
      if (args.tenant !== null && args.tenant !== undefined && args.tenant !== ctx.principal.tenant) throw new ForbiddenError();
      if (args.meter.length < 1 || args.meter.length > 200) throw new BadInputError("must be a meter's name or number", { field: "meter" });
      return billingCall(
        ctx,
        (f) => f,
        async (c, tenantId, at) => {
          const e = await checkEntitlement(c, tenantId, args.meter, at.now);
          return { ...e, status: e.status.toUpperCase() };
        },
      );
    },
  },
};
