import { expect } from "chai";
import * as catalog from "../../billing/catalog";
import { BillingConflictError, BillingInputError } from "../../billing/errors";
import { withTransaction } from "../../db/connection";
import { systemActor } from "../../db/audit-log";
import { createTestDatabase, openAsRole, type TestDatabase } from "../helpers/database";
import type { Database } from "../../db/connection";
import { addContract, addMeter, addTenant } from "./helpers/chain-rows";

const NOW = new Date("2026-03-10T12:00:00Z");
const ctx = { actor: { subject: "ops@platform", platform: true, requestId: "req-1" }, now: NOW };

/** What the configuration tables hold, to prove a refused request wrote nothing. */
async function snapshot(db: TestDatabase) {
  const tables = ["meter_configs", "rate_plans", "rate_plan_versions", "plan_prices", "price_tiers", "subscriptions", "quotas", "audit_log"];
  const out: Record<string, number> = {};
  for (const t of tables) out[t] = (await db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${t}`)).rows[0]!.n;
  return out;
}

describe("billing catalog: platform-owned configuration", function () {
  let db: TestDatabase;
  /** The billing service under test runs as its own database role (meterline_billing). */
  let billing: Database;
  let tenantId: string;
  const run = <T>(fn: (c: Parameters<Parameters<typeof withTransaction>[1]>[0]) => Promise<T>) => withTransaction(billing.pool, fn);

  before(async function () {
    db = await createTestDatabase();
    billing = await openAsRole(db, "meterline_billing");
    const contractId = await addContract(db.pool);
    tenantId = await addTenant(db.pool, contractId, "acme", 1, "Europe/Berlin");
    await addMeter(db.pool, tenantId, 1, "calls");
    await addMeter(db.pool, tenantId, 2, "storage");
    await run((c) => catalog.configureMeter(c, tenantId, { meter: "calls", aggregation: "SUM", unit: "call", displayName: "Calls" }, ctx));
    await run((c) => catalog.createPlan(c, tenantId, { name: "growth" }, ctx));
  });
  after(async function () {
    await db?.drop();
  });

  const version = (over: Record<string, unknown> = {}) => ({
    plan: "growth",
    effectiveFrom: "2026-04-01T00:00:00+02:00",
    currency: "USD",
    prices: [{ meter: "calls", model: "graduated", includedUnits: "100", tiers: [{ upTo: "1000", unitPrice: "0.01" }, { upTo: null, unitPrice: "0.005" }] }],
    ...over,
  });

  it("refuses bad input with BAD_USER_INPUT naming the field, and writes nothing", async function () {
    const before = await snapshot(db);
    const cases: Array<[string, () => Promise<unknown>, string, RegExp]> = [
      ["unknown meter", () => run((c) => catalog.createPlanVersion(c, tenantId, version({ prices: [{ meter: "nope", model: "per_unit", unitPrice: "1" }] }), ctx)), "prices.0.meter", /unknown meter/],
      ["unsupported model", () => run((c) => catalog.createPlanVersion(c, tenantId, version({ prices: [{ meter: "calls", model: "tiered-ish", unitPrice: "1" }] }), ctx)), "prices.0.model", /unsupported model/],
      [
        "a number past the column's precision",
        () => run((c) => catalog.createPlanVersion(c, tenantId, version({ prices: [{ meter: "calls", model: "per_unit", unitPrice: "1", includedUnits: "1".repeat(39) }] }), ctx)),
        "prices.0.includedUnits",
        /at most 38 digits/,
      ],
      ["a price with 19 decimals", () => run((c) => catalog.createPlanVersion(c, tenantId, version({ prices: [{ meter: "calls", model: "per_unit", unitPrice: "0.0000000000000000001" }] }), ctx)), "prices.0.unitPrice", /18 digits after/],
      ["a version effective in the past", () => run((c) => catalog.createPlanVersion(c, tenantId, version({ effectiveFrom: "2026-03-01T00:00:00+01:00" }), ctx)), "effectiveFrom", /not in the future/],
      ["tiers out of order", () => run((c) => catalog.createPlanVersion(c, tenantId, version({ prices: [{ meter: "calls", model: "volume", tiers: [{ upTo: "10", unitPrice: "1" }, { upTo: "5", unitPrice: "1" }] }] }), ctx)), "prices.0", /upTo must exceed/],
      ["a meter priced twice", () => run((c) => catalog.createPlanVersion(c, tenantId, version({ prices: [{ meter: "calls", model: "per_unit", unitPrice: "1" }, { meter: 1, model: "per_unit", unitPrice: "2" }] }), ctx)), "prices.1.meter", /priced twice/],
      ["an unknown plan", () => run((c) => catalog.createPlanVersion(c, tenantId, version({ plan: "gold" }), ctx)), "plan", /unknown plan/],
      ["a hard limit past 38 digits", () => run((c) => catalog.setQuotaLimits(c, tenantId, { meter: "calls", hardLimit: "9".repeat(39) }, ctx)), "hardLimit", /38 digits/],
      ["soft above hard", () => run((c) => catalog.setQuotaLimits(c, tenantId, { meter: "calls", softLimit: "10", hardLimit: "5" }, ctx)), "hardLimit", /below softLimit/],
      ["an unknown aggregation", () => run((c) => catalog.configureMeter(c, tenantId, { meter: "calls", aggregation: "AVG", unit: "x", displayName: "x" }, ctx)), "aggregation", /./],
      ["an unknown time zone", () => run((c) => catalog.setTimeZone(c, tenantId, { timeZone: "Mars/Olympus" }, ctx)), "timeZone", /unknown IANA/],
      ["a subscription off a period boundary", () => run((c) => catalog.subscribe(c, tenantId, { plan: "growth", startsAt: "2026-04-01T00:00:00Z" }, ctx)), "startsAt", /not the start of a billing period in Europe\/Berlin/],
    ];
    for (const [name, call, field, message] of cases) {
      const err = await call().catch((e: unknown) => e);
      expect(err, name).to.be.instanceOf(BillingInputError);
      expect((err as BillingInputError).field, name).to.equal(field);
      expect((err as Error).message, name).to.match(message);
    }
    expect(await snapshot(db)).to.deep.equal(before);
  });

  it("creates a version for the future, frozen with its snapshot, audited with before/after", async function () {
    const v = await run((c) => catalog.createPlanVersion(c, tenantId, version(), ctx));
    expect(v.version).to.equal(1);
    expect(v.snapshot.meters.find((m) => m.meterId === 1)!.aggregation).to.equal("SUM");
    // overlapping: a second version taking effect at the same instant
    const clash = await run((c) => catalog.createPlanVersion(c, tenantId, version(), ctx)).catch((e: unknown) => e);
    expect(clash).to.be.instanceOf(BillingInputError);
    expect((clash as BillingInputError).field).to.equal("effectiveFrom");

    // Changing the meter's aggregation later does not change the frozen version.
    await run((c) => catalog.configureMeter(c, tenantId, { meter: "calls", aggregation: "MAX", unit: "call", displayName: "Calls" }, ctx));
    const { rows } = await db.pool.query<{ snapshot: { meters: Array<{ meterId: number; aggregation: string }> } }>("SELECT snapshot FROM rate_plan_versions WHERE id = $1", [v.id]);
    expect(rows[0]!.snapshot.meters.find((m) => m.meterId === 1)!.aggregation).to.equal("SUM");

    const { rows: audit } = await db.pool.query<{ action: string; subject: string; platform: boolean; request_id: string; changes: { before: unknown; after: unknown } }>(
      "SELECT action, subject, platform, request_id, changes FROM audit_log WHERE tenant_id = $1 ORDER BY id",
      [tenantId],
    );
    expect(audit.map((a) => a.action)).to.deep.equal(["meter.configure", "plan.create", "plan_version.create", "meter.configure"]);
    const change = audit[3]!;
    expect(change.changes.before).to.deep.include({ aggregation: "SUM" });
    expect(change.changes.after).to.deep.include({ aggregation: "MAX" });
    expect(change).to.include({ subject: "ops@platform", platform: true, request_id: "req-1" });
  });

  it("keeps versions immutable in the database itself, and withdraws only a version not yet in force", async function () {
    const { rows } = await db.pool.query<{ id: string }>("SELECT id::text AS id FROM rate_plan_versions WHERE tenant_id = $1", [tenantId]);
    const id = rows[0]!.id;
    for (const sql of [
      "UPDATE rate_plan_versions SET minimum_minor = 1 WHERE id = $1",
      "UPDATE plan_prices SET unit_price = 1 WHERE plan_version_id = $1",
      "UPDATE price_tiers SET unit_price = 1 WHERE price_id IN (SELECT id FROM plan_prices WHERE plan_version_id = $1)",
    ]) {
      const err = await db.pool.query(sql, [id]).catch((e: Error) => e);
      expect(String(err), sql).to.match(/immutable/);
    }
    // in force (the database's own clock is past it): refused
    const inForce = await run((c) => catalog.withdrawPlanVersion(c, tenantId, { version: id }, { ...ctx, now: new Date("2026-04-02T00:00:00Z") })).catch((e: unknown) => e);
    expect(inForce).to.be.instanceOf(BillingConflictError);
  });

  it("changes subscriptions at period boundaries only", async function () {
    await run((c) => catalog.createPlan(c, tenantId, { name: "scale" }, ctx));
    await run((c) => catalog.createPlanVersion(c, tenantId, { ...version({ plan: "scale", effectiveFrom: "2026-03-20T00:00:00Z" }) }, ctx));
    // first subscription: the current period (March, Berlin) is allowed
    await run((c) => catalog.subscribe(c, tenantId, { plan: "scale", startsAt: "2026-03-01T00:00:00+01:00" }, ctx)).catch((e: unknown) => {
      // "scale" has no version in force on March 1st
      expect((e as BillingInputError).field).to.equal("plan");
    });
    const s1 = await run((c) => catalog.subscribe(c, tenantId, { plan: "growth", startsAt: "2026-04-01T00:00:00+02:00" }, ctx));
    expect(s1.startsAt.toISOString()).to.equal("2026-03-31T22:00:00.000Z");
    // a change must be a later boundary; the open subscription ends there
    const past = await run((c) => catalog.subscribe(c, tenantId, { plan: "scale", startsAt: "2026-03-01T00:00:00+01:00" }, ctx)).catch((e: unknown) => e);
    expect((past as BillingInputError).field).to.equal("startsAt");
    await run((c) => catalog.subscribe(c, tenantId, { plan: "scale", startsAt: "2026-05-01T00:00:00+02:00" }, ctx));
    const { rows } = await db.pool.query<{ starts_at: Date; ends_at: Date | null }>("SELECT starts_at, ends_at FROM subscriptions WHERE tenant_id = $1 ORDER BY starts_at", [tenantId]);
    expect(rows.map((r) => [r.starts_at.toISOString(), r.ends_at?.toISOString() ?? null])).to.deep.equal([
      ["2026-03-31T22:00:00.000Z", "2026-04-30T22:00:00.000Z"],
      ["2026-04-30T22:00:00.000Z", null],
    ]);
  });

  it("quota limits are the platform's; alert thresholds the tenant's own", async function () {
    const none = await run((c) => catalog.setAlertThresholds(c, tenantId, { meter: "storage", thresholds: [90] }, ctx)).catch((e: unknown) => e);
    expect((none as BillingInputError).field).to.equal("meter");
    await run((c) => catalog.setQuotaLimits(c, tenantId, { meter: "storage", softLimit: "80", hardLimit: "100" }, ctx));
    const q = await run((c) => catalog.setAlertThresholds(c, tenantId, { meter: "storage", thresholds: [90, 75, 90] }, { actor: { subject: "admin@acme", platform: false }, now: NOW }));
    expect(q.thresholds).to.deep.equal([75, 90]);
    const again = await run((c) => catalog.setQuotaLimits(c, tenantId, { meter: "storage", hardLimit: "200" }, ctx));
    expect(again.thresholds, "limits leave the tenant's thresholds alone").to.deep.equal([75, 90]);
    expect(await run((c) => catalog.removeQuota(c, tenantId, { meter: "storage" }, { actor: systemActor("t"), now: NOW }))).to.equal(true);
  });
});
