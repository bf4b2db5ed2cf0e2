import { expect } from "chai";
import { randomBytes } from "node:crypto";
import { runBillingOnce } from "../../billing/run";
import { invoiceContentHash } from "../../rating/invoice";
import { loadInvoiceContent as loadContent } from "../../billing/store/invoice-store";
import { loadTenantParties } from "../../billing/store/tenants";
import { periodContaining } from "../../rating/periods";
import { quotaStatus } from "../../billing/store/quotas";
import { recomputeInvoice } from "../../rating/recompute";
import { applySeed, loadSeedFile, seedSchema } from "../../stack/seed/apply-seed";
import { createTestDatabase, openAsRole, type TestDatabase } from "../helpers/database";
import type { Database } from "../../db/connection";
import { addContract, addMeter, addRecord, addTenant, CHAIN_ID, setCheckpoint } from "./helpers/chain-rows";

const BERLIN = "Europe/Berlin";
const opts = { confirmations: 5, graceMs: 3_600_000 };
const SEEDED_AT = new Date("2025-12-15T00:00:00Z");

const seed = seedSchema.parse({
  tenants: [
    {
      slug: "acme",
      timeZone: BERLIN,
      meters: [
        { name: "api_calls", aggregation: "SUM", unit: "call", displayName: "API calls" },
        { name: "storage_gb_hours", aggregation: "MAX", unit: "GB-hour", displayName: "Storage" },
      ],
      plan: {
        name: "growth",
        versions: [
          {
            currency: "USD",
            currencyExponent: 2,
            minimumMinor: "500",
            prices: [
              {
                meter: "api_calls",
                model: "graduated",
                includedUnits: "100",
                tiers: [
                  { upTo: "1000", unitPrice: "0.01" },
                  { upTo: null, unitPrice: "0.005" },
                ],
              },
              { meter: "storage_gb_hours", model: "per_unit", unitPrice: "0.125" },
            ],
          },
        ],
      },
      quotas: [{ meter: "api_calls", softLimit: "800", hardLimit: "1000", thresholds: [50, 80, 100] }],
    },
  ],
});

