import { expect } from "chai";
import pg from "pg";
import type { Address } from "viem";
import type { DecodedRecord, EventKind } from "../../chain/events";
import { withTransaction } from "../../db/connection";
import { CHANNELS, parseNotice } from "../../db/channels";
import { DatabaseQueryError } from "../../indexer/db-errors";
import { InconsistentStateError } from "../../indexer/errors";
import type { FetchedBatch } from "../../indexer/fetch";
import { deleteBlocksAbove, readRecentBlocks, writeBlocks } from "../../indexer/store/blocks";
import { initCheckpoint, readCheckpoint, saveCheckpoint } from "../../indexer/store/checkpoint";
import type { EventOf } from "../../indexer/store/columns";
import { resolveCommitments, revertCommitmentsAbove, writeCommitments } from "../../indexer/store/commitments";
import type { ContractRef } from "../../indexer/store/contract";
import { deleteMetersAbove, writeMeters } from "../../indexer/store/meters";
import { notifyUsage } from "../../indexer/store/notify";
import { writeReporterEvents } from "../../indexer/store/reporter-events";
import { revertAbove } from "../../indexer/store/revert";
import { addToRollups, recomputeRollups } from "../../indexer/store/rollups";
import { deleteTenantsAbove, writeTenants } from "../../indexer/store/tenants";
import { deleteUsageRecordsAbove, writeUsageRecords } from "../../indexer/store/usage-records";
import { writeBatch } from "../../indexer/store/write-batch";
import { createTestDatabase, type TestDatabase } from "../helpers/database";
import { SYNTHETIC_REPORTER, seedHex, syntheticBatch, syntheticContract, syntheticHeader } from "./helpers/batch";

const HOUR = 3600;
const BASE = 1_767_225_600; // 2026-01-01T00:00:00Z

const rec = (meterId: number, hour: number, quantity: bigint, sequence: bigint): DecodedRecord => ({
  meterId,
  periodStart: BASE + hour * HOUR + 60,
  periodEnd: BASE + hour * HOUR + 120,
  quantity,
  sequence,
  ref: seedHex(`ref-${sequence}`, 32),
});

/**
 * Each writer against the real schema, one at a time: what it writes, that writing it again adds
 * nothing, and what its revert half removes. (write-batch.test.ts covers the composed path.)
 */
