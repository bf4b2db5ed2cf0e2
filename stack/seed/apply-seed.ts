import { readFile } from "node:fs/promises";
import path from "node:path";
import type pg from "pg";
import { z } from "zod";
import { AGGREGATIONS } from "../../rating/aggregation";
import { withTransaction } from "../../db/connection";
import { priceSpecSchema, validatePriceSpec } from "../../rating/pricing";

/**
 * Billing configuration for the local stack (stack/seed/demo.json). Tenants and meters themselves
 * come from chain events through the indexer; the seed only attaches meter configuration, plans,
 * subscriptions and quotas to them, by tenant slug and meter name.
 */
const seedPriceSchema = priceSpecSchema.omit({ meterId: true }).extend({ meter: z.string() });

export const seedSchema = z.object({
  tenants: z.array(
    z.object({
      slug: z.string().min(1),
      timeZone: z.string().default("UTC"),
      meters: z.array(
        z.object({
          name: z.string(),
          aggregation: z.enum(AGGREGATIONS),
          unit: z.string().default("unit"),
          displayName: z.string(),
        }),
      ),
      plan: z.object({
        name: z.string(),
        versions: z.array(
          z.object({
            version: z.number().int().positive(),
            effectiveFrom: z.string().datetime({ offset: true }),
            currency: z.string().regex(/^[A-Z]{3}$/),
            currencyExponent: z.number().int().min(0).max(6).default(2),
            minimumMinor: z.string().regex(/^\d+$/).default("0"),
            prices: z.array(seedPriceSchema),
          }),
        ),
      }),
      subscription: z.object({ startsAt: z.string().datetime({ offset: true }) }),
      quotas: z
        .array(
          z.object({
            meter: z.string(),
            softLimit: z.string().regex(/^\d+$/).optional(),
            hardLimit: z.string().regex(/^\d+$/).optional(),
            thresholds: z.array(z.number().int().positive()).default([50, 80, 100]),
          }),
        )
        .default([]),
    }),
  ),
});
export type Seed = z.infer<typeof seedSchema>;

export class SeedError extends Error {
  override name = "SeedError";
}

export const DEMO_SEED_FILE = path.join(__dirname, "demo.json");

