import { expect } from "chai";
import hre from "hardhat";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type pg from "pg";
import { auditDatabase } from "../../scripts/audit/database-audit";
import { abiHash, writeDeployment } from "../../chain/deployment";
import { usageMeterAbi } from "../../chain/abi.generated";
import { exportInvoice } from "../../billing/export";
import type { InvoiceExport } from "../../verifier/document";
import { periodContaining } from "../../rating/periods";
import { runBillingOnce } from "../../billing/run";
import { invoiceContentHash } from "../../rating/invoice";
import { applySeed, seedSchema } from "../../stack/seed/apply-seed";
import { createTestDatabase, openAsRole, type TestDatabase } from "../helpers/database";
import type { Database } from "../../db/connection";
import { serveChain, Workload, type ChainServer } from "../indexer/helpers/chain";
import { runIndexer, testConfig } from "../indexer/helpers/indexer";
import { waitForCheckpoint } from "../indexer/helpers/truth";

const tenantSeed = (slug: string) => ({
  slug,
  timeZone: "UTC",
  meters: [
    { name: "meter-1", aggregation: "SUM", unit: "call", displayName: "Calls" },
    { name: "meter-2", aggregation: "MAX", unit: "GB", displayName: "Peak storage" },
  ],
  plan: {
    name: "standard",
    versions: [
      {
        currency: "USD",
        currencyExponent: 2,
        minimumMinor: "100",
        prices: [
          {
            meter: "meter-1",
            model: "graduated",
            includedUnits: "1000",
            tiers: [
              { upTo: "1000000", unitPrice: "0.0000123" },
              { upTo: null, unitPrice: "0.0000071" },
            ],
          },
          { meter: "meter-2", model: "volume", tiers: [{ upTo: "500000", unitPrice: "0.00001" }, { upTo: null, unitPrice: "0.000005" }] },
        ],
      },
    ],
  },
  quotas: [],
});

/** Runs `sql` with triggers disabled (superuser), the way an attacker with database access would. */
async function tamper(pool: pg.Pool, sql: string, params: unknown[] = []): Promise<void> {
  const c = await pool.connect();
  try {
    await c.query("SET session_replication_role = replica");
    await c.query(sql, params);
  } finally {
    await c.query("RESET session_replication_role").catch(() => undefined);
    c.release();
  }
}

