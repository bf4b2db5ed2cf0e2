/**
 * The platform's billing configuration of a tenant, as one service: meters (unit, aggregation),
 * plans with effective-dated versions (immutable once written; a version may only take effect in
 * the future and may be withdrawn until then), prices in every model, subscriptions (changing at
 * period boundaries), quota limits, and the tenant's own alert thresholds. Every function validates
 * its whole input before writing, writes an audit row with before and after in the caller's
 * transaction, and takes the clock from the caller: the API passes the wall clock, the local
 * stack's seed the chain's.
 */
import { z } from "zod";
import type { AuditActor } from "../../db/audit-log";
import { recordAudit } from "../../db/audit-log";
import { AGGREGATIONS, DEFAULT_AGGREGATION } from "../../rating/aggregation";
import { DecimalError } from "../../rating/decimal";
import { periodContaining, TimeZoneError } from "../../rating/periods";
import { PricingError, validatePriceSpec, type PriceSpec } from "../../rating/pricing";
import { BillingConflictError, BillingInputError, BillingNotFoundError } from "../errors";
import * as store from "../store/catalog";
import type { Tx } from "../store/invoice-store";
import { loadPlanSnapshot } from "../store/plans";
import { recordPlanAssignments } from "../store/documents";
import { count38, instant, parseInput, positiveCount38, price38, shortText } from "./input";

export interface CatalogContext {
  actor: AuditActor;
  now: Date;
}

const meterRef = z.union([z.string().trim().min(1), z.number().int().positive()]);

async function meterOf(client: Tx, tenantId: string, meter: string | number, field = "meter"): Promise<store.MeterRow> {
  const m = await store.findMeter(client, tenantId, typeof meter === "string" && /^\d+$/.test(meter) ? Number(meter) : meter);
  if (!m) throw new BillingInputError(field, `unknown meter "${meter}"`);
  return m;
}

// ---------------------------------------------------------------- meters

const configureMeterInput = z
  .object({ meter: meterRef, aggregation: z.enum(AGGREGATIONS), unit: shortText(40), displayName: shortText(100) })
  .strict();

/** Sets how a meter aggregates and is labelled. Plan versions keep the aggregation they were created with. */
export async function configureMeter(client: Tx, tenantId: string, input: unknown, ctx: CatalogContext) {
  const i = parseInput(configureMeterInput, input);
  const m = await meterOf(client, tenantId, i.meter);
  await store.upsertMeterConfig(client, tenantId, m.meter_id, i);
  const after = { aggregation: i.aggregation, unit: i.unit, displayName: i.displayName };
  await recordAudit(client, tenantId, ctx.actor, {
    action: "meter.configure",
    entityType: "meter",
    entityId: String(m.meter_id),
    before: m.aggregation === null ? null : { aggregation: m.aggregation, unit: m.unit, displayName: m.display_name },
    after,
  });
  return { meterId: m.meter_id, name: m.name, ...after };
}

// ---------------------------------------------------------------- plans

const createPlanInput = z.object({ name: shortText(100) }).strict();

export async function createPlan(client: Tx, tenantId: string, input: unknown, ctx: CatalogContext) {
  const i = parseInput(createPlanInput, input);
  const id = await store.insertPlan(client, tenantId, i.name);
  if (id === null) throw new BillingInputError("name", `a plan named "${i.name}" already exists`);
  await recordAudit(client, tenantId, ctx.actor, { action: "plan.create", entityType: "plan", entityId: id, before: null, after: { name: i.name } });
  return { id, name: i.name };
}

const tierInput = z.object({ upTo: positiveCount38.nullable().default(null), unitPrice: price38, flatFee: price38.default("0") }).strict();
const priceInput = z
  .object({
    meter: meterRef,
    model: z.enum(["per_unit", "graduated", "volume", "package"], { errorMap: () => ({ message: "unsupported model; use per_unit, graduated, volume or package" }) }),
    unitPrice: price38.nullable().default(null),
    includedUnits: count38.default("0"),
    packageSize: positiveCount38.nullable().default(null),
    tiers: z.array(tierInput).max(100).default([]),
  })
  .strict();
