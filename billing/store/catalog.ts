/**
 * The tenant's billing configuration tables: meter_configs, rate_plans, rate_plan_versions,
 * plan_prices, price_tiers, subscriptions and quotas. Plan versions and their prices are immutable
 * once written (030's triggers); the service in billing/catalog/ decides what may change.
 */
import type { Aggregation } from "../../rating/aggregation";
import type { PriceSpec } from "../../rating/pricing";
import type { Queryable } from "./records";

export interface MeterRow {
  meter_id: number;
  name: string;
  aggregation: Aggregation | null;
  unit: string | null;
  display_name: string | null;
}

export async function findMeter(db: Queryable, tenantId: string, meter: string | number): Promise<MeterRow | null> {
  const { rows } = await db.query<MeterRow>(
    `SELECT m.meter_id, m.name, c.aggregation, c.unit, c.display_name
       FROM meters m LEFT JOIN meter_configs c ON c.tenant_id = m.tenant_id AND c.meter_id = m.meter_id
      WHERE m.tenant_id = $1 AND ${typeof meter === "number" ? "m.meter_id = $2" : "m.name = $2"}`,
    [tenantId, meter],
  );
  return rows[0] ?? null;
}

export async function upsertMeterConfig(db: Queryable, tenantId: string, meterId: number, c: { aggregation: Aggregation; unit: string; displayName: string }): Promise<void> {
  await db.query(
    `INSERT INTO meter_configs (tenant_id, meter_id, aggregation, unit, display_name) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (tenant_id, meter_id) DO UPDATE SET aggregation = EXCLUDED.aggregation, unit = EXCLUDED.unit,
       display_name = EXCLUDED.display_name, updated_at = now()`,
    [tenantId, meterId, c.aggregation, c.unit, c.displayName],
  );
}

export async function findPlan(db: Queryable, tenantId: string, plan: string): Promise<{ id: string; name: string } | null> {
  const byId = /^\d+$/.test(plan);
  const { rows } = await db.query<{ id: string; name: string }>(
    `SELECT id::text AS id, name FROM rate_plans WHERE tenant_id = $1 AND ${byId ? "(id::text = $2 OR name = $2)" : "name = $2"} ORDER BY (name = $2) DESC LIMIT 1`,
    [tenantId, plan],
  );
  return rows[0] ?? null;
}

export async function insertPlan(db: Queryable, tenantId: string, name: string): Promise<string | null> {
  const { rows } = await db.query<{ id: string }>(
    "INSERT INTO rate_plans (tenant_id, name) VALUES ($1, $2) ON CONFLICT (tenant_id, name) DO NOTHING RETURNING id::text AS id",
    [tenantId, name],
  );
  return rows[0]?.id ?? null;
}

export interface VersionRow {
  id: string;
  plan_id: string;
  version: number;
  effective_from: Date;
}

export async function versionsOf(db: Queryable, planId: string): Promise<VersionRow[]> {
  const { rows } = await db.query<VersionRow>(
    "SELECT id::text AS id, plan_id::text AS plan_id, version, effective_from FROM rate_plan_versions WHERE plan_id = $1 ORDER BY version",
    [planId],
  );
  return rows;
}

export async function findVersion(db: Queryable, tenantId: string, versionId: string): Promise<VersionRow | null> {
  const { rows } = await db.query<VersionRow>(
    "SELECT id::text AS id, plan_id::text AS plan_id, version, effective_from FROM rate_plan_versions WHERE id = $1 AND tenant_id = $2",
    [versionId, tenantId],
  );
  return rows[0] ?? null;
}

export async function insertVersion(
  db: Queryable,
  tenantId: string,
  v: { planId: string; version: number; effectiveFrom: Date; currency: string; currencyExponent: number; minimumMinor: string; createdBy: string },
  prices: ReadonlyArray<PriceSpec & { aggregation: Aggregation }>,
): Promise<string> {
  const { rows } = await db.query<{ id: string }>(
    `INSERT INTO rate_plan_versions (tenant_id, plan_id, version, effective_from, currency, currency_exponent, minimum_minor, created_by)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id::text AS id`,
    [tenantId, v.planId, v.version, v.effectiveFrom, v.currency, v.currencyExponent, v.minimumMinor, v.createdBy],
  );
  const versionId = rows[0]!.id;
  for (const p of prices) {
    const { rows: pr } = await db.query<{ id: string }>(
      `INSERT INTO plan_prices (tenant_id, plan_version_id, meter_id, model, unit_price, included_units, package_size, aggregation)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id::text AS id`,
      [tenantId, versionId, p.meterId, p.model, p.unitPrice, p.includedUnits, p.packageSize, p.aggregation],
    );
    for (const [i, t] of p.tiers.entries()) {
      await db.query("INSERT INTO price_tiers (tenant_id, price_id, tier_index, up_to, unit_price, flat_fee) VALUES ($1, $2, $3, $4, $5, $6)", [
        tenantId,
        pr[0]!.id,
        i,
        t.upTo,
        t.unitPrice,
        t.flatFee,
      ]);
    }
  }
  return versionId;
}

