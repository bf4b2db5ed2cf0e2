import { createPlan, createPlanVersion, subscribe, withdrawPlanVersion } from "../../billing/catalog";
import { toHexOrNull } from "../../chain/hex";
import { formatPrice, parsePrice } from "../../rating/decimal";
import type { RequestContext } from "../context";
import { BadInputError, NotFoundError } from "../errors";
import {
  findPlan,
  findSubscription,
  findVersion,
  listPlans,
  listPrices,
  listSubscriptions,
  listVersions,
  type PlanRow,
  type PlanVersionRow,
  type PriceRow,
  type SubscriptionRow,
  type TierRow,
} from "../read/plans";
import type { Tx } from "../read/types";
import { decimalIdOf, meterArg } from "./args";
import { billingCall, underInput } from "./billing-call";
import { toGlobalId } from "./ids";

// numeric(38, 18) comes back padded ("0.010000000000000000"); show what was set ("0.01").
const decimal = (v: string | null) => (v === null ? null : formatPrice(parsePrice(v)));

const priceNode = (p: PriceRow, tiers: TierRow[]) => ({
  meterId: p.meter_id,
  model: p.model,
  unitPrice: decimal(p.unit_price),
  includedUnits: p.included_units,
  packageSize: p.package_size,
  aggregation: p.aggregation,
  tiers: tiers.filter((t) => t.price_id === p.id).map((t) => ({ upTo: t.up_to, unitPrice: decimal(t.unit_price), flatFee: decimal(t.flat_fee) })),
});

const versionNode = (v: PlanVersionRow, prices: PriceRow[], tiers: TierRow[]) => ({
  id: toGlobalId("PlanVersion", v.id),
  plan: toGlobalId("Plan", v.plan_id),
  version: v.version,
  effectiveFrom: v.effective_from,
  currency: v.currency,
  currencyExponent: v.currency_exponent,
  minimumMinor: v.minimum_minor,
  createdAt: v.created_at,
  prices: prices.filter((p) => p.plan_version_id === v.id).map((p) => priceNode(p, tiers)),
  snapshotHash: toHexOrNull(v.snapshot_hash),
  snapshot: v.snapshot === null ? null : JSON.stringify(v.snapshot),
});

/** Plans with their versions and prices: four statements whatever the number of plans. */
async function plansWithVersions(c: Tx, tenantId: string, plans: PlanRow[]) {
  const versions = await listVersions(c, tenantId, plans.map((p) => p.id));
  const { prices, tiers } = await listPrices(c, tenantId, versions.map((v) => v.id));
  return plans.map((p) => ({
    id: toGlobalId("Plan", p.id),
    name: p.name,
    createdAt: p.created_at,
    versions: versions.filter((v) => v.plan_id === p.id).map((v) => versionNode(v, prices, tiers)),
  }));
}

async function versionWithPrices(c: Tx, tenantId: string, versionId: string) {
  const v = (await findVersion(c, tenantId, versionId))!;
  const { prices, tiers } = await listPrices(c, tenantId, [v.id]);
  return versionNode(v, prices, tiers);
}

function subscriptionNode(s: SubscriptionRow, ctx: RequestContext) {
  return {
    id: toGlobalId("PlanSubscription", s.id),
    startsAt: s.starts_at,
    endsAt: s.ends_at,
    plan: () =>
      ctx.db.run(ctx.principal, async (c, tenantId) => {
        const plan = tenantId === null ? null : await findPlan(c, tenantId, s.plan_id);
        return plan ? (await plansWithVersions(c, tenantId!, [plan]))[0]! : null;
      }),
  };
}

/**
 * The plan a Plan id names, by name: billing looks plans up by id or name, and a name is unique
 * per tenant, so the name cannot pick another plan. An id of another tenant is unknown here.
 */
async function planNameArg(c: Tx, tenantId: string, id: string, field: string): Promise<string> {
  const planId = decimalIdOf(id, "Plan");
  const plan = planId === null ? null : await findPlan(c, tenantId, planId);
  if (!plan) throw new BadInputError("unknown plan", { field });
  return plan.name;
}

/** An input object without its null and absent fields, so billing applies its defaults. */
function given<T extends Record<string, unknown>>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== null && v !== undefined)) as Partial<T>;
}

interface PriceTierArg {
  upTo?: string | null;
  unitPrice: string;
  flatFee?: string | null;
}

interface PriceArg {
  meter: string;
  model: string;
  unitPrice?: string | null;
  includedUnits?: string | null;
  packageSize?: string | null;
  tiers?: PriceTierArg[] | null;
}

interface CreatePlanVersionArg {
  plan: string;
  effectiveFrom: Date;
  currency: string;
  currencyExponent?: number | null;
  minimumMinor?: string | null;
  prices: PriceArg[];
}

export const planResolvers = {
  Query: {
    plans: (_: unknown, __: unknown, ctx: RequestContext) =>
      ctx.db.run(ctx.principal, async (c, tenantId) => (tenantId === null ? [] : plansWithVersions(c, tenantId, await listPlans(c, tenantId)))),
    subscriptions: (_: unknown, __: unknown, ctx: RequestContext) =>
      ctx.db.run(ctx.principal, async (c, tenantId) => (tenantId === null ? [] : (await listSubscriptions(c, tenantId)).map((s) => subscriptionNode(s, ctx)))),
  },
  Mutation: {
    createPlan: (_: unknown, { input }: { input: { name: string } }, ctx: RequestContext) =>
      billingCall(ctx, underInput, async (c, tenantId, at) => {
        const created = await createPlan(c, tenantId, { name: input.name }, at);
        return (await plansWithVersions(c, tenantId, [(await findPlan(c, tenantId, created.id))!]))[0];
      }),
    createPlanVersion: (_: unknown, { input }: { input: CreatePlanVersionArg }, ctx: RequestContext) =>
      billingCall(ctx, underInput, async (c, tenantId, at) => {
        const version = {
          ...given({ currencyExponent: input.currencyExponent, minimumMinor: input.minimumMinor }),
          plan: await planNameArg(c, tenantId, input.plan, "input.plan"),
          effectiveFrom: input.effectiveFrom,
          currency: input.currency,
          prices: input.prices.map((p, n) => ({
            ...given({ unitPrice: p.unitPrice, includedUnits: p.includedUnits, packageSize: p.packageSize }),
            meter: meterArg(p.meter, tenantId, `input.prices.${n}.meter`),
            model: p.model,
            ...(p.tiers ? { tiers: p.tiers.map((t) => ({ ...given({ upTo: t.upTo, flatFee: t.flatFee }), unitPrice: t.unitPrice })) } : {}),
          })),
        };
        const created = await createPlanVersion(c, tenantId, version, at);
        return versionWithPrices(c, tenantId, created.id);
      }),
    withdrawPlanVersion: (_: unknown, args: { id: string }, ctx: RequestContext) => {
      const versionId = decimalIdOf(args.id, "PlanVersion");
      if (versionId === null) throw new NotFoundError();
      return billingCall(
        ctx,
        () => "id",
        (c, tenantId, at) => withdrawPlanVersion(c, tenantId, { version: versionId }, at),
      );
    },
    subscribe: (_: unknown, { input }: { input: { plan: string; startsAt: Date } }, ctx: RequestContext) =>
      billingCall(ctx, underInput, async (c, tenantId, at) => {
        const plan = await planNameArg(c, tenantId, input.plan, "input.plan");
        const created = await subscribe(c, tenantId, { plan, startsAt: input.startsAt }, at);
        return subscriptionNode((await findSubscription(c, tenantId, created.id))!, ctx);
      }),
  },
};
