import { expect } from "chai";
import { applySeed, seedSchema, SeedError } from "../../stack/seed/apply-seed";
import { BillingInputError } from "../../billing/errors";
import { loadInvoiceContent as loadContent } from "../../billing/store/invoice-store";
import { loadTenantParties } from "../../billing/store/tenants";
import { recomputeInvoice } from "../../rating/recompute";
import { runBillingOnce } from "../../billing/run";
import { createTestDatabase, openAsRole, type TestDatabase } from "../helpers/database";
import type { Database } from "../../db/connection";
import { addContract, addMeter, addRecord, addTenant, setCheckpoint } from "./helpers/chain-rows";

const seedFor = (prices: { v1: string; v2: string }) =>
  seedSchema.parse({
    tenants: [
      {
        slug: "initech",
        meters: [
          { name: "calls", aggregation: "SUM", displayName: "Calls" },
          { name: "peak_gb", aggregation: "MAX", displayName: "Peak storage" },
        ],
        plan: {
          name: "basic",
          versions: [
            {
              effectiveFrom: "2026-01-01T00:00:00Z",
              currency: "USD",
              prices: [
                { meter: "calls", model: "per_unit", unitPrice: prices.v1 },
                { meter: "peak_gb", model: "per_unit", unitPrice: "0.5" },
              ],
            },
            {
              effectiveFrom: "2026-02-01T00:00:00Z",
              currency: "USD",
              minimumMinor: "1000",
              prices: [
                { meter: "calls", model: "per_unit", unitPrice: prices.v2 },
                { meter: "peak_gb", model: "per_unit", unitPrice: "0.75" },
              ],
            },
          ],
        },
      },
    ],
  });

const SEEDED_AT = new Date("2025-12-01T00:00:00Z");
const loadInvoiceContent = async (pool: TestDatabase["pool"], id: string) => {
  const { rows } = await pool.query<{ tenant_id: string }>("SELECT tenant_id::text AS tenant_id FROM invoices WHERE id = $1", [id]);
  return loadContent(pool, id, (await loadTenantParties(pool, rows[0]!.tenant_id))!);
};