describe("billing on a real chain: invoice export and database audit", function () {
  let server: ChainServer;
  let w: Workload;
  let db: TestDatabase;
  /** The billing service under test runs as its own database role (meterline_billing). */
  let billing: Database;
  let invoice: InvoiceExport;
  let invoiceTenantId: string;

  before(async function () {
    await hre.network.provider.request({ method: "hardhat_reset", params: [] });
    server = await serveChain(hre);
    w = new Workload(hre, { tenants: 2, metersPerTenant: 2, reportersPerTenant: 1 });
    await w.deploy();
    for (let i = 0; i < 4; i++) await w.round({ reveals: 2, recordsPerReveal: 12, withhold: i % 2 });
    // one commitment certainly withheld and expired
    const reporter = w.tenantReporters.get(1)![0]!;
    const withheld = w.commitData(1, reporter, await w.makeRecords(1, reporter, 1, await w.latestTimestamp()));
    await w.send(withheld.data, reporter);
    w.withheld.push({ reporter, commitment: withheld.commitment });
    await w.expirePending();
    // The chain moves past the end of the period plus the grace, so the period can be finalized
    // (the worker waits for the indexed chain, not only the clock).
    const usageTime = new Date((await w.latestTimestamp()) * 1000);
    const periodEnd = periodContaining(usageTime, "UTC").end.getTime();
    await w.rpc("evm_setNextBlockTimestamp", [Math.floor(periodEnd / 1000) + 2 * 3600]);
    await w.mine(1);
    db = await createTestDatabase();
    billing = await openAsRole(db, "meterline_billing");
    const indexer = await runIndexer(testConfig(w, server.url), db);
    try {
      await waitForCheckpoint(db.pool, await w.head());
    } finally {
      await indexer.stop();
    }
    // Configured before any usage: plans and subscriptions start in January 2020.
    await applySeed(billing, seedSchema.parse({ tenants: [tenantSeed("tenant-1"), tenantSeed("tenant-2")] }), { now: new Date("2019-12-15T00:00:00Z") });
    // Bill as of three hours after the period ends: everything indexed is final.
    const billingNow = new Date(periodEnd + 3 * 3_600_000);
    const r = await runBillingOnce(billing, billingNow, { confirmations: 0, graceMs: 3_600_000 });
    expect(r.finalized.length).to.be.greaterThan(0);
    const { rows } = await db.pool.query<{ id: string; tenant_id: string }>(
      `SELECT i.id, i.tenant_id FROM invoices i JOIN invoice_lines l ON l.invoice_id = i.id AND l.kind = 'usage'
        WHERE i.status = 'finalized' ORDER BY i.tenant_id, i.period_start LIMIT 1`,
    );
    expect(rows).to.have.length(1);
    invoiceTenantId = rows[0]!.tenant_id;
    invoice = await exportInvoice(billing, invoiceTenantId, rows[0]!.id);
  });

  after(async function () {
    await db?.drop();
    await server?.close();
    await hre.network.provider.request({ method: "hardhat_reset", params: [] });
  });

  it("exports a self-contained invoice whose every line cites on-chain records", function () {
    expect(invoice.invoice.deployment.address.toLowerCase()).to.equal(w.address.toLowerCase());
    expect(invoice.invoice.deployment.chainId).to.equal(String(w.chainId));
    const usage = invoice.invoice.lines.filter((l) => l.kind === "usage");
    expect(usage.length).to.be.greaterThan(0);
    for (const l of usage) expect(l.records.length).to.be.greaterThan(0);
    expect(invoice.invoice.planSnapshot.plan.prices).to.have.length(2);
    // The tenant's first document: nothing before it in its hash chain.
    expect(invoice.invoice.previousDocumentHash).to.equal(`0x${"00".repeat(32)}`);
    expect(invoice.history).to.deep.equal([]);
  });

  describe("auditDatabase", function () {
    const audit = () => auditDatabase({ db, rpcUrl: server.url });
    const attention = async () => {
      const r = await audit();
      return r.sections.flatMap((s) => s.items.filter((i) => i.status === "attention").map((i) => ({ section: s.id, label: i.label, details: i.details })));
    };
    const flagged = async (labelPattern: RegExp) => (await attention()).filter((a) => labelPattern.test(a.label));

    it("is clean on an honest database", async function () {
      const r = await audit();
      expect(await attention()).to.deep.equal([]);
      expect(r.ok).to.equal(true);
    });

    it("reports a missing, an extra and a changed usage record", async function () {
      const { rows } = await db.pool.query<{ tx_hash: Buffer; log_index: number; record_index: number; quantity: string }>(
        "SELECT tx_hash, log_index, record_index, quantity FROM usage_records ORDER BY block_number DESC, log_index, record_index LIMIT 1",
      );
      const r = rows[0]!;
      const key = `0x${r.tx_hash.toString("hex")}:${r.log_index}:${r.record_index}`;
      const where = "tx_hash = $1 AND log_index = $2 AND record_index = $3";
      const keyParams = [r.tx_hash, r.log_index, r.record_index];

      await db.pool.query(`UPDATE usage_records SET quantity = quantity + 1 WHERE ${where}`, keyParams);
      let f = await flagged(/^usage records/);
      expect(f).to.have.length(1);
      expect(JSON.stringify(f[0]!.details)).to.include(key).and.include("quantity");
      await db.pool.query(`UPDATE usage_records SET quantity = $4 WHERE ${where}`, [...keyParams, r.quantity]);

      // an extra copy of a record under another log position ("counted twice"); it repeats the
      // record's idempotency key later in the chain, so it is a duplicate (036's partial unique index)
      await db.pool.query(
        `INSERT INTO usage_records SELECT tenant_id, meter_id, period_start, period_end, quantity, sequence + 1000000, ref, reporter, commitment,
                contract_id, chain_id, tx_hash, log_index + 1000, record_index, block_number, block_hash, block_time, true
           FROM usage_records WHERE ${where}`,
        keyParams,
      );
      f = await flagged(/^usage records/);
      expect(JSON.stringify(f[0]!.details)).to.include(`0x${r.tx_hash.toString("hex")}:${r.log_index + 1000}:${r.record_index}`);
      await db.pool.query("DELETE FROM usage_records WHERE tx_hash = $1 AND log_index = $2", [r.tx_hash, r.log_index + 1000]);

      const saved = await db.pool.query(`DELETE FROM usage_records WHERE ${where} RETURNING *`, keyParams);
      f = await flagged(/^usage records/);
      expect((f[0]!.details as { missing: string[] }).missing).to.deep.equal([key]);
      const row = saved.rows[0] as Record<string, unknown>;
      const cols = Object.keys(row);
      await db.pool.query(
        `INSERT INTO usage_records (${cols.join(", ")}) VALUES (${cols.map((_, i) => `$${i + 1}`).join(", ")})`,
        cols.map((c) => row[c]),
      );
      expect(await attention()).to.deep.equal([]);
    });

    it("reports missing commitments and expiries", async function () {
      const { rows } = await db.pool.query<{ tx_hash: Buffer; log_index: number }>(
        "SELECT tx_hash, log_index FROM commitments WHERE status = 'expired' ORDER BY block_number LIMIT 1",
      );
      expect(rows, "the workload withholds and expires commitments").to.have.length(1);
      const { tx_hash, log_index } = rows[0]!;
      const saved = await db.pool.query("SELECT * FROM commitments WHERE tx_hash = $1 AND log_index = $2", [tx_hash, log_index]);
      await db.pool.query(
        `UPDATE commitments SET status = 'committed', resolved_tx_hash = NULL, resolved_log_index = NULL, resolved_block_number = NULL,
                resolved_block_hash = NULL, resolved_block_time = NULL WHERE tx_hash = $1 AND log_index = $2`,
        [tx_hash, log_index],
      );
      expect((await flagged(/^CommitmentExpired/)).length).to.equal(1);
      await db.pool.query("DELETE FROM commitments WHERE tx_hash = $1 AND log_index = $2", [tx_hash, log_index]);
      expect((await flagged(/^Committed events/)).length).to.equal(1);
      const row = saved.rows[0] as Record<string, unknown>;
      const cols = Object.keys(row);
      await db.pool.query(`INSERT INTO commitments (${cols.join(", ")}) VALUES (${cols.map((_, i) => `$${i + 1}`).join(", ")})`, cols.map((c) => row[c]));
      expect(await attention()).to.deep.equal([]);
    });

    it("reports rollups that differ from their records", async function () {
      await db.pool.query(
        "UPDATE usage_rollups SET quantity_sum = quantity_sum + 7 WHERE (tenant_id, meter_id, bucket_start) IN (SELECT tenant_id, meter_id, bucket_start FROM usage_rollups LIMIT 1)",
      );
      expect((await flagged(/^hourly rollups/)).length).to.equal(1);
      // put it back exactly: recompute that bucket from its records
      await db.pool.query(
        `UPDATE usage_rollups u SET quantity_sum = a.s FROM (
           SELECT tenant_id, meter_id, date_trunc('hour', period_start, 'UTC') AS b, sum(quantity) AS s FROM usage_records GROUP BY 1, 2, 3) a
          WHERE u.tenant_id = a.tenant_id AND u.meter_id = a.meter_id AND u.bucket_start = a.b`,
      );
      expect(await attention()).to.deep.equal([]);
    });

    it("reports invoice lines that differ from their records and finalized invoices changed since finalization", async function () {
      const id = invoice.invoice.invoiceId;
      const line = invoice.invoice.lines.find((l) => l.kind === "usage")!;
      const rec = line.records[0]!;
      const recWhere = `line_id IN (SELECT id FROM invoice_lines WHERE invoice_id = $1 AND line_no = $2)
                        AND reporter = decode($3, 'hex') AND sequence = $4`;
      const recParams = [id, line.lineNo, rec.reporter.slice(2), rec.sequence];
      await tamper(db.pool, `UPDATE invoice_line_records SET quantity = quantity + 1 WHERE ${recWhere}`, recParams);
      const f = await attention();
      expect(f.map((x) => x.label)).to.include.members(["invoice lines", "cited records", "finalized invoices"]);
      await tamper(db.pool, `UPDATE invoice_line_records SET quantity = quantity - 1 WHERE ${recWhere}`, recParams);
      expect(await attention()).to.deep.equal([]);

      await tamper(db.pool, "UPDATE invoices SET total_minor = total_minor + 100 WHERE id = $1", [id]);
      expect((await attention()).map((x) => x.label)).to.include.members(["invoice lines", "finalized invoices"]);
      await tamper(db.pool, "UPDATE invoices SET total_minor = total_minor - 100 WHERE id = $1", [id]);

      // a consistent rewrite (line and total changed together) is still caught by the content hash
      await tamper(db.pool, "UPDATE invoice_lines SET description = 'Discount' WHERE invoice_id = $1 AND line_no = $2", [id, line.lineNo]);
      expect((await attention()).map((x) => x.label)).to.deep.equal(["finalized invoices"]);
      // ...and an export of the altered invoice no longer matches the hash stored at finalization,
      // which is what a tenant's verifier compares first (test/verifier/forgeries.test.ts).
      const altered = await exportInvoice(billing, invoiceTenantId, id);
      expect(invoiceContentHash(altered.invoice)).to.not.equal(altered.contentHash);
      await tamper(db.pool, "UPDATE invoice_lines SET description = $3 WHERE invoice_id = $1 AND line_no = $2", [id, line.lineNo, line.description]);
      expect(await attention()).to.deep.equal([]);
    });
  });
  describe("meter:audit --database", function () {
    let deployments: string;
    let savedDir: string | undefined;
    before(async function () {
      deployments = await mkdtemp(path.join(tmpdir(), "meterline-deployments-"));
      savedDir = process.env.METERLINE_DEPLOYMENTS_DIR;
      process.env.METERLINE_DEPLOYMENTS_DIR = deployments;
      const block = await w.pub.getBlock({ blockNumber: w.deployBlock });
      writeDeployment(
        {
          chainId: w.chainId,
          contract: "UsageMeter",
          address: w.address,
          deployBlock: Number(w.deployBlock),
          deployBlockHash: block.hash,
          txHash: block.transactions[0] as `0x${string}`,
          constructorArgs: { adminDelay: 0, admin: w.admin, minRevealDelay: 1, maxRevealDelay: 4 },
          abiHash: abiHash(usageMeterAbi),
        },
        deployments,
      );
    });
    after(async function () {
      if (savedDir === undefined) delete process.env.METERLINE_DEPLOYMENTS_DIR;
      else process.env.METERLINE_DEPLOYMENTS_DIR = savedDir;
      await rm(deployments, { recursive: true, force: true });
    });

    async function runAudit(database: string): Promise<{ exitCode: number; report: { sections: Array<{ id: string; status: string }> } }> {
      const out: string[] = [];
      const { log } = console;
      console.log = (...parts: unknown[]) => void out.push(parts.map(String).join(" "));
      process.exitCode = 0;
      try {
        await hre.run("meter:audit", { json: true, database });
        return { exitCode: Number(process.exitCode ?? 0), report: JSON.parse(out.join("\n")) };
      } finally {
        console.log = log;
        process.exitCode = 0;
      }
    }
    const dbSections = (r: { sections: Array<{ id: string; status: string }> }) =>
      Object.fromEntries(r.sections.filter((x) => x.id.startsWith("database")).map((x) => [x.id, x.status]));

    it("appends the database sections to the chain audit, and exits 1 on drift", async function () {
      const clean = await runAudit(db.url);
      expect(dbSections(clean.report)).to.deep.equal({ "database-chain": "ok", "database-duplicates": "ok", "database-rollups": "ok", "database-invoices": "ok" });
      await db.pool.query(
        "UPDATE usage_rollups SET record_count = record_count + 1 WHERE (tenant_id, meter_id, bucket_start) IN (SELECT tenant_id, meter_id, bucket_start FROM usage_rollups LIMIT 1)",
      );
      try {
        const drift = await runAudit(db.url);
        expect(dbSections(drift.report)["database-rollups"]).to.equal("attention");
        expect(drift.exitCode).to.equal(1);
      } finally {
        await db.pool.query(
          `UPDATE usage_rollups u SET record_count = a.n FROM (
             SELECT tenant_id, meter_id, date_trunc('hour', period_start, 'UTC') AS b, count(*) AS n FROM usage_records GROUP BY 1, 2, 3) a
            WHERE u.tenant_id = a.tenant_id AND u.meter_id = a.meter_id AND u.bucket_start = a.b`,
        );
      }
    });
  });
});
