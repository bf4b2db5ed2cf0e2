import { expect } from "chai";
import hre from "hardhat";
import type { Address, Hex } from "viem";
import type { PackedRecord } from "../../chain/record";
import type { Database } from "../../db/connection";
import { createTestDatabase, openAsRole, type TestDatabase } from "../helpers/database";
import { freshChain, COMMIT_GAS, revealGas, Workload, type ChainServer } from "./helpers/chain";
import { runIndexer, testConfig } from "./helpers/indexer";
import { compareWithTruth, groundTruth, waitForCheckpoint } from "./helpers/truth";
import { auditDatabase } from "../../scripts/audit/database-audit";

interface Row {
  reporter: string;
  sequence: string;
  block: string;
  logIndex: number;
  dup: boolean;
}

/**
 * Record identity and idempotency keys through real reorgs (issue #10 items 2 and 3): the indexer,
 * running as its own database role, follows a Hardhat chain whose reveals are reverted and
 * re-included elsewhere.
 */
describe("indexer: record identity and duplicates across reorgs (Hardhat + PostgreSQL, as meterline_indexer)", function () {
  this.timeout(180_000);
  let server: ChainServer;
  let w: Workload;
  let db: TestDatabase;
  let asIndexer: Database;

  beforeEach(async function () {
    ({ server, w } = await freshChain(hre, { tenants: 2, metersPerTenant: 1, reportersPerTenant: 2 }));
    db = await createTestDatabase();
    asIndexer = await openAsRole(db, "meterline_indexer");
  });
  afterEach(async function () {
    await db.drop();
    await server.close();
  });

  async function mined(hash: Hex): Promise<void> {
    const receipt = await w.pub.waitForTransactionReceipt({ hash, pollingInterval: 5 });
    if (receipt.status !== "success") throw new Error(`transaction ${hash} reverted`);
  }
  /** A commit (calldata kept, so the same reveal can be included again after a reorg). */
  const prepare = (t: number, reporter: Address, records: PackedRecord[]) => ({ t, reporter, records, ...w.commitData(t, reporter, records) });
  type Prepared = ReturnType<typeof prepare>;
  /** Commit, wait the reveal delay, reveal: each in its own block. */
  async function commitReveal(p: Prepared): Promise<void> {
    await mined(await w.send(p.data, p.reporter, COMMIT_GAS));
    await w.mine(1);
    await mined(await w.send(w.revealData(p.t, p.reporter, p.salt, p.records), p.reporter, revealGas(p.records.length)));
  }
  const rows = async (slug: string): Promise<Row[]> =>
    (
      await db.pool.query<Row>(
        `SELECT '0x' || encode(r.reporter, 'hex') AS reporter, r.sequence::text AS sequence, r.block_number::text AS block,
                r.log_index AS "logIndex", r.is_duplicate AS dup
           FROM usage_records r JOIN tenants t ON t.id = r.tenant_id WHERE t.slug = $1 ORDER BY r.reporter, r.sequence`,
        [slug],
      )
    ).rows;
  const rollup = async (slug: string) =>
    (
      await db.pool.query<{ sum: string; count: number }>(
        `SELECT coalesce(sum(quantity_sum), 0)::text AS sum, coalesce(sum(record_count), 0)::int AS count
           FROM usage_rollups u JOIN tenants t ON t.id = u.tenant_id WHERE t.slug = $1`,
        [slug],
      )
    ).rows[0]!;
  const quantityOf = (r: PackedRecord) => r.packed & ((1n << 80n) - 1n);
  async function inSync(): Promise<void> {
    await waitForCheckpoint(db.pool, await w.head());
    expect(await compareWithTruth(db.pool, await groundTruth(w.pub, w.address, w.deployBlock))).to.deep.equal({ lost: 0, duplicated: 0, problems: [] });
  }

  it("a reveal reverted by a reorg and re-included at another block and log index keeps its identity: one row, counted once", async function () {
    const indexer = await runIndexer(testConfig(w, server.url), asIndexer);
    try {
      const [a] = w.tenantReporters.get(1)!;
      const [c] = w.tenantReporters.get(2)!;
      const snap = await w.snapshot();
      const reveal = prepare(1, a!, await w.makeRecords(1, a!, 3, await w.latestTimestamp()));
      await commitReveal(reveal);
      await inSync();
      const before = await rows("tenant-1");
      expect(before).to.have.length(3);
      const total = reveal.records.reduce((s, r) => s + quantityOf(r), 0n);
      expect(await rollup("tenant-1")).to.deep.equal({ sum: total.toString(), count: 3 });

      // The reorg: a longer branch where the same reveal lands later, after another log of its block.
      await w.revert(snap);
      await w.mine(3);
      await mined(await w.send(reveal.data, reveal.reporter, COMMIT_GAS));
      await w.mine(1);
      const other = prepare(2, c!, await w.makeRecords(2, c!, 1, await w.latestTimestamp()));
      await w.rpc("evm_setAutomine", [false]);
      try {
        await w.send(other.data, c!, COMMIT_GAS);
        await w.send(w.revealData(1, a!, reveal.salt, reveal.records), a!, revealGas(3));
        await w.mine(1);
      } finally {
        await w.rpc("evm_setAutomine", [true]);
      }
      await inSync();
      const after = await rows("tenant-1");
      const identity = (r: Row) => `${r.reporter}:${r.sequence}`;
      expect(after.map(identity)).to.deep.equal(before.map(identity));
      for (let i = 0; i < after.length; i++) {
        expect(after[i]!.block, "seen in another block").to.not.equal(before[i]!.block);
        expect(after[i]!.logIndex, "at another log index").to.equal(before[i]!.logIndex + 1);
      }
      expect(await rollup("tenant-1")).to.deep.equal({ sum: total.toString(), count: 3 });
    } finally {
      await indexer.stop();
    }
    expect(indexer.failure()).to.equal(null);
  });

  it("the same key from two reporters of a tenant counts once, in another tenant again; a reorg that drops the first occurrence promotes the second", async function () {
    const indexer = await runIndexer(testConfig(w, server.url), asIndexer);
    try {
      const [a, b] = w.tenantReporters.get(1)!;
      const [c] = w.tenantReporters.get(2)!;
      const key = `0x${"ab".repeat(32)}` as Hex;
      const now = await w.latestTimestamp();
      const keyed = async (t: number, r: Address) => (await w.makeRecords(t, r, 1, now)).map((x) => ({ ...x, ref: key }));
      const snap = await w.snapshot();
      const first = prepare(1, a!, await keyed(1, a!));
      const second = prepare(1, b!, await keyed(1, b!));
      const elsewhere = prepare(2, c!, await keyed(2, c!));
      await commitReveal(first);
      await commitReveal(second);
      await commitReveal(elsewhere);
      await inSync();
      expect((await rows("tenant-1")).map((r) => [r.reporter, r.dup])).to.have.deep.members([
        [a!.toLowerCase(), false],
        [b!.toLowerCase(), true],
      ]);
      expect(await rollup("tenant-1")).to.deep.equal({ sum: quantityOf(first.records[0]!).toString(), count: 1 });
      expect((await rows("tenant-2")).map((r) => r.dup)).to.deep.equal([false]);
      expect(await rollup("tenant-2")).to.deep.equal({ sum: quantityOf(elsewhere.records[0]!).toString(), count: 1 });
      // Billing's quota function agrees: one occurrence of the key.
      const { rows: usage } = await db.pool.query<{ v: string }>(
        "SELECT meter_usage((SELECT id FROM tenants WHERE slug = 'tenant-1'), 1, '-infinity', 'infinity')::text AS v",
      );
      expect(usage[0]!.v).to.equal(quantityOf(first.records[0]!).toString());

      // The canonical branch never had the first reveal: the second one is now the first occurrence.
      await w.revert(snap);
      await w.mine(2);
      await commitReveal(second);
      await commitReveal(elsewhere);
      await inSync();
      expect((await rows("tenant-1")).map((r) => [r.reporter, r.dup])).to.deep.equal([[b!.toLowerCase(), false]]);
      expect(await rollup("tenant-1")).to.deep.equal({ sum: quantityOf(second.records[0]!).toString(), count: 1 });
      expect((await rows("tenant-2")).map((r) => r.dup)).to.deep.equal([false]);
    } finally {
      await indexer.stop();
    }
    expect(indexer.failure()).to.equal(null);
  });

  it("the database audit flags wrong duplicate marking and rollups that disagree with the records that count", async function () {
    const [a, b] = w.tenantReporters.get(1)!;
    const key = `0x${"cd".repeat(32)}` as Hex;
    const now = await w.latestTimestamp();
    for (const r of [a!, b!]) await commitReveal(prepare(1, r, (await w.makeRecords(1, r, 2, now)).map((x, i) => ({ ...x, ref: i === 0 ? key : x.ref }))));
    const indexer = await runIndexer(testConfig(w, server.url), asIndexer);
    try {
      await inSync();
    } finally {
      await indexer.stop();
    }
    const attention = async () =>
      (await auditDatabase({ db, rpcUrl: server.url })).sections
        .filter((s) => s.id === "database-duplicates" || s.id === "database-rollups")
        .flatMap((s) => s.items.filter((i) => i.status === "attention").map((i) => `${i.label}: ${JSON.stringify(i.details)}`));
    expect(await attention()).to.deep.equal([]);
    const dups = await db.pool.query<{ n: number }>("SELECT count(*)::int AS n FROM usage_records WHERE is_duplicate");
    expect(dups.rows[0]!.n).to.equal(1);

    // The first occurrence marked as a duplicate too: wrong marking, and its bucket now counts a record that does not count.
    const first = "reporter = $1 AND ref = $2";
    await db.pool.query(`UPDATE usage_records SET is_duplicate = true WHERE ${first}`, [Buffer.from(a!.slice(2), "hex"), Buffer.from(key.slice(2), "hex")]);
    const flagged = await attention();
    expect(flagged).to.have.length(2);
    expect(flagged[0]).to.match(/^duplicate marking: .*marked duplicate but is the first occurrence/);
    expect(flagged[1]).to.match(/^hourly rollups: .*count 1\/0|^hourly rollups: .*bucket/);
    await db.pool.query(`UPDATE usage_records SET is_duplicate = false WHERE ${first}`, [Buffer.from(a!.slice(2), "hex"), Buffer.from(key.slice(2), "hex")]);
    expect(await attention()).to.deep.equal([]);

    // A rollup that counts a duplicate.
    await db.pool.query("UPDATE usage_rollups SET record_count = record_count + 1 WHERE (tenant_id, meter_id, bucket_start) IN (SELECT tenant_id, meter_id, bucket_start FROM usage_rollups LIMIT 1)");
    expect(await attention()).to.have.length(1);
  });
});
