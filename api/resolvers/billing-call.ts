import type pg from "pg";
import type { CatalogContext } from "../../billing/catalog";
import type { RequestContext } from "../context";
import { fromBillingError, NotFoundError } from "../errors";

/** Billing's input paths as GraphQL argument paths: under the field's `input` argument. */
export const underInput = (billingField: string): string => `input.${billingField}`;

/**
 * Runs billing's code for one mutation: in the request's tenant transaction, as the request's
 * actor (subject, platform, IP, user agent, request id: what the audit row records), at the wall
 * clock. Any failure rolls the whole transaction back, the audit row included, and reaches the
 * client as the API's error (fieldOf maps billing's field names to argument paths).
 */
export async function billingCall<T>(
  ctx: RequestContext,
  fieldOf: (billingField: string) => string,
  fn: (client: pg.PoolClient, tenantId: string, at: CatalogContext) => Promise<T>,
): Promise<T> {
  try {
    return await ctx.db.run(ctx.principal, (client, tenantId) => {
      if (tenantId === null) throw new NotFoundError();
      return fn(client, tenantId, { actor: ctx.actor, now: new Date() });
    });
  } catch (err) {
    throw fromBillingError(err, fieldOf);
  }
}