const createVersionInput = z
  .object({
    plan: z.string().trim().min(1),
    effectiveFrom: instant,
    currency: z.string().regex(/^[A-Z]{3}$/, "must be an ISO 4217 code such as USD"),
    currencyExponent: z.number().int().min(0, "must be 0 to 6").max(6, "must be 0 to 6").default(2),
    minimumMinor: count38.default("0"),
    prices: z.array(priceInput).max(200),
  })
  .strict();

/**
 * Adds a plan version taking effect at `effectiveFrom`, which must lie in the future: a version in
 * force is never created, changed or removed after the fact. Its snapshot (prices, tiers, each
 * meter's aggregation and unit now) is frozen with it; its hash is what a tenant verifies.
 */
export async function createPlanVersion(client: Tx, tenantId: string, input: unknown, ctx: CatalogContext) {
  const i = parseInput(createVersionInput, input);
  const plan = await store.findPlan(client, tenantId, i.plan);
  if (!plan) throw new BillingInputError("plan", `unknown plan "${i.plan}"`);
  if (i.effectiveFrom.getTime() <= ctx.now.getTime()) throw new BillingInputError("effectiveFrom", `${i.effectiveFrom.toISOString()} is not in the future; versions take effect later, never retroactively`);
  const existing = await store.versionsOf(client, plan.id);
  const clash = existing.find((v) => v.effective_from.getTime() === i.effectiveFrom.getTime());
  if (clash) throw new BillingInputError("effectiveFrom", `version ${clash.version} of plan "${plan.name}" already takes effect at ${i.effectiveFrom.toISOString()}`);
  const seen = new Set<number>();
  const prices: Array<PriceSpec & { aggregation: (typeof AGGREGATIONS)[number] }> = [];
  for (const [n, p] of i.prices.entries()) {
    const m = await meterOf(client, tenantId, p.meter, `prices.${n}.meter`);
    if (seen.has(m.meter_id)) throw new BillingInputError(`prices.${n}.meter`, `meter "${m.name}" is priced twice`);
    seen.add(m.meter_id);
    const spec: PriceSpec = { meterId: m.meter_id, model: p.model, unitPrice: p.unitPrice, includedUnits: p.includedUnits, packageSize: p.packageSize, tiers: p.tiers };
    try {
      validatePriceSpec(spec);
    } catch (err) {
      if (err instanceof PricingError || err instanceof DecimalError) throw new BillingInputError(`prices.${n}`, err.message.replace(/^meter \d+: /, ""), { cause: err });
      throw err;
    }
    prices.push({ ...spec, aggregation: m.aggregation ?? DEFAULT_AGGREGATION });
  }
  const version = existing.reduce((max, v) => Math.max(max, v.version), 0) + 1;
  const versionId = await store.insertVersion(
    client,
    tenantId,
    { planId: plan.id, version, effectiveFrom: i.effectiveFrom, currency: i.currency, currencyExponent: i.currencyExponent, minimumMinor: i.minimumMinor, createdBy: ctx.actor.subject },
    prices,
  );
  const snapshot = await loadPlanSnapshot(client, tenantId, versionId);
  await recordPlanAssignments(client, tenantId);
  await recordAudit(client, tenantId, ctx.actor, { action: "plan_version.create", entityType: "plan_version", entityId: versionId, before: null, after: snapshot });
  return { id: versionId, planId: plan.id, version, effectiveFrom: i.effectiveFrom, snapshot };
}

