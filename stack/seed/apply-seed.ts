import { readFile } from "node:fs/promises";
import path from "node:path";
import type pg from "pg";
import { z } from "zod";
import { systemActor } from "../../db/audit-log";
import { withTransaction } from "../../db/connection";
import * as catalog from "../../billing/catalog";
import { findPlan, subscriptionsOf, versionsOf } from "../../billing/store/catalog";
import { AGGREGATIONS } from "../../rating/aggregation";
import { periodContaining } from "../../rating/periods";
import { priceSpecSchema } from "../../rating/pricing";

/**
 * Billing configuration for the local stack (stack/seed/demo.json) and for tests. Tenants and
 * meters come from chain events through the indexer; the seed configures them through the same
 * catalog service a platform operator uses over GraphQL (validated, audited), by tenant slug and
 * meter name. Dates the file leaves out default to the first billing period the caller names.
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
            effectiveFrom: z.string().datetime({ offset: true }).optional(),
            currency: z.string().regex(/^[A-Z]{3}$/),
            currencyExponent: z.number().int().min(0).max(6).default(2),
            minimumMinor: z.string().regex(/^\d+$/).default("0"),
            prices: z.array(seedPriceSchema),
          }),
        ),
      }),
      subscription: z.object({ startsAt: z.string().datetime({ offset: true }).optional() }).default({}),
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
      const { rows } = await pool.query<{ name: string }>("SELECT m.name FROM tenants t JOIN meters m ON m.tenant_id = t.id WHERE t.slug = $1", [t.slug]);
      const have = new Set(rows.map((r) => r.name));
      if (rows.length === 0) missing.push(t.slug);
      for (const m of t.meters) if (rows.length > 0 && !have.has(m.name)) missing.push(`${t.slug}/${m.name}`);
    }
    if (missing.length === 0) return;
    if (Date.now() >= deadline) throw new SeedError(`tenants/meters not indexed yet: ${missing.join(", ")}`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

export interface ApplySeedOptions {
  /** The configuration is applied as of this instant (versions must take effect after it). Default: the wall clock. */
  now?: Date;
  /** Where dates the seed leaves out start: the first billing period after `now` in each tenant's zone by default. */
  firstPeriodStart?: (timeZone: string) => Date;
  waitMs?: number;
  pollMs?: number;
}

/**
 * Applies the seed idempotently: meter configuration and quota limits are set every time; a plan,
 * its versions and the subscription only when the plan does not exist yet (versions are immutable,
 * and invoices may already rest on them). Waits up to `waitMs` for the indexer's tenants and meters.
 */
export async function applySeed(db: { pool: pg.Pool }, seed: Seed, options: ApplySeedOptions = {}): Promise<void> {
  const now = options.now ?? new Date();
  const first = options.firstPeriodStart ?? ((tz: string) => periodContaining(periodContaining(now, tz).end, tz).start);
  const ctx = { actor: systemActor("meterline-seed"), now };
  await waitForChainRows(db.pool, seed, options.waitMs ?? 0, options.pollMs ?? 500);
  for (const t of seed.tenants) {
    await withTransaction(db.pool, async (c) => {
      const { rows: tr } = await c.query<{ id: string }>("SELECT id::text AS id FROM tenants WHERE slug = $1", [t.slug]);
      const tenantId = tr[0]?.id;
      if (!tenantId) throw new SeedError(`tenant ${t.slug} not found`);
      await catalog.setTimeZone(c, tenantId, { timeZone: t.timeZone }, ctx);
      for (const m of t.meters) await catalog.configureMeter(c, tenantId, { meter: m.name, aggregation: m.aggregation, unit: m.unit, displayName: m.displayName }, ctx);
      const start = first(t.timeZone).toISOString();
      if (!(await findPlan(c, tenantId, t.plan.name))) {
        await catalog.createPlan(c, tenantId, { name: t.plan.name }, ctx);
        for (const v of t.plan.versions) {
          await catalog.createPlanVersion(c, tenantId, { plan: t.plan.name, ...v, effectiveFrom: v.effectiveFrom ?? start }, ctx);
        }
      }
      const plan = (await findPlan(c, tenantId, t.plan.name))!;
      if ((await versionsOf(c, plan.id)).length > 0 && (await subscriptionsOf(c, tenantId)).length === 0) {
        await catalog.subscribe(c, tenantId, { plan: t.plan.name, startsAt: t.subscription.startsAt ?? start }, ctx);
      }
      for (const q of t.quotas) {
        await catalog.setQuotaLimits(c, tenantId, { meter: q.meter, softLimit: q.softLimit ?? null, hardLimit: q.hardLimit ?? null }, ctx);
        await catalog.setAlertThresholds(c, tenantId, { meter: q.meter, thresholds: q.thresholds }, ctx);
      }
    });
  }
}