describe("billing worker", function () {
  let db: TestDatabase;
  /** The billing service under test runs as its own database role (meterline_billing). */
  let billing: Database;
  let contractId: number;
  let tenantId: string;

  before(async function () {
    db = await createTestDatabase();
    billing = await openAsRole(db, "meterline_billing");
    contractId = await addContract(db.pool);
    tenantId = await addTenant(db.pool, contractId, "acme", 1);
    await addMeter(db.pool, tenantId, 1, "api_calls");
    await addMeter(db.pool, tenantId, 2, "storage_gb_hours");
    // Configured in December 2025: the plan and subscription start with January 2026 (Berlin).
    await applySeed(billing, seed, { now: SEEDED_AT });
    await applySeed(billing, seed, { now: SEEDED_AT }); // idempotent
  });
  after(async function () {
    await db.drop();
  });

  const march = (day: number, hour = 12) => new Date(Date.UTC(2026, 2, day, hour));

  const loadInvoiceContent = async (pool: typeof db.pool, id: string) => loadContent(pool, id, (await loadTenantParties(pool, tenantId))!);

  async function invoices() {
    const { rows } = await db.pool.query<{ id: string; number: number | null; status: string; period_start: Date; total_minor: string; content_hash: Buffer | null }>(
      "SELECT id, number, status, period_start, total_minor, content_hash FROM invoices WHERE tenant_id = $1 ORDER BY period_start",
      [tenantId],
    );
    return rows;
  }

  it("seed is idempotent and sets the tenant's time zone", async function () {
    const { rows } = await db.pool.query("SELECT count(*)::int AS n FROM rate_plan_versions WHERE tenant_id = $1", [tenantId]);
    expect(rows[0].n).to.equal(1);
    const { rows: tz } = await db.pool.query("SELECT time_zone FROM tenants WHERE id = $1", [tenantId]);
    expect(tz[0].time_zone).to.equal(BERLIN);
    const demo = await loadSeedFile();
    expect(demo.tenants.map((t) => t.slug)).to.deep.equal(["acme", "globex"]);
  });

  it("maintains a draft from usage, then finalizes it after period end + grace from confirmed usage only", async function () {
    await setCheckpoint(db.pool, contractId, 100);
    await addRecord(db.pool, { tenantId, contractId, meterId: 1, at: march(2), quantity: 600n, blockNumber: 10 });
    await addRecord(db.pool, { tenantId, contractId, meterId: 2, at: march(3), quantity: 40n, blockNumber: 11 });
    await runBillingOnce(billing, march(20), opts);
    let inv = await invoices();
    expect(inv).to.have.length(1);
    expect(inv[0]!.status).to.equal("draft");
    // api: 500 billable * 0.01 = 5.00; storage MAX 40 * 0.125 = 5.00
    expect(inv[0]!.total_minor).to.equal("1000");
    expect(inv[0]!.period_start.toISOString()).to.equal("2026-02-28T23:00:00.000Z");

    // more usage, one more MAX sample below the max: only SUM changes
    await addRecord(db.pool, { tenantId, contractId, meterId: 1, at: march(25), quantity: 600n, blockNumber: 20 });
    await addRecord(db.pool, { tenantId, contractId, meterId: 2, at: march(25), quantity: 30n, blockNumber: 20 });
    // this one arrives in a block above the confirmed block at finalization (100 - 5)
    const late = await addRecord(db.pool, { tenantId, contractId, meterId: 1, at: march(31, 21), quantity: 50n, blockNumber: 99 });
    await runBillingOnce(billing, march(28), opts);
    inv = await invoices();
    // drafts include unconfirmed usage. api 1250: 100 free, 1000*0.01 + 150*0.005 = 10.75; storage 5.00
    expect(inv[0]!.total_minor).to.equal("1575");

    // 2026-03-31T22:00Z is April 1st 00:00 in Berlin; finalize an hour after the grace
    const finalizeAt = new Date("2026-03-31T23:30:00Z");
    const r = await runBillingOnce(billing, finalizeAt, opts);
    expect(r.finalized.map((f) => f.number)).to.deep.equal([1]);
    inv = await invoices();
    expect(inv.map((i) => [i.status, i.number])).to.deep.equal([
      ["finalized", 1],
      ["draft", null],
    ]);
    // the late (unconfirmed) record is not on March (1200 calls: 10.00 + 0.50), it is an adjustment on April
    expect(inv[0]!.total_minor).to.equal("1550");
    const april = await loadInvoiceContent(db.pool, inv[1]!.id);
    const adj = april!.content.lines.find((l) => l.kind === "adjustment");
    expect(adj, "adjustment line").to.not.equal(undefined);
    expect(adj!.adjustsPeriodStart).to.equal("2026-02-28T23:00:00.000Z");
    expect(adj!.baseQuantity).to.equal("1200");
    expect(adj!.quantity).to.equal("1250");
    expect(adj!.amountMinor).to.equal("25"); // 50 * 0.005
    expect(adj!.records.map((x) => x.seenAt.txHash)).to.deep.equal([`0x${late.txHash.toString("hex")}`]);

    const march1 = await loadInvoiceContent(db.pool, inv[0]!.id);
    expect(`0x${inv[0]!.content_hash!.toString("hex")}`).to.equal(invoiceContentHash(march1!.content));
    expect(recomputeInvoice(march1!.content).totalOk).to.equal(true);
    for (const l of march1!.content.lines) {
      if (l.kind === "usage") expect(l.records.length).to.be.greaterThan(0);
      for (const rec of l.records) expect(Number(rec.seenAt.blockNumber)).to.be.at.most(95);
    }
    const { rows: ev } = await db.pool.query("SELECT payload FROM webhook_outbox WHERE event_type = 'invoice.finalized'");
    expect(ev).to.have.length(1);
    expect(ev[0].payload.number).to.equal(1);
  });

  it("rejects changes to finalized invoices, lines and line records in the database", async function () {
    const [march] = await invoices();
    const attempts = [
      ["UPDATE invoices SET total_minor = 1 WHERE id = $1", [march!.id]],
      ["DELETE FROM invoices WHERE id = $1", [march!.id]],
      ["UPDATE invoice_lines SET amount_minor = 1 WHERE invoice_id = $1", [march!.id]],
      ["DELETE FROM invoice_lines WHERE invoice_id = $1", [march!.id]],
      ["DELETE FROM invoice_line_records WHERE line_id IN (SELECT id FROM invoice_lines WHERE invoice_id = $1)", [march!.id]],
      [
        `INSERT INTO invoice_lines (tenant_id, invoice_id, line_no, kind, description, amount_minor) VALUES ($2, $1, 99, 'minimum', 'x', 1)`,
        [march!.id, tenantId],
      ],
    ] as const;
    for (const [sql, params] of attempts) {
      let error: Error | null = null;
      await db.pool.query(sql, [...params]).catch((e: Error) => (error = e));
      expect(error, sql).to.be.instanceOf(Error);
      expect(String(error), sql).to.match(/finalized .*immutable/);
    }
  });

  it("a reorg changes drafts only, never a finalized invoice", async function () {
    const [march, april] = await invoices();
    const before = await loadInvoiceContent(db.pool, march!.id);
    // the indexer drops everything in blocks >= 11 (an orphaned branch) and re-adds other usage
    await db.pool.query("DELETE FROM usage_records WHERE tenant_id = $1 AND block_number >= 11", [tenantId]);
    await addRecord(db.pool, { tenantId, contractId, meterId: 1, at: new Date("2026-04-03T10:00:00Z"), quantity: 300n, blockNumber: 101 });
    await setCheckpoint(db.pool, contractId, 120);
    await runBillingOnce(billing, new Date("2026-04-05T00:00:00Z"), opts);
    const after = await loadInvoiceContent(db.pool, march!.id);
    expect(invoiceContentHash(after!.content)).to.equal(invoiceContentHash(before!.content));
    const aprilNow = await loadInvoiceContent(db.pool, april!.id);
    expect(aprilNow!.content.lines.some((l) => l.kind === "adjustment")).to.equal(false); // the late record was reorged away
    // April: 300 api calls, 200 billable * 0.01 = 2.00 < minimum 5.00 -> minimum line 3.00
    expect(aprilNow!.content.lines.map((l) => [l.kind, l.amountMinor])).to.deep.equal([
      ["usage", "200"],
      ["minimum", "300"],
    ]);
    expect(aprilNow!.content.totalMinor).to.equal("500");
  });

  it("numbers invoices sequentially without gaps", async function () {
    await setCheckpoint(db.pool, contractId, 200);
    await addRecord(db.pool, { tenantId, contractId, meterId: 1, at: new Date("2026-05-10T10:00:00Z"), quantity: 5n, blockNumber: 150 });
    await runBillingOnce(billing, new Date("2026-06-01T12:00:00Z"), opts);
    const inv = await invoices();
    expect(inv.filter((i) => i.status === "finalized").map((i) => i.number)).to.deep.equal([1, 2, 3]);
    const { rows } = await db.pool.query("SELECT last_number FROM invoice_counters WHERE tenant_id = $1", [tenantId]);
    expect(rows[0].last_number).to.equal(3);
  });

  it("quota status is readable and each threshold crossing alerts exactly once, through replays and reorgs", async function () {
    const at = new Date("2026-07-10T12:00:00Z");
    const july = (q: bigint, block: number) => addRecord(db.pool, { tenantId, contractId, meterId: 1, at: new Date("2026-07-05T00:00:00Z"), quantity: q, blockNumber: block });
    await july(450n, 300);
    expect((await quotaStatus(db.pool, tenantId, at))[0]!.status).to.equal("ok");
    await july(400n, 301); // 850: warning (soft 800), crosses 50% and 80% of 1000
    expect((await quotaStatus(db.pool, tenantId, at))[0]!.status).to.equal("warning");
    const r1 = await runBillingOnce(billing, at, opts);
    expect(r1.alerts.map((a) => a.threshold).sort()).to.deep.equal([50, 80]);
    expect((await runBillingOnce(billing, at, opts)).alerts).to.have.length(0);
    // reorg removes the second record, then it comes back plus more: 80% must not alert twice
    await db.pool.query("DELETE FROM usage_records WHERE tenant_id = $1 AND block_number = 301", [tenantId]);
    await runBillingOnce(billing, at, opts);
    await july(400n, 302);
    await july(200n, 303); // 1050: exceeded
    const r2 = await runBillingOnce(billing, at, opts);
    expect(r2.alerts.map((a) => a.threshold)).to.deep.equal([100]);
    expect((await quotaStatus(db.pool, tenantId, at))[0]!.status).to.equal("exceeded");
    const { rows } = await db.pool.query(
      "SELECT payload->>'thresholdPercent' AS t FROM webhook_outbox WHERE event_type = 'quota.threshold_crossed' AND payload->>'periodStart' = $1 ORDER BY id",
      [periodContaining(at, BERLIN).start.toISOString()],
    );
    expect(rows.map((x) => x.t)).to.deep.equal(["50", "80", "100"]);
    const { rows: view } = await db.pool.query("SELECT status FROM quota_status WHERE tenant_id = $1", [tenantId]);
    expect(view).to.have.length(1);
  });

  it("an expired commitment emits usage.commitment_expired once in the indexer's transaction", async function () {
    const tx = randomBytes(32);
    const row = [tenantId, contractId, randomBytes(20), randomBytes(32), randomBytes(20), CHAIN_ID, tx, 0, 5, randomBytes(32)];
    await db.pool.query(
      `INSERT INTO commitments (tenant_id, contract_id, reporter, commitment, relayer, status, chain_id, tx_hash, log_index, block_number, block_hash, block_time)
       VALUES ($1, $2, $3, $4, $5, 'committed', $6, $7, $8, $9, $10, now())`,
      row,
    );
    const expire = `UPDATE commitments SET status = 'expired', resolved_tx_hash = $2, resolved_log_index = 1, resolved_block_number = 50,
                      resolved_block_hash = $2, resolved_block_time = now() WHERE tx_hash = $1`;
    await db.pool.query(expire, [tx, randomBytes(32)]);
    // a replay (reorg undo + redo) sets it back and expires it again
    await db.pool.query(
      "UPDATE commitments SET status = 'committed', resolved_tx_hash = NULL, resolved_log_index = NULL, resolved_block_number = NULL, resolved_block_hash = NULL, resolved_block_time = NULL WHERE tx_hash = $1",
      [tx],
    );
    await db.pool.query(expire, [tx, randomBytes(32)]);
    const { rows } = await db.pool.query("SELECT payload FROM webhook_outbox WHERE event_type = 'usage.commitment_expired'");
    expect(rows).to.have.length(1);
    expect(rows[0].payload.committedTxHash).to.equal(`0x${tx.toString("hex")}`);
  });
});
