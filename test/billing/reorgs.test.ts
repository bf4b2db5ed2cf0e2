import { expect } from "chai";
import hre from "hardhat";
import { stringToHex, type Address, type Hex } from "viem";
import { exportInvoice } from "../../billing/export";
import { runBillingOnce } from "../../billing/run";
import { usageMeterAbi } from "../../chain/abi.generated";
import type { PackedRecord } from "../../chain/record";
import { periodContaining } from "../../rating/periods";
import { applySeed, seedSchema } from "../../stack/seed/apply-seed";
import { auditDatabase } from "../../scripts/audit/database-audit";
import { encodeFunctionData } from "viem";
import { createTestDatabase, openAsRole, type TestDatabase } from "../helpers/database";
import type { Database } from "../../db/connection";
import { COMMIT_GAS, revealGas, serveChain, Workload, type ChainServer } from "../indexer/helpers/chain";
import { runIndexer, testConfig } from "../indexer/helpers/indexer";
import { waitForCheckpoint } from "../indexer/helpers/truth";

const CONFIRMATIONS = 12;
const seed = seedSchema.parse({
  tenants: [
    {
      slug: "tenant-1",
      meters: [{ name: "meter-1", aggregation: "SUM", displayName: "Calls" }],
      plan: { name: "p", versions: [{ currency: "USD", prices: [{ meter: "meter-1", model: "per_unit", unitPrice: "0.01" }] }] },
    },
  ],
});

/**
 * The scenario of the billing issue, on a real chain with the real indexer: usage finalized on an
 * invoice, then a reorg deeper than CONFIRMATIONS but inside REORG_WINDOW that re-includes the same
 * reveal elsewhere (another block, another log index), or drops it for good, or brings it back
 * after it was credited. Identity (tenant, reporter, sequence) keeps every record billed once.
 */
