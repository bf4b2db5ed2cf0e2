import type { Tx } from "./types";

// Plans, versions, prices and subscriptions are written by billing's catalog service
// (billing/catalog/); the API reads them here.

export interface PlanRow {
  id: string;
  name: string;
  created_at: Date;
}

export async function listPlans(c: Tx, tenantId: string): Promise<PlanRow[]> {
  const { rows } = await c.query<PlanRow>("SELECT id::text, name, created_at FROM rate_plans WHERE tenant_id = $1 ORDER BY id", [tenantId]);
  return rows;
}

export async function findPlan(c: Tx, tenantId: string, planId: string): Promise<PlanRow | null> {
  const { rows } = await c.query<PlanRow>("SELECT id::text, name, created_at FROM rate_plans WHERE tenant_id = $1 AND id = $2", [tenantId, planId]);
  return rows[0] ?? null;
}

export interface PlanVersionRow {
  id: string;
  plan_id: string;
  version: number;
  effective_from: Date;
  currency: string;
  currency_exponent: number;
  minimum_minor: string;
  created_at: Date;
  snapshot: unknown;
  snapshot_hash: Buffer | null;
}

const VERSION = `SELECT id::text, plan_id::text, version, effective_from, currency, currency_exponent, minimum_minor::text,
    created_at, snapshot, snapshot_hash
  FROM rate_plan_versions WHERE tenant_id = $1`;

/** Versions of the given plans (all the tenant's when `planIds` is null), by plan and version. */
export async function listVersions(c: Tx, tenantId: string, planIds: readonly string[] | null): Promise<PlanVersionRow[]> {
  const { rows } = await c.query<PlanVersionRow>(`${VERSION} AND ($2::bigint[] IS NULL OR plan_id = ANY($2)) ORDER BY plan_id, version`, [tenantId, planIds]);
  return rows;
}

export async function findVersion(c: Tx, tenantId: string, versionId: string): Promise<PlanVersionRow | null> {
  const { rows } = await c.query<PlanVersionRow>(`${VERSION} AND id = $2`, [tenantId, versionId]);
  return rows[0] ?? null;
}

export interface PriceRow {
  id: string;
  plan_version_id: string;
  meter_id: number;
  model: string;
  unit_price: string | null;
  included_units: string;
  package_size: string | null;
  aggregation: string | null;
}

export interface TierRow {
  price_id: string;
  up_to: string | null;
  unit_price: string;
  flat_fee: string;
}

/** Prices of the given versions, each with its tiers in order. */
export async function listPrices(c: Tx, tenantId: string, versionIds: readonly string[]): Promise<{ prices: PriceRow[]; tiers: TierRow[] }> {
  const { rows: prices } = await c.query<PriceRow>(
    `SELECT id::text, plan_version_id::text, meter_id, model, unit_price::text, included_units::text, package_size::text, aggregation
       FROM plan_prices WHERE tenant_id = $1 AND plan_version_id = ANY($2::bigint[]) ORDER BY plan_version_id, meter_id`,
    [tenantId, versionIds],
  );
  const { rows: tiers } = await c.query<TierRow>(
    `SELECT price_id::text, up_to::text, unit_price::text, flat_fee::text FROM price_tiers
      WHERE tenant_id = $1 AND price_id = ANY($2::bigint[]) ORDER BY price_id, tier_index`,
    [tenantId, prices.map((p) => p.id)],
  );
  return { prices, tiers };
}

export interface SubscriptionRow {
  id: string;
  plan_id: string;
  starts_at: Date;
  ends_at: Date | null;
  created_at: Date;
}

const SUBSCRIPTION = "SELECT id::text, plan_id::text, starts_at, ends_at, created_at FROM subscriptions WHERE tenant_id = $1";

export async function listSubscriptions(c: Tx, tenantId: string): Promise<SubscriptionRow[]> {
  return (await c.query<SubscriptionRow>(`${SUBSCRIPTION} ORDER BY starts_at`, [tenantId])).rows;
}

export async function findSubscription(c: Tx, tenantId: string, subscriptionId: string): Promise<SubscriptionRow | null> {
  const { rows } = await c.query<SubscriptionRow>(`${SUBSCRIPTION} AND id = $2`, [tenantId, subscriptionId]);
  return rows[0] ?? null;
}
