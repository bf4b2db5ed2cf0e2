import { copyFile, mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { expect } from "chai";
import type { Hex } from "viem";
import type { DecodedRecord } from "../../chain/events";
import { withTransaction } from "../../db/connection";
import { migrate, MIGRATIONS_DIR } from "../../db/migrate";
import { writeBatch } from "../../indexer/store/write-batch";
import { createTestDatabase, type TestDatabase } from "../helpers/database";
import { seedHex, syntheticBatch, syntheticContract } from "./helpers/batch";

const HOUR = 3600;
const BASE = 1_767_225_600; // 2026-01-01T00:00:00Z
const rec = (sequence: bigint, quantity: bigint, ref: Hex, hour: number): DecodedRecord => ({
  meterId: 1,
  periodStart: BASE + hour * HOUR + 60,
  periodEnd: BASE + hour * HOUR + 120,
  quantity,
  sequence,
  ref,
});

/** Upgrading a database indexed before 036: records keyed by identity, old duplicates marked, rollups rebuilt. */
describe("db: migration 036_usage_identity on a database indexed before it", function () {
  this.timeout(120_000);
  let db: TestDatabase;
  after(async () => {
    await db?.drop();
  });

  it("re-keys usage_records by identity, marks the later occurrences of each key and rebuilds the rollups they were counted in", async function () {
    db = await createTestDatabase({ migrate: false });
    const dir = await mkdtemp(path.join(tmpdir(), "meterline-035-"));
    try {
      for (const f of (await readdir(MIGRATIONS_DIR)).filter((f) => /^0([0-2]\d|3[0-57])_/.test(f))) await copyFile(path.join(MIGRATIONS_DIR, f), path.join(dir, f));
      await migrate(db.pool, dir);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    // Indexed the old way: nothing marked, every record in the rollups. (037, the name mapping,
    // is included because today's writer labels tenants from it; it is independent of 036.)
    const x = seedHex("legacy-x", 32);
    const y = seedHex("legacy-y", 32);
    const zero: Hex = `0x${"00".repeat(32)}`;
    const contract = await syntheticContract(db);
    const batch = syntheticBatch({
      slug: "legacy",
      meters: 1,
      reveals: [
        [rec(1n, 10n, x, 0), rec(2n, 20n, x, 1), rec(3n, 1n, zero, 1)],
        [rec(4n, 5n, y, 1), rec(5n, 7n, x, 2), rec(6n, 2n, zero, 2)],
      ],
    });
    await withTransaction(db.pool, (c) => writeBatch(c, contract, batch, { pruneBelow: 0n, copy: true }));
    await db.pool.query("UPDATE usage_records SET is_duplicate = false");
    await db.pool.query("DELETE FROM usage_rollups");
    await db.pool.query(
      `INSERT INTO usage_rollups (tenant_id, meter_id, bucket_start, quantity_sum, quantity_max, record_count)
       SELECT tenant_id, meter_id, date_trunc('hour', period_start, 'UTC'), sum(quantity), max(quantity), count(*) FROM usage_records GROUP BY 1, 2, 3`,
    );

    await migrate(db.pool);

    const { rows: marked } = await db.pool.query<{ sequence: string; dup: boolean }>(
      "SELECT sequence::text AS sequence, is_duplicate AS dup FROM usage_records ORDER BY sequence",
    );
    expect(marked.filter((r) => r.dup).map((r) => r.sequence)).to.deep.equal(["2", "5"]);
    const { rows: rollups } = await db.pool.query<{ at: number; sum: string; max: string; count: number }>(
      `SELECT extract(epoch FROM bucket_start)::int - $1 AS at, quantity_sum::text AS sum, quantity_max::text AS max, record_count::int AS count
         FROM usage_rollups ORDER BY bucket_start`,
      [BASE],
    );
    expect(rollups).to.deep.equal([
      { at: 0, sum: "10", max: "10", count: 1 },
      { at: HOUR, sum: "6", max: "5", count: 2 },
      { at: 2 * HOUR, sum: "2", max: "2", count: 1 },
    ]);
    const { rows: key } = await db.pool.query<{ def: string }>(
      "SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = 'usage_records'::regclass AND contype = 'p'",
    );
    expect(key[0]!.def).to.equal("PRIMARY KEY (tenant_id, reporter, sequence)");
    // The write path after the upgrade: a replay adds nothing, the keys stay as marked.
    expect((await withTransaction(db.pool, (c) => writeBatch(c, contract, batch, { pruneBelow: 0n, copy: true }))).records).to.equal(0);
  });
});