describe("billing through reorgs: record identity keeps usage billed exactly once", function () {
  this.timeout(300_000);
  let server: ChainServer;
  let w: Workload;
  let db: TestDatabase;
  /** The billing service under test runs as its own database role (meterline_billing). */
  let billing: Database;
  let indexer: Awaited<ReturnType<typeof runIndexer>>;
  let reporter: Address;
  let billingNow: Date;
  let periodEnd: number;

  const sync = async () => waitForCheckpoint(db.pool, await w.head(), 60_000);
  const bill = async () => runBillingOnce(billing, billingNow, { confirmations: CONFIRMATIONS, graceMs: 3_600_000 });
  const invoices = async () =>
    (await db.pool.query<{ id: string; number: number | null; status: string }>("SELECT id::text AS id, number, status FROM invoices ORDER BY period_start, id")).rows;

  /** Commits a batch now; returns what its reveal needs. */
  async function commit(n: number): Promise<{ salt: Hex; records: PackedRecord[] }> {
    const records = await w.makeRecords(1, reporter, n, await w.latestTimestamp());
    const c = w.commitData(1, reporter, records);
    await w.send(c.data, reporter, COMMIT_GAS);
    await w.mine(1);
    return { salt: c.salt, records };
  }

  /** Reveals in one block, after another log of the contract in the same block when `afterLog`. */
  async function reveal(batch: { salt: Hex; records: PackedRecord[] }, afterLog: boolean): Promise<bigint> {
    await w.rpc("evm_setAutomine", [false]);
    try {
      if (afterLog) {
        const data = encodeFunctionData({ abi: usageMeterAbi, functionName: "registerMeter", args: [1, stringToHex(`extra-${Date.now()}`, { size: 32 })] });
        await w.send(data, w.admin);
      }
      const hash = await w.send(w.revealData(1, reporter, batch.salt, batch.records), reporter, revealGas(batch.records.length));
      await w.mine(1);
      const receipt = await w.pub.getTransactionReceipt({ hash });
      expect(receipt.status).to.equal("success");
      expect(receipt.logs[0]!.logIndex).to.equal(afterLog ? 1 : 0);
      return receipt.blockNumber;
    } finally {
      await w.rpc("evm_setAutomine", [true]);
    }
  }

  before(async function () {
    await hre.network.provider.request({ method: "hardhat_reset", params: [] });
    server = await serveChain(hre);
    w = new Workload(hre, { tenants: 1, metersPerTenant: 1, reportersPerTenant: 1, minRevealDelay: 1, maxRevealDelay: 60 });
    await w.deploy();
    reporter = w.tenantReporters.get(1)![0]!;
    db = await createTestDatabase();
    billing = await openAsRole(db, "meterline_billing");
    indexer = await runIndexer(testConfig(w, server.url, { REORG_WINDOW: "128", MAX_BLOCK_RANGE: "500" }), db);
    await sync();
    await applySeed(billing, seed, { now: new Date("2019-12-15T00:00:00Z") });
    periodEnd = periodContaining(new Date((await w.latestTimestamp()) * 1000), "UTC").end.getTime();
    billingNow = new Date(periodEnd + 3 * 3_600_000);
  });
  after(async function () {
    await indexer?.stop();
    await db?.drop();
    await server?.close();
    await hre.network.provider.request({ method: "hardhat_reset", params: [] });
  });

  it("a reveal re-included in another block at another log index stays billed once; the finalized invoice never changes", async function () {
    const batch = await commit(5);
    const before = await w.snapshot();
    const first = await reveal(batch, false);
    // The chain moves past the period's end (+ grace) and far enough for the reveal to be confirmed.
    await w.rpc("evm_setNextBlockTimestamp", [Math.floor(periodEnd / 1000) + 2 * 3600]);
    await w.mine(CONFIRMATIONS + 5);
    await sync();
    const r = await bill();
    expect(r.finalized).to.have.length(1);
    const invoiceId = r.finalized[0]!.invoiceId;
    const original = await exportInvoice(billing, "1", invoiceId);
    const cited = original.invoice.lines[0]!.records;
    expect(cited).to.have.length(5);
    expect(cited.every((c) => c.seenAt.blockNumber === first.toString() && c.seenAt.logIndex === 0)).to.equal(true);

    // Reorg: back to before the reveal (deeper than CONFIRMATIONS), some empty blocks, then the same
    // reveal at log index 1 of a later block; the new branch outgrows the old one.
    await w.revert(before);
    await w.mine(4);
    const second = await reveal(batch, true);
    expect(second).to.not.equal(first);
    await w.rpc("evm_setNextBlockTimestamp", [Math.floor(periodEnd / 1000) + 2 * 3600 + 60]);
    await w.mine(CONFIRMATIONS + 10);
    await sync();
    const { rows: moved } = await db.pool.query<{ block_number: string; log_index: number }>("SELECT block_number::text AS block_number, log_index FROM usage_records");
    expect(moved.every((m) => m.block_number === second.toString() && m.log_index === 1)).to.equal(true);

    const again = await bill();
    expect(again.reorgCredits).to.deep.equal([]);
    expect(again.finalized).to.deep.equal([]);
    const now = await exportInvoice(billing, "1", invoiceId);
    expect(now.invoice).to.deep.equal(original.invoice);
    expect(now.creditNotes).to.deep.equal([]);
    // The next period's draft bills none of them again.
    const { rows: adj } = await db.pool.query<{ n: number }>("SELECT count(*)::int AS n FROM invoice_lines WHERE kind = 'adjustment'");
    expect(adj[0]!.n).to.equal(0);
    const audit = await auditDatabase({ db, rpcUrl: server.url });
    const invoicesSection = audit.sections.find((s) => s.id === "database-invoices")!;
    expect(invoicesSection.items.filter((i) => i.status !== "ok")).to.deep.equal([]);
  });

  it("a reveal gone for good is credited (reason reorg) and announced; back on chain later, it is billed again once", async function () {
    const batch = await commit(3);
    const before = await w.snapshot();
    await reveal(batch, false);
    await w.mine(CONFIRMATIONS + 2);
    await sync();
    // The December draft now bills the three records... until the period is finalized.
    billingNow = new Date(periodContaining(billingNow, "UTC").end.getTime() + 3 * 3_600_000);
    await w.rpc("evm_setNextBlockTimestamp", [Math.floor(billingNow.getTime() / 1000) - 3600]);
    await w.mine(CONFIRMATIONS + 1);
    await sync();
    const fin = await bill();
    expect(fin.finalized).to.have.length(1);
    const invoiceId = fin.finalized[0]!.invoiceId;
    const original = await exportInvoice(billing, "1", invoiceId);
    expect(original.invoice.lines.flatMap((l) => l.records)).to.have.length(3);

    // Reorg without the reveal; first sighting is not enough (the chain could still bring it back).
    await w.revert(before);
    await w.mine(CONFIRMATIONS + 8);
    await sync();
    const firstLook = await bill();
    expect(firstLook.reorgCredits).to.deep.equal([]);
    await w.mine(CONFIRMATIONS + 1);
    await sync();
    const credited = await bill();
    expect(credited.reorgCredits).to.have.length(1);
    expect(credited.reorgCredits[0]).to.deep.include({ invoiceId, records: 3, totalMinor: original.invoice.totalMinor });
    const doc = await exportInvoice(billing, "1", invoiceId);
    expect(doc.invoice).to.deep.equal(original.invoice);
    expect(doc.creditNotes.map((n) => n.creditNote.reason)).to.deep.equal(["reorg"]);
    const { rows: events } = await db.pool.query<{ payload: { creditNoteNumber: number; records: unknown[] } }>(
      "SELECT payload FROM webhook_outbox WHERE event_type = 'billing.record_reorged'",
    );
    expect(events).to.have.length(1);
    expect(events[0]!.payload.records).to.have.length(3);
    expect((await bill()).reorgCredits, "credited once").to.deep.equal([]);

    // The same reveal lands after all (still within its reveal window): billed again, once, as
    // late usage of its period on the current draft.
    await reveal(batch, false);
    await w.mine(CONFIRMATIONS + 1);
    await sync();
    await bill();
    const { rows: lines } = await db.pool.query<{ kind: string; n: number }>(
      `SELECT l.kind, count(r.*)::int AS n FROM invoice_lines l JOIN invoices i ON i.id = l.invoice_id AND i.status = 'draft'
         LEFT JOIN invoice_line_records r ON r.line_id = l.id GROUP BY l.kind ORDER BY l.kind`,
    );
    expect(lines).to.deep.include({ kind: "adjustment", n: 3 });
    expect((await invoices()).filter((i) => i.status === "finalized").map((i) => i.number)).to.deep.equal([1, 2]);
  });
});
