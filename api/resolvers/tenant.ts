import { setTimeZone } from "../../billing/catalog";
import { roleName } from "../auth/roles";
import type { RequestContext } from "../context";
import { findTenant } from "../read/tenants";
import { billingCall } from "./billing-call";
import { tenantNode } from "./nodes";

function tenant(ctx: RequestContext) {
  return ctx.db.run(ctx.principal, async (c, tenantId) => {
    if (tenantId === null) return null;
    const row = await findTenant(c, tenantId);
    return row ? tenantNode(row) : null;
  });
}

export const tenantResolvers = {
  Query: {
    viewer: (_: unknown, __: unknown, ctx: RequestContext) => ({
      subject: ctx.principal.subject,
      roles: [...ctx.principal.roles].map(roleName),
      platform: ctx.principal.platform,
      tenant: () => tenant(ctx),
    }),
    tenant: (_: unknown, __: unknown, ctx: RequestContext) => tenant(ctx),
  },
  Mutation: {
    setTimeZone: (_: unknown, args: { timeZone: string }, ctx: RequestContext) =>
      billingCall(
        ctx,
        (f) => f,
        async (c, tenantId, at) => {
          await setTimeZone(c, tenantId, { timeZone: args.timeZone }, at);
          return tenantNode((await findTenant(c, tenantId))!);
        },
      ),
  },
};