/** Withdraws a version that is not in force yet and priced nothing. */
export async function withdrawPlanVersion(client: Tx, tenantId: string, input: unknown, ctx: CatalogContext) {
  const { version: versionId } = parseInput(z.object({ version: z.string().regex(/^\d+$/, "must be a plan version id") }).strict(), input);
  const v = await store.findVersion(client, tenantId, versionId);
  if (!v) throw new BillingNotFoundError(`plan version ${versionId} not found`);
  if (v.effective_from.getTime() <= ctx.now.getTime()) throw new BillingConflictError(`plan version ${v.version} is in force since ${v.effective_from.toISOString()} and cannot be withdrawn`);
  if (await store.versionInUse(client, versionId)) throw new BillingConflictError(`plan version ${v.version} priced an invoice and cannot be withdrawn`);
  const before = await loadPlanSnapshot(client, tenantId, versionId);
  await store.deleteVersion(client, versionId);
  await recordAudit(client, tenantId, ctx.actor, { action: "plan_version.withdraw", entityType: "plan_version", entityId: versionId, before, after: null });
  return true;
}

// ---------------------------------------------------------------- subscriptions

const subscribeInput = z.object({ plan: z.string().trim().min(1), startsAt: instant }).strict();

/**
 * Subscribes the tenant to a plan from `startsAt`, a billing period boundary in the tenant's time
 * zone: the start of the current period for a tenant's first subscription, otherwise a future one.
 * The subscription in force ends there; nothing already billed moves.
 */
export async function subscribe(client: Tx, tenantId: string, input: unknown, ctx: CatalogContext) {
  const i = parseInput(subscribeInput, input);
  const plan = await store.findPlan(client, tenantId, i.plan);
  if (!plan) throw new BillingInputError("plan", `unknown plan "${i.plan}"`);
  const timeZone = await store.tenantTimeZone(client, tenantId);
  if (timeZone === null) throw new BillingNotFoundError(`tenant ${tenantId} not found`);
  if (periodContaining(i.startsAt, timeZone).start.getTime() !== i.startsAt.getTime()) {
    throw new BillingInputError("startsAt", `${i.startsAt.toISOString()} is not the start of a billing period in ${timeZone}`);
  }
  const existing = await store.subscriptionsOf(client, tenantId);
  const current = periodContaining(ctx.now, timeZone).start;
  if (existing.length === 0 ? i.startsAt < current : i.startsAt <= ctx.now) {
    throw new BillingInputError("startsAt", existing.length === 0 ? "must be the start of the current billing period or later" : "changes take effect at a future period boundary");
  }
  const last = existing[existing.length - 1];
  if (last && last.starts_at >= i.startsAt) throw new BillingInputError("startsAt", `must be after the latest subscription's start ${last.starts_at.toISOString()}`);
  const versions = await store.versionsOf(client, plan.id);
  if (!versions.some((v) => v.effective_from <= i.startsAt)) throw new BillingInputError("plan", `plan "${plan.name}" has no version in force at ${i.startsAt.toISOString()}`);
  if (last && (last.ends_at === null || last.ends_at > i.startsAt)) await store.endSubscription(client, last.id, i.startsAt);
  const id = await store.insertSubscription(client, tenantId, plan.id, i.startsAt);
  await recordPlanAssignments(client, tenantId);
  await recordAudit(client, tenantId, ctx.actor, {
    action: "subscription.create",
    entityType: "subscription",
    entityId: id,
    before: last ? { planId: last.plan_id, startsAt: last.starts_at.toISOString(), endsAt: last.ends_at?.toISOString() ?? null } : null,
    after: { planId: plan.id, startsAt: i.startsAt.toISOString() },
  });
  return { id, planId: plan.id, startsAt: i.startsAt };
}

// ---------------------------------------------------------------- quotas

const limitsInput = z
  .object({ meter: meterRef, softLimit: positiveCount38.nullable().default(null), hardLimit: positiveCount38.nullable().default(null) })
  .strict()
  .refine((q) => q.softLimit !== null || q.hardLimit !== null, { message: "set softLimit, hardLimit or both", path: ["hardLimit"] })
  .refine((q) => q.softLimit === null || q.hardLimit === null || BigInt(q.softLimit) <= BigInt(q.hardLimit), { message: "must not be below softLimit", path: ["hardLimit"] });