export async function versionInUse(db: Queryable, versionId: string): Promise<boolean> {
  const { rows } = await db.query(
    "SELECT 1 FROM invoices WHERE plan_version_id = $1 UNION ALL SELECT 1 FROM invoice_lines WHERE plan_version_id = $1 LIMIT 1",
    [versionId],
  );
  return rows.length > 0;
}

export async function deleteVersion(db: Queryable, versionId: string): Promise<void> {
  await db.query("DELETE FROM price_tiers WHERE price_id IN (SELECT id FROM plan_prices WHERE plan_version_id = $1)", [versionId]);
  await db.query("DELETE FROM plan_prices WHERE plan_version_id = $1", [versionId]);
  await db.query("DELETE FROM rate_plan_versions WHERE id = $1", [versionId]);
}

export interface SubscriptionRow {
  id: string;
  plan_id: string;
  starts_at: Date;
  ends_at: Date | null;
}

export async function subscriptionsOf(db: Queryable, tenantId: string): Promise<SubscriptionRow[]> {
  const { rows } = await db.query<SubscriptionRow>(
    "SELECT id::text AS id, plan_id::text AS plan_id, starts_at, ends_at FROM subscriptions WHERE tenant_id = $1 ORDER BY starts_at",
    [tenantId],
  );
  return rows;
}

export async function endSubscription(db: Queryable, subscriptionId: string, at: Date): Promise<void> {
  await db.query("UPDATE subscriptions SET ends_at = $2 WHERE id = $1", [subscriptionId, at]);
}

export async function insertSubscription(db: Queryable, tenantId: string, planId: string, startsAt: Date): Promise<string> {
  const { rows } = await db.query<{ id: string }>(
    "INSERT INTO subscriptions (tenant_id, plan_id, starts_at) VALUES ($1, $2, $3) RETURNING id::text AS id",
    [tenantId, planId, startsAt],
  );
  return rows[0]!.id;
}

export interface QuotaRow {
  meter_id: number;
  soft_limit: string | null;
  hard_limit: string | null;
  thresholds: number[];
}

export async function findQuota(db: Queryable, tenantId: string, meterId: number): Promise<QuotaRow | null> {
  const { rows } = await db.query<QuotaRow>(
    "SELECT meter_id, soft_limit::text AS soft_limit, hard_limit::text AS hard_limit, thresholds FROM quotas WHERE tenant_id = $1 AND meter_id = $2",
    [tenantId, meterId],
  );
  return rows[0] ?? null;
}

export async function upsertQuota(db: Queryable, tenantId: string, q: QuotaRow): Promise<void> {
  await db.query(
    `INSERT INTO quotas (tenant_id, meter_id, soft_limit, hard_limit, thresholds) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (tenant_id, meter_id) DO UPDATE SET soft_limit = EXCLUDED.soft_limit, hard_limit = EXCLUDED.hard_limit,
       thresholds = EXCLUDED.thresholds, updated_at = now()`,
    [tenantId, q.meter_id, q.soft_limit, q.hard_limit, q.thresholds],
  );
}

export async function deleteQuota(db: Queryable, tenantId: string, meterId: number): Promise<boolean> {
  const { rowCount } = await db.query("DELETE FROM quotas WHERE tenant_id = $1 AND meter_id = $2", [tenantId, meterId]);
  return (rowCount ?? 0) > 0;
}

export async function tenantTimeZone(db: Queryable, tenantId: string): Promise<string | null> {
  const { rows } = await db.query<{ time_zone: string }>("SELECT time_zone FROM tenants WHERE id = $1", [tenantId]);
  return rows[0]?.time_zone ?? null;
}

export async function setTenantTimeZone(db: Queryable, tenantId: string, timeZone: string): Promise<void> {
  await db.query("UPDATE tenants SET time_zone = $2 WHERE id = $1", [tenantId, timeZone]);
}

export async function tenantHasInvoices(db: Queryable, tenantId: string): Promise<boolean> {
  const { rows } = await db.query("SELECT 1 FROM invoices WHERE tenant_id = $1 LIMIT 1", [tenantId]);
  return rows.length > 0;
}
