import { BillingError } from "../errors";
import { DEFAULT_AGGREGATION, type Aggregation } from "../../rating/aggregation";
import type { PriceSpec } from "../../rating/pricing";
import { fromHex } from "../../chain/hex";
import { documentHash } from "../../rating/document-hash";
import { planSnapshotSchema, type PlanSnapshot } from "../../rating/snapshot";

import type { Queryable } from "./records";

/** Strips PostgreSQL's numeric padding ("0.010000000000000000" -> "0.01") so snapshots read well. */
function trimDecimal(v: string): string {
  return v.includes(".") ? v.replace(/0+$/, "").replace(/\.$/, "") : v;
}

/**
 * The frozen snapshot of a plan version. Versions created before snapshots were frozen (migration
 * 030) get theirs built from the tables and frozen on first use; every later read returns it.
 */
export async function loadPlanSnapshot(db: Queryable, tenantId: string, planVersionId: string): Promise<PlanSnapshot> {
  const { rows } = await db.query<{ snapshot: unknown }>("SELECT snapshot FROM rate_plan_versions WHERE id = $1 AND tenant_id = $2", [planVersionId, tenantId]);
  if (rows[0]?.snapshot) return planSnapshotSchema.parse(rows[0].snapshot);
  const snapshot = await snapshotFromTables(db, tenantId, planVersionId);
  await db.query("UPDATE rate_plan_versions SET snapshot = $2, snapshot_hash = $3 WHERE id = $1 AND snapshot IS NULL", [
    planVersionId,
    JSON.stringify(snapshot),
    fromHex(documentHash(snapshot)),
  ]);
  return snapshot;
}

/** Builds a version's snapshot from its price rows; meters take their aggregation from the price, else the meter's configuration. */
export async function snapshotFromTables(db: Queryable, tenantId: string, planVersionId: string): Promise<PlanSnapshot> {
  const { rows: versions } = await db.query<{
    plan_id: string;
    name: string;
    id: string;
    version: number;
    effective_from: Date;
    currency: string;
    currency_exponent: number;
    minimum_minor: string;
  }>(
    `SELECT p.id AS plan_id, p.name, v.id, v.version, v.effective_from, v.currency, v.currency_exponent, v.minimum_minor
       FROM rate_plan_versions v JOIN rate_plans p ON p.id = v.plan_id
      WHERE v.id = $1 AND v.tenant_id = $2`,
    [planVersionId, tenantId],
  );
  const v = versions[0];
  if (!v) throw new BillingError(`plan version ${planVersionId} of tenant ${tenantId} not found`);
  const { rows: prices } = await db.query<{
    id: string;
    meter_id: number;
    model: PriceSpec["model"];
    unit_price: string | null;
    included_units: string;
    package_size: string | null;
  }>(
    `SELECT id, meter_id, model, unit_price, included_units, package_size
       FROM plan_prices WHERE plan_version_id = $1 ORDER BY meter_id`,
    [planVersionId],
  );
  const { rows: tiers } = await db.query<{ price_id: string; up_to: string | null; unit_price: string; flat_fee: string }>(
    `SELECT t.price_id, t.up_to, t.unit_price, t.flat_fee
       FROM price_tiers t JOIN plan_prices p ON p.id = t.price_id
      WHERE p.plan_version_id = $1 ORDER BY t.price_id, t.tier_index`,
    [planVersionId],
  );
  const { rows: meters } = await db.query<{ meter_id: number; name: string; aggregation: string | null; unit: string | null; display_name: string | null }>(
    `SELECT m.meter_id, m.name, coalesce(p.aggregation, c.aggregation) AS aggregation, c.unit, c.display_name
       FROM meters m
       LEFT JOIN meter_configs c ON c.tenant_id = m.tenant_id AND c.meter_id = m.meter_id
       LEFT JOIN plan_prices p ON p.plan_version_id = $2 AND p.meter_id = m.meter_id
      WHERE m.tenant_id = $1 ORDER BY m.meter_id`,
    [tenantId, planVersionId],
  );
  return {
    planId: v.plan_id,
    planName: v.name,
    versionId: v.id,
    version: v.version,
    effectiveFrom: v.effective_from.toISOString(),
    currency: v.currency,
    currencyExponent: v.currency_exponent,
    minimumMinor: v.minimum_minor,
    meters: meters.map((m) => ({
      meterId: m.meter_id,
      name: m.name,
      aggregation: (m.aggregation as Aggregation | null) ?? DEFAULT_AGGREGATION,
      unit: m.unit ?? "unit",
      displayName: m.display_name ?? m.name,
    })),
    prices: prices.map((p) => ({
      meterId: p.meter_id,
      model: p.model,
      unitPrice: p.unit_price === null ? null : trimDecimal(p.unit_price),
      includedUnits: p.included_units,
      packageSize: p.package_size,
      tiers: tiers
        .filter((t) => t.price_id === p.id)
        .map((t) => ({ upTo: t.up_to, unitPrice: trimDecimal(t.unit_price), flatFee: trimDecimal(t.flat_fee) })),
    })),
  };
}

/** The plan version in force for a period starting at `periodStart`, via the tenant's subscription. */
export async function planVersionFor(
  db: Queryable,
  tenantId: string,
  period: { start: Date; end: Date },
): Promise<string | null> {
  const { rows } = await db.query<{ id: string }>(
    `SELECT v.id
       FROM subscriptions s
       JOIN rate_plan_versions v ON v.plan_id = s.plan_id
      WHERE s.tenant_id = $1 AND s.starts_at < $3 AND (s.ends_at IS NULL OR s.ends_at > $2)
      ORDER BY s.starts_at DESC, (v.effective_from <= $2) DESC,
               CASE WHEN v.effective_from <= $2 THEN v.effective_from END DESC NULLS LAST, v.effective_from
      LIMIT 1`,
    [tenantId, period.start, period.end],
  );
  return rows[0]?.id ?? null;
}