export async function loadSeedFile(file: string = DEMO_SEED_FILE): Promise<Seed> {
  const parsed = seedSchema.safeParse(JSON.parse(await readFile(file, "utf8")));
  if (!parsed.success) throw new SeedError(`${file}: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
  return parsed.data;
}

async function waitForChainRows(pool: pg.Pool, seed: Seed, timeoutMs: number, pollMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const missing: string[] = [];
    for (const t of seed.tenants) {
      const { rows } = await pool.query<{ name: string }>(
        "SELECT m.name FROM tenants t JOIN meters m ON m.tenant_id = t.id WHERE t.slug = $1",
        [t.slug],
      );
      const have = new Set(rows.map((r) => r.name));
      for (const m of t.meters) if (!have.has(m.name)) missing.push(`${t.slug}/${m.name}`);
    }
    if (missing.length === 0) return;
    if (Date.now() >= deadline) throw new SeedError(`tenants/meters not indexed yet: ${missing.join(", ")}`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

/**
 * Applies the seed idempotently: meter configs and quotas are upserted, a plan version is created
 * once (existing versions are never changed: invoices may already reference them), a subscription
 * once per (plan, start). Waits up to `waitMs` for the indexer to have created the tenants and meters.
 */
export async function applySeed(db: { pool: pg.Pool }, seed: Seed, options: { waitMs?: number; pollMs?: number } = {}): Promise<void> {
  for (const t of seed.tenants) {
    for (const v of t.plan.versions) {
      for (const p of v.prices) validatePriceSpec({ ...p, meterId: 1 });
    }
  }
  await waitForChainRows(db.pool, seed, options.waitMs ?? 0, options.pollMs ?? 500);
  for (const t of seed.tenants) {
    await withTransaction(db.pool, async (c) => {
      const { rows: tr } = await c.query<{ id: string }>("SELECT id FROM tenants WHERE slug = $1 FOR UPDATE", [t.slug]);
      const tenantId = tr[0]?.id;
      if (!tenantId) throw new SeedError(`tenant ${t.slug} not found`);
      await c.query("UPDATE tenants SET time_zone = $2 WHERE id = $1 AND time_zone IS DISTINCT FROM $2", [tenantId, t.timeZone]);
      const { rows: meters } = await c.query<{ meter_id: number; name: string }>("SELECT meter_id, name FROM meters WHERE tenant_id = $1", [tenantId]);
      const meterId = (name: string): number => {
        const m = meters.find((x) => x.name === name);
        if (!m) throw new SeedError(`meter ${t.slug}/${name} not found`);
        return m.meter_id;
      };
      for (const m of t.meters) {
        await c.query(
          `INSERT INTO meter_configs (tenant_id, meter_id, aggregation, unit, display_name) VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (tenant_id, meter_id) DO UPDATE SET aggregation = EXCLUDED.aggregation, unit = EXCLUDED.unit,
             display_name = EXCLUDED.display_name, updated_at = now()`,
          [tenantId, meterId(m.name), m.aggregation, m.unit, m.displayName],
        );
      }
      await c.query("INSERT INTO rate_plans (tenant_id, name) VALUES ($1, $2) ON CONFLICT (tenant_id, name) DO NOTHING", [tenantId, t.plan.name]);
      const { rows: pr } = await c.query<{ id: string }>("SELECT id FROM rate_plans WHERE tenant_id = $1 AND name = $2", [tenantId, t.plan.name]);
      const planId = pr[0]?.id as string;
      for (const v of t.plan.versions) {
        const { rows: vr } = await c.query<{ id: string }>(
          `INSERT INTO rate_plan_versions (tenant_id, plan_id, version, effective_from, currency, currency_exponent, minimum_minor)
           VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (plan_id, version) DO NOTHING RETURNING id`,
          [tenantId, planId, v.version, v.effectiveFrom, v.currency, v.currencyExponent, v.minimumMinor],
        );
        const versionId = vr[0]?.id;
        if (!versionId) continue; // already seeded: versions are immutable
        for (const p of v.prices) {
          const { rows: pp } = await c.query<{ id: string }>(
            `INSERT INTO plan_prices (tenant_id, plan_version_id, meter_id, model, unit_price, included_units, package_size)
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
            [tenantId, versionId, meterId(p.meter), p.model, p.unitPrice, p.includedUnits, p.packageSize],
          );
          const priceId = pp[0]?.id;
          for (const [i, tier] of p.tiers.entries()) {
            await c.query(
              "INSERT INTO price_tiers (tenant_id, price_id, tier_index, up_to, unit_price, flat_fee) VALUES ($1, $2, $3, $4, $5, $6)",
              [tenantId, priceId, i, tier.upTo, tier.unitPrice, tier.flatFee],
            );
          }
        }
      }
      const { rows: sub } = await c.query("SELECT 1 FROM subscriptions WHERE tenant_id = $1 AND plan_id = $2 AND starts_at = $3", [
        tenantId,
        planId,
        t.subscription.startsAt,
      ]);
      if (sub.length === 0) {
        await c.query("INSERT INTO subscriptions (tenant_id, plan_id, starts_at) VALUES ($1, $2, $3)", [tenantId, planId, t.subscription.startsAt]);
      }
      for (const q of t.quotas) {
        await c.query(
          `INSERT INTO quotas (tenant_id, meter_id, soft_limit, hard_limit, thresholds) VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (tenant_id, meter_id) DO UPDATE SET soft_limit = EXCLUDED.soft_limit, hard_limit = EXCLUDED.hard_limit,
             thresholds = EXCLUDED.thresholds, updated_at = now()`,
          [tenantId, meterId(q.meter), q.softLimit ?? null, q.hardLimit ?? null, q.thresholds],
        );
      }
    });
  }
}