const DEFAULT_THRESHOLDS = [50, 80, 100];

/** Sets a meter's quota limits (platform). The tenant's alert thresholds stay as they are. */
export async function setQuotaLimits(client: Tx, tenantId: string, input: unknown, ctx: CatalogContext) {
  const i = parseInput(limitsInput, input);
  const m = await meterOf(client, tenantId, i.meter);
  const before = await store.findQuota(client, tenantId, m.meter_id);
  const after: store.QuotaRow = { meter_id: m.meter_id, soft_limit: i.softLimit, hard_limit: i.hardLimit, thresholds: before?.thresholds ?? DEFAULT_THRESHOLDS };
  await store.upsertQuota(client, tenantId, after);
  await recordAudit(client, tenantId, ctx.actor, { action: "quota.set_limits", entityType: "quota", entityId: String(m.meter_id), before, after });
  return after;
}

export async function removeQuota(client: Tx, tenantId: string, input: unknown, ctx: CatalogContext) {
  const i = parseInput(z.object({ meter: meterRef }).strict(), input);
  const m = await meterOf(client, tenantId, i.meter);
  const before = await store.findQuota(client, tenantId, m.meter_id);
  if (!before) return false;
  await store.deleteQuota(client, tenantId, m.meter_id);
  await recordAudit(client, tenantId, ctx.actor, { action: "quota.remove", entityType: "quota", entityId: String(m.meter_id), before, after: null });
  return true;
}

const thresholdsInput = z
  .object({
    meter: meterRef,
    thresholds: z
      .array(z.number().int().min(1, "thresholds are percentages from 1 to 1000").max(1000, "thresholds are percentages from 1 to 1000"))
      .min(1, "name at least one threshold")
      .max(10, "at most 10 thresholds"),
  })
  .strict();

/** The tenant's own alert thresholds (percentages of the limit) on a quota the platform set. */
export async function setAlertThresholds(client: Tx, tenantId: string, input: unknown, ctx: CatalogContext) {
  const i = parseInput(thresholdsInput, input);
  const m = await meterOf(client, tenantId, i.meter);
  const before = await store.findQuota(client, tenantId, m.meter_id);
  if (!before) throw new BillingInputError("meter", `meter "${m.name}" has no quota; the platform sets limits first`);
  const after = { ...before, thresholds: [...new Set(i.thresholds)].sort((a, b) => a - b) };
  await store.upsertQuota(client, tenantId, after);
  await recordAudit(client, tenantId, ctx.actor, { action: "quota.set_thresholds", entityType: "quota", entityId: String(m.meter_id), before, after });
  return after;
}

// ---------------------------------------------------------------- tenant

/** The tenant's billing time zone; fixed once it has an invoice (periods would move under it). */
export async function setTimeZone(client: Tx, tenantId: string, input: unknown, ctx: CatalogContext) {
  const i = parseInput(z.object({ timeZone: z.string().trim().min(1) }).strict(), input);
  try {
    periodContaining(ctx.now, i.timeZone);
  } catch (err) {
    if (err instanceof TimeZoneError) throw new BillingInputError("timeZone", `unknown IANA time zone "${i.timeZone}"`, { cause: err });
    throw err;
  }
  const before = await store.tenantTimeZone(client, tenantId);
  if (before === null) throw new BillingNotFoundError(`tenant ${tenantId} not found`);
  if (before === i.timeZone) return { timeZone: before };
  if (await store.tenantHasInvoices(client, tenantId)) throw new BillingConflictError("the tenant has invoices; its billing time zone can no longer change");
  await store.setTenantTimeZone(client, tenantId, i.timeZone);
  await recordAudit(client, tenantId, ctx.actor, { action: "tenant.set_time_zone", entityType: "tenant", entityId: tenantId, before: { timeZone: before }, after: { timeZone: i.timeZone } });
  return { timeZone: i.timeZone };
}
