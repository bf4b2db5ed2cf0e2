import { expect } from "chai";
import type { FetchedBatch } from "../../indexer/fetch";
import { withTransaction } from "../../db/connection";
import { findUsageLoader, type UsageLoader } from "../../indexer/store/usage-records";
import { STAGE_DDL, writeBatch } from "../../indexer/store/write-batch";
import type { Database } from "../../db/connection";
import { createTestDatabase, openAsRole, type TestDatabase } from "../helpers/database";
import { seedHex, syntheticBatch, syntheticContract } from "./helpers/batch";

/** Tenant 1 with two meters; `reveals` reveals of `perReveal` records each, alternating meters. */
function makeBatch(reveals: number, perReveal: number): FetchedBatch {
  let seq = 1n;
  return syntheticBatch({
    slug: "acme",
    meters: 2,
    reveals: Array.from({ length: reveals }, (_, i) =>
      Array.from({ length: perReveal }, (_, j) => ({
        meterId: 1 + (j % 2),
        periodStart: 1_699_990_000 + j * 60,
        periodEnd: 1_699_990_060 + j * 60,
        sequence: seq++,
        quantity: 10n ** 20n + BigInt(i * perReveal + j + 1),
        ref: seedHex(`ref-${i}-${j}`, 32),
      })),
    ),
  });
}

const setup = (db: TestDatabase) => syntheticContract(db);

async function snapshot(db: TestDatabase) {
  const records = await db.pool.query(
    `SELECT tenant_id::text, meter_id, period_start, period_end, quantity::text, sequence::text, encode(ref, 'hex') AS ref,
            encode(reporter, 'hex') AS reporter, encode(commitment, 'hex') AS commitment, chain_id::text,
            encode(tx_hash, 'hex') AS tx, log_index, record_index, block_number::text, encode(block_hash, 'hex') AS bh, block_time
     FROM usage_records ORDER BY tx_hash, log_index, record_index`,
  );
  const rollups = await db.pool.query(
    `SELECT meter_id, bucket_start, quantity_sum::text, quantity_max::text, record_count::int
     FROM usage_rollups ORDER BY meter_id, bucket_start`,
  );
  const commitments = await db.pool.query("SELECT status, count(*)::int AS n FROM commitments GROUP BY status ORDER BY status");
  return { records: records.rows, rollups: rollups.rows, commitments: commitments.rows };
}

/**
 * The three ways records reach usage_records: COPY straight in as meterline_usage_loader (migration
 * 048, the server default), COPY into staging then INSERT … SELECT (no loader role), unnest (PGlite).
 */
type WritePath = "straight" | "staging" | "unnest";
const PATHS: WritePath[] = ["straight", "staging", "unnest"];

/** Opens the database as the indexer's own role, with the loader for the straight path. */
async function asIndexer(db: TestDatabase, path: WritePath): Promise<{ indexer: Database; opts: { copy: boolean; loader: UsageLoader | null } }> {
  const indexer = await openAsRole(db, "meterline_indexer", 1);
  const loader = path === "straight" ? await findUsageLoader(indexer.pool) : null;
  if (path === "straight") expect(loader, "migration 048 created the loader role (the tests run migrations as a superuser)").to.not.equal(null);
  return { indexer, opts: { copy: path !== "unnest", loader } };
}

describe("indexer: write path (COPY straight, COPY staging, unnest)", function () {
  this.timeout(120_000);
  const REVEALS = 4;
  const PER_REVEAL = 700;

  for (const path of PATHS) {
    it(`${path}: re-applying the same batch adds nothing (exactly once)`, async function () {
      // One connection, so the replay runs on the session whose staging table the first write used.
      const db = await createTestDatabase({ maxConnections: 1 });
      try {
        const contract = await setup(db);
        const { indexer, opts } = await asIndexer(db, path);
        const write = (b: FetchedBatch) => withTransaction(indexer.pool, (c) => writeBatch(c, contract, b, { pruneBelow: 0n, ...opts }));
        const batch = makeBatch(REVEALS, PER_REVEAL);
        const first = await write(batch);
        expect(first.records).to.equal(REVEALS * PER_REVEAL);
        const before = await snapshot(db);
        expect(before.records).to.have.length(REVEALS * PER_REVEAL);
        expect(before.rollups.reduce((s, r: { record_count: number }) => s + r.record_count, 0)).to.equal(REVEALS * PER_REVEAL);
        expect(before.commitments).to.deep.equal([{ status: "revealed", n: REVEALS }]);

        // A replay after an in-doubt commit: same rows, same rollups, nothing reported as new.
        const again = await write(batch);
        expect(again).to.deep.equal({ records: 0, tenants: [] });
        expect(await snapshot(db)).to.deep.equal(before);
      } finally {
        await db.drop();
      }
    });
  }

  it("the three paths write identical rows and rollups", async function () {
    const batch = makeBatch(REVEALS, PER_REVEAL);
    const snaps = [];
    for (const path of PATHS) {
      const db = await createTestDatabase({ maxConnections: 1 });
      try {
        const contract = await setup(db);
        const { indexer, opts } = await asIndexer(db, path);
        await withTransaction(indexer.pool, (c) => writeBatch(c, contract, batch, { pruneBelow: 0n, ...opts }));
        snaps.push(await snapshot(db));
      } finally {
        await db.drop();
      }
    }
    expect(snaps[0]).to.deep.equal(snaps[1]);
    expect(snaps[0]).to.deep.equal(snaps[2]);
  });

  it("COPY: rows staged by a rolled-back batch do not leak into the retry", async function () {
    const db = await createTestDatabase({ maxConnections: 1 });
    try {
      const contract = await setup(db);
      const batch = makeBatch(REVEALS, PER_REVEAL);
      // The session's staging table already exists (as after any earlier committed batch).
      await db.pool.query(STAGE_DDL);
      const failure = new Error("connection lost after the COPY");
      const err = await withTransaction(db.pool, async (c) => {
        await writeBatch(c, contract, batch, { pruneBelow: 0n, copy: true });
        throw failure;
      }).catch((e: unknown) => e);
      expect(err).to.equal(failure);
      expect((await db.pool.query("SELECT count(*)::int AS n FROM usage_records")).rows[0].n).to.equal(0);
      const retried = await withTransaction(db.pool, (c) => writeBatch(c, contract, batch, { pruneBelow: 0n, copy: true }));
      expect(retried.records).to.equal(REVEALS * PER_REVEAL);
      const snap = await snapshot(db);
      expect(snap.records).to.have.length(REVEALS * PER_REVEAL);
      expect(snap.rollups.reduce((s, r: { record_count: number }) => s + r.record_count, 0)).to.equal(REVEALS * PER_REVEAL);
    } finally {
      await db.drop();
    }
  });
});