describe("billing across plan versions and late usage", function () {
  let db: TestDatabase;
  /** The billing service under test runs as its own database role (meterline_billing). */
  let billing: Database;
  let tenantId: string;
  let contractId: number;

  before(async function () {
    db = await createTestDatabase();
    billing = await openAsRole(db, "meterline_billing");
    contractId = await addContract(db.pool);
    tenantId = await addTenant(db.pool, contractId, "initech", 1);
    await addMeter(db.pool, tenantId, 1, "calls");
    await addMeter(db.pool, tenantId, 2, "peak_gb");
  });
  after(async function () {
    await db.drop();
  });

  it("rejects a seed with a malformed price before touching the database", async function () {
    const err = await applySeed(billing, seedFor({ v1: "0.01.5", v2: "0.02" }), { now: SEEDED_AT }).catch((e: Error) => e);
    expect(err).to.be.instanceOf(BillingInputError);
    expect((err as BillingInputError).field).to.equal("prices.0.unitPrice");
    expect(String(err)).to.match(/must be a non-negative decimal/);
    const { rows } = await db.pool.query("SELECT count(*)::int AS n FROM rate_plans");
    expect(rows[0].n).to.equal(0);
    const missing = await applySeed(billing, seedSchema.parse({ tenants: [{ ...seedFor({ v1: "1", v2: "1" }).tenants[0]!, slug: "nobody" }] }), { now: SEEDED_AT }).catch((e: Error) => e);
    expect(missing).to.be.instanceOf(SeedError);
  });

  it("prices late usage with the original period's plan version; every line recomputes from the snapshot", async function () {
    await applySeed(billing, seedFor({ v1: "0.01", v2: "0.02" }), { now: SEEDED_AT });
    const jan = (day: number) => new Date(Date.UTC(2026, 0, day, 12));
    await setCheckpoint(db.pool, contractId, 100);
    await addRecord(db.pool, { tenantId, contractId, meterId: 1, at: jan(5), quantity: 100n, blockNumber: 10 });
    await addRecord(db.pool, { tenantId, contractId, meterId: 2, at: jan(5), quantity: 40n, blockNumber: 10 });
    // revealed in blocks above the confirmed block (100 - 5) when January is finalized
    await addRecord(db.pool, { tenantId, contractId, meterId: 1, at: jan(30), quantity: 50n, blockNumber: 99 });
    await addRecord(db.pool, { tenantId, contractId, meterId: 2, at: jan(30), quantity: 60n, blockNumber: 99 });
    const opts = { confirmations: 5, graceMs: 3_600_000 };

    // An indexer still behind the end of January (+ grace) holds finalization back.
    await setCheckpoint(db.pool, contractId, 100, new Date("2026-02-01T00:30:00Z"));
    expect((await runBillingOnce(billing, new Date("2026-02-01T02:00:00Z"), opts)).finalized).to.deep.equal([]);
    await setCheckpoint(db.pool, contractId, 100);
    const r1 = await runBillingOnce(billing, new Date("2026-02-01T02:00:00Z"), opts);
    expect(r1.finalized).to.have.length(1);
    const { rows } = await db.pool.query<{ id: string; status: string }>("SELECT id, status FROM invoices ORDER BY period_start");
    const janInv = (await loadInvoiceContent(db.pool, rows[0]!.id))!.content;
    expect(janInv.totalMinor).to.equal("2100"); // 100 * 0.01 + 40 * 0.5
    const feb = (await loadInvoiceContent(db.pool, rows[1]!.id))!.content;
    expect(feb.lines.map((l) => [l.kind, l.meterId, l.baseQuantity, l.quantity, l.amountMinor])).to.deep.equal([
      ["adjustment", 1, "100", "150", "50"], // 50 late calls at January's 0.01
      ["adjustment", 2, "40", "60", "1000"], // MAX: peak rose from 40 to 60 at January's 0.5
      ["minimum", null, null, "0", "1000"], // February (version 2) has no usage yet; minimum 10.00
    ]);
    expect(feb.planSnapshot.plan.version).to.equal(2);
    expect(feb.planSnapshot.adjustmentPlans.map((p) => p.version)).to.deep.equal([1]);
    const check = recomputeInvoice(feb);
    expect(check.lines.filter((l) => !l.ok)).to.deep.equal([]);
    expect(check.totalOk).to.equal(true);

    // February usage at version 2 prices, then February is finalized with its adjustments
    await addRecord(db.pool, { tenantId, contractId, meterId: 1, at: new Date("2026-02-10T00:00:00Z"), quantity: 1000n, blockNumber: 150 });
    await setCheckpoint(db.pool, contractId, 200);
    const r2 = await runBillingOnce(billing, new Date("2026-03-01T02:00:00Z"), opts);
    expect(r2.finalized.map((f) => f.number)).to.deep.equal([2]);
    const febFinal = (await loadInvoiceContent(db.pool, rows[1]!.id))!.content;
    expect(febFinal.lines.map((l) => [l.kind, l.amountMinor])).to.deep.equal([
      ["usage", "2000"], // 1000 * 0.02
      ["adjustment", "50"],
      ["adjustment", "1000"],
    ]);
    expect(febFinal.totalMinor).to.equal("3050");
    expect(recomputeInvoice(febFinal).totalOk).to.equal(true);

    // the late records are billed exactly once: no further adjustment on March
    const { rows: march } = await db.pool.query<{ id: string }>("SELECT id FROM invoices WHERE status = 'draft'");
    const marchInv = (await loadInvoiceContent(db.pool, march[0]!.id))!.content;
    expect(marchInv.lines.filter((l) => l.kind === "adjustment")).to.deep.equal([]);
  });
});