describe("indexer: per-table writers (store/)", function () {
  this.timeout(120_000);
  let db: TestDatabase;
  let run = 0;
  /** A fresh contract and a batch on it: two meters, one reporter, reveals as given (block 1 registers, block 2 reveals). */
  let contract: ContractRef;
  let batch: FetchedBatch;
  let slug: string;

  const tx = <T>(fn: (c: pg.PoolClient) => Promise<T>) => withTransaction(db.pool, fn);
  const of = <K extends EventKind>(...kinds: K[]): EventOf<K>[] =>
    batch.events.filter((e): e is EventOf<K> => (kinds as EventKind[]).includes(e.kind));
  const count = async (sql: string, params: unknown[] = []) => (await db.pool.query<{ n: number }>(sql, params)).rows[0]!.n;

  before(async () => {
    db = await createTestDatabase();
  });
  after(async () => {
    await db?.drop();
  });

  async function setup(reveals: DecodedRecord[][] = []): Promise<void> {
    run++;
    slug = `store-${run}`;
    contract = await syntheticContract(db, `0x${run.toString(16).padStart(40, "0")}` as Address, `s${run}-`);
    batch = syntheticBatch({ slug, meters: 2, reveals, salt: `s${run}-` });
  }
  const tenantId = async () => (await db.pool.query<{ id: string }>("SELECT id::text FROM tenants WHERE slug = $1", [slug])).rows[0]!.id;

  describe("tenants and meters", function () {
    it("register once however often the batch is applied, and go away above a reorg's ancestor", async function () {
      await setup();
      for (let i = 0; i < 2; i++) {
        await tx(async (c) => {
          await writeTenants(c, contract, of("TenantRegistered"));
          await writeMeters(c, contract, of("MeterRegistered"));
        });
      }
      const id = await tenantId();
      expect(await count("SELECT count(*)::int AS n FROM meters WHERE tenant_id = $1", [id])).to.equal(2);
      const { rows } = await db.pool.query("SELECT name FROM meters WHERE tenant_id = $1 ORDER BY meter_id", [id]);
      expect(rows.map((r) => r.name)).to.deep.equal(["meter-1", "meter-2"]);

      await tx(async (c) => {
        await deleteMetersAbove(c, contract.id, 1n);
        await deleteTenantsAbove(c, contract.id, 1n);
      });
      expect(await count("SELECT count(*)::int AS n FROM tenants WHERE contract_id = $1", [contract.id])).to.equal(1);
      await tx(async (c) => {
        await deleteMetersAbove(c, contract.id, 0n);
        await deleteTenantsAbove(c, contract.id, 0n);
      });
      expect(await count("SELECT count(*)::int AS n FROM tenants WHERE contract_id = $1", [contract.id])).to.equal(0);
    });

    it("a meter of a tenant that was never registered fails loudly instead of being dropped", async function () {
      await setup();
      const err = await tx((c) => writeMeters(c, contract, of("MeterRegistered"))).catch((e: unknown) => e);
      expect((err as { code?: string }).code).to.equal("23502"); // not_null_violation on tenant_id
    });
  });

  describe("reporter events", function () {
    it("keep authorizations and revocations keyed by log", async function () {
      await setup();
      const authorize = of("ReporterAuthorized", "ReporterRevoked");
      const revoke = { ...authorize[0]!, kind: "ReporterRevoked" as const, logIndex: 99 };
      await tx((c) => writeTenants(c, contract, of("TenantRegistered")));
      for (let i = 0; i < 2; i++) await tx((c) => writeReporterEvents(c, contract, [...authorize, revoke]));
      const { rows } = await db.pool.query(
        "SELECT encode(reporter, 'hex') AS reporter, authorized FROM reporter_events WHERE tenant_id = $1 ORDER BY log_index",
        [await tenantId()],
      );
      const reporter = SYNTHETIC_REPORTER.slice(2);
      expect(rows).to.deep.equal([
        { reporter, authorized: true },
        { reporter, authorized: false },
      ]);
    });
  });

  describe("commitments", function () {
    it("a reveal resolves the latest commit of its pair, even when a lapsed one was re-committed", async function () {
      await setup([[rec(1, 0, 5n, 1n)]]);
      const first = of("Committed")[0]!;
      // The same (reporter, commitment) committed again later in block 1: only this one is revealed.
      const again = { ...first, logIndex: 50, txHash: seedHex(`s${run}-recommit`, 32) };
      await tx(async (c) => {
        await writeTenants(c, contract, of("TenantRegistered"));
        await writeCommitments(c, contract, [first, again], batch.blockTimes);
        await resolveCommitments(c, contract, of("UsageRevealed"), batch.blockTimes);
        // Replaying the resolution sets the same values and still counts one row per event.
        await resolveCommitments(c, contract, of("UsageRevealed"), batch.blockTimes);
      });
      const { rows } = await db.pool.query("SELECT log_index, status FROM commitments WHERE contract_id = $1 ORDER BY log_index", [contract.id]);
      expect(rows).to.deep.equal([
        { log_index: first.logIndex, status: "committed" },
        { log_index: 50, status: "revealed" },
      ]);

      await tx((c) => revertCommitmentsAbove(c, contract.id, 1n));
      const after = await db.pool.query("SELECT status, resolved_block_number FROM commitments WHERE contract_id = $1 ORDER BY log_index", [contract.id]);
      expect(after.rows).to.deep.equal([
        { status: "committed", resolved_block_number: null },
        { status: "committed", resolved_block_number: null },
      ]);
      expect(await tx((c) => revertCommitmentsAbove(c, contract.id, 0n))).to.equal(2);
    });

    it("a reveal with no commitment on record is an InconsistentStateError", async function () {
      await setup([[rec(1, 0, 5n, 1n)]]);
      await tx((c) => writeTenants(c, contract, of("TenantRegistered")));
      const err = await tx((c) => resolveCommitments(c, contract, of("UsageRevealed"), batch.blockTimes)).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(InconsistentStateError);
    });
  });

  describe("usage records and rollups", function () {
    const reveals = () => [
      [rec(1, 0, 10n, 1n), rec(1, 0, 30n, 2n), rec(2, 1, 7n, 3n)],
      [rec(1, 0, 20n, 4n), rec(1, 2, 1n, 5n)],
    ];
    const rollups = async () =>
      (
        await db.pool.query(
          `SELECT meter_id, extract(epoch FROM bucket_start)::int - $2 AS at, quantity_sum::text AS sum, quantity_max::text AS max, record_count::int AS count
           FROM usage_rollups WHERE tenant_id = $1 ORDER BY meter_id, bucket_start`,
          [await tenantId(), BASE],
        )
      ).rows;

    for (const copy of [true, false]) {
      it(`${copy ? "COPY" : "unnest"}: records return their per-hour aggregates once; a replay returns none`, async function () {
        await setup(reveals());
        const id = await tx(async (c) => {
          await writeTenants(c, contract, of("TenantRegistered"));
          await writeMeters(c, contract, of("MeterRegistered"));
          return (await c.query<{ id: string }>("SELECT id::text FROM tenants WHERE slug = $1", [slug])).rows[0]!.id;
        });
        const added = await tx((c) => writeUsageRecords(c, contract, of("UsageRevealed"), batch.blockTimes, { copy }));
        expect(added.inserted).to.deep.equal(new Map([[id, 5]]));
        expect(added.rollups).to.deep.equal([
          { tenantId: id, meterId: 1, bucket: BASE, sum: "60", max: "30", count: 3 },
          { tenantId: id, meterId: 1, bucket: BASE + 2 * HOUR, sum: "1", max: "1", count: 1 },
          { tenantId: id, meterId: 2, bucket: BASE + HOUR, sum: "7", max: "7", count: 1 },
        ]);
        expect(await tx((c) => writeUsageRecords(c, contract, of("UsageRevealed"), batch.blockTimes, { copy }))).to.deep.equal({ rollups: [], inserted: new Map() });
        expect(await count("SELECT count(*)::int AS n FROM usage_records WHERE contract_id = $1", [contract.id])).to.equal(5);
      });
    }

    it("rollups add sums and counts and keep the maximum; a recompute after a delete rebuilds the maximum", async function () {
      await setup(reveals());
      const { rollups: added } = await tx(async (c) => {
        await writeTenants(c, contract, of("TenantRegistered"));
        await writeMeters(c, contract, of("MeterRegistered"));
        return writeUsageRecords(c, contract, of("UsageRevealed"), batch.blockTimes, { copy: false });
      });
      await tx((c) => addToRollups(c, added));
      expect(await rollups()).to.deep.equal([
        { meter_id: 1, at: 0, sum: "60", max: "30", count: 3 },
        { meter_id: 1, at: 2 * HOUR, sum: "1", max: "1", count: 1 },
        { meter_id: 2, at: HOUR, sum: "7", max: "7", count: 1 },
      ]);
      // Deltas merge into existing buckets (what a later batch with records in the same hour does).
      await tx((c) => addToRollups(c, [{ ...added[0]!, sum: "5", max: "100", count: 1 }]));
      expect((await rollups())[0]).to.deep.equal({ meter_id: 1, at: 0, sum: "65", max: "100", count: 4 });

      // Drop the record holding hour 0's maximum (30) and recompute: the maximum falls back to 20.
      await db.pool.query("DELETE FROM usage_records WHERE contract_id = $1 AND sequence = 2", [contract.id]);
      await tx((c) => recomputeRollups(c, [added[0]!, added[1]!]));
      expect(await rollups()).to.deep.equal([
        { meter_id: 1, at: 0, sum: "30", max: "20", count: 2 },
        { meter_id: 1, at: 2 * HOUR, sum: "1", max: "1", count: 1 },
        { meter_id: 2, at: HOUR, sum: "7", max: "7", count: 1 },
      ]);

      // Records above block 1 go; their buckets come back with what each lost, and recompute to nothing.
      const removed = await tx((c) => deleteUsageRecordsAbove(c, contract.id, 1n));
      expect(removed.buckets.map((b) => [b.meterId, b.bucket - BASE]).sort()).to.deep.equal([
        [1, 0],
        [1, 2 * HOUR],
        [2, HOUR],
      ]);
      expect(removed.deleted).to.deep.equal(new Map([[await tenantId(), 4]]));
      expect(removed.firstRefs).to.have.length(4);
      await tx((c) => recomputeRollups(c, removed.buckets));
      expect(await rollups()).to.deep.equal([]);
    });
  });

  describe("blocks and checkpoint", function () {
    it("store headers, prune below the window, and forget blocks above a reorg's ancestor", async function () {
      await setup();
      const headers = [1, 2, 3, 4, 5].map((n) => syntheticHeader(n, `s${run}-`));
      await tx((c) => writeBlocks(c, contract.id, headers.slice(0, 2), 0n));
      await tx((c) => writeBlocks(c, contract.id, headers.slice(2), 3n));
      // The start block (0, from initCheckpoint) and 1, 2 have left the window.
      expect((await readRecentBlocks(db.pool, contract.id)).map((b) => b.number)).to.deep.equal([5n, 4n, 3n]);
      // A block seen again after a reorg overwrites its row.
      const replaced = syntheticHeader(5, `s${run}-other-`);
      await tx((c) => writeBlocks(c, contract.id, [replaced], 3n));
      expect((await readRecentBlocks(db.pool, contract.id))[0]!.hash).to.equal(replaced.hash);
      await tx((c) => deleteBlocksAbove(c, contract.id, 3n));
      expect((await readRecentBlocks(db.pool, contract.id)).map((b) => b.number)).to.deep.equal([3n]);
    });

    it("initCheckpoint never moves an existing checkpoint; saveCheckpoint does", async function () {
      await setup();
      const start = await readCheckpoint(db.pool, contract.id);
      expect(start!.number).to.equal(0n);
      const h = syntheticHeader(9, `s${run}-`);
      await initCheckpoint(db.pool, contract.id, { number: 9n, hash: h.hash, time: h.timestamp });
      expect(await readCheckpoint(db.pool, contract.id)).to.deep.equal(start);
      await tx((c) => saveCheckpoint(c, contract.id, { number: 9n, hash: h.hash, time: h.timestamp }));
      expect(await readCheckpoint(db.pool, contract.id)).to.deep.equal({ number: 9n, hash: h.hash, time: h.timestamp });
    });
  });

  describe("notify", function () {
    it("delivers usage notices of the declared shape on commit, and nothing on rollback", async function () {
      const listener = new pg.Client({ connectionString: db.url });
      await listener.connect();
      const payloads: (string | undefined)[] = [];
      listener.on("notification", (n) => payloads.push(n.payload));
      await listener.query(`LISTEN ${CHANNELS.usage}`);
      try {
        const rollback = new Error("rolled back");
        await tx(async (c) => {
          await notifyUsage(c, [{ tenantId: "1", records: 3, toBlock: "10" }]);
          throw rollback;
        }).catch((e: unknown) => expect(e).to.equal(rollback));
        await tx((c) => notifyUsage(c, [{ tenantId: "2", records: -4, toBlock: "11", reorg: true }]));
        await listener.query("SELECT 1");
        expect(payloads.map((p) => parseNotice(CHANNELS.usage, p))).to.deep.equal([{ tenantId: "2", records: -4, toBlock: "11", reorg: true }]);
      } finally {
        await listener.end();
      }
    });
  });

  describe("revert", function () {
    it("refuses to orphan a tenant that billing already configured: InconsistentStateError with the foreign-key error as cause", async function () {
      await setup([[rec(1, 0, 5n, 1n)]]);
      await tx((c) => writeBatch(c, contract, batch, { pruneBelow: 0n }));
      await db.pool.query("INSERT INTO meter_configs (tenant_id, meter_id, aggregation, display_name) VALUES ($1, 1, 'SUM', 'm')", [await tenantId()]);
      const ancestor = (await readCheckpoint(db.pool, contract.id))!;
      const genesis = { number: 0n, hash: syntheticHeader(0, `s${run}-`).hash, time: 0n };
      const err = await tx((c) => revertAbove(c, contract, genesis)).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(InconsistentStateError);
      expect((err as InconsistentStateError).cause).to.be.instanceOf(DatabaseQueryError);
      expect(((err as InconsistentStateError).cause as DatabaseQueryError).code).to.equal("23503");
      // Nothing moved: the transaction rolled back.
      expect(await readCheckpoint(db.pool, contract.id)).to.deep.equal(ancestor);
      expect(await count("SELECT count(*)::int AS n FROM usage_records WHERE contract_id = $1", [contract.id])).to.equal(1);
    });
  });
});
