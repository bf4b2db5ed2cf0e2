import { expect } from "chai";
import type { Address, Hex } from "viem";
import type { DecodedRecord } from "../../chain/events";
import { withTransaction } from "../../db/connection";
import type { FetchedBatch } from "../../indexer/fetch";
import type { ContractRef } from "../../indexer/store/contract";
import { recomputeRollups } from "../../indexer/store/rollups";
import { findUsageLoader, promoteNextOccurrences, type UsageLoader } from "../../indexer/store/usage-records";
import { writeBatch } from "../../indexer/store/write-batch";
import { createTestDatabase, openAsRole, type TestDatabase } from "../helpers/database";
import type { Database } from "../../db/connection";
import { seedHex, syntheticBatch, syntheticContract } from "./helpers/batch";

const HOUR = 3600;
const BASE = 1_767_225_600; // 2026-01-01T00:00:00Z
const ZERO: Hex = `0x${"00".repeat(32)}`;
const REPORTER_B = "0x00000000000000000000000000000000000000bb" as Address;

const rec = (sequence: bigint, quantity: bigint, ref: Hex, hour = 0, meterId = 1): DecodedRecord => ({
  meterId,
  periodStart: BASE + hour * HOUR + 60,
  periodEnd: BASE + hour * HOUR + 120,
  quantity,
  sequence,
  ref,
});

/**
 * Idempotency keys (issue #10 item 3): the indexer marks every later occurrence of a tenant's
 * non-zero ref is_duplicate in chain order, and duplicates are not usage (rollups). Written as the
 * indexer's own role, meterline_indexer, through the composed batch path.
 */
describe("indexer: duplicates by idempotency key (store/)", function () {
  this.timeout(120_000);
  let db: TestDatabase;
  let indexer: Database;
  let run = 0;
  let loader: UsageLoader | null = null;

  before(async () => {
    db = await createTestDatabase();
    indexer = await openAsRole(db, "meterline_indexer", 1);
    loader = await findUsageLoader(indexer.pool);
    expect(loader, "migration 048's loader role").to.not.equal(null);
  });
  after(async () => {
    await db?.drop();
  });

  async function contractFor(label: string): Promise<{ contract: ContractRef; salt: string; slug: string }> {
    run++;
    const salt = `d${run}-`;
    return { contract: await syntheticContract(indexer, `0x${(0xd000 + run).toString(16).padStart(40, "0")}` as Address, salt), salt, slug: `${label}-${run}` };
  }
  // straight: COPY into usage_records as the loader (it falls back to staging when a batch repeats
  // a stored key or log); staging: COPY into staging, then INSERT … SELECT; unnest: PGlite's path.
  type WritePath = "straight" | "staging" | "unnest";
  const apply = (contract: ContractRef, batch: FetchedBatch, path: WritePath) =>
    withTransaction(indexer.pool, (c) => writeBatch(c, contract, batch, { pruneBelow: 0n, copy: path !== "unnest", loader: path === "straight" ? loader : null }));
  const records = async (slug: string) =>
    (
      await db.pool.query<{ sequence: string; reporter: string; dup: boolean; block: string }>(
        `SELECT r.sequence::text AS sequence, encode(r.reporter, 'hex') AS reporter, r.is_duplicate AS dup, r.block_number::text AS block
           FROM usage_records r JOIN tenants t ON t.id = r.tenant_id WHERE t.slug = $1
          ORDER BY r.block_number, r.log_index, r.record_index`,
        [slug],
      )
    ).rows.map((r) => `${r.reporter.slice(-2)}:${r.sequence}${r.dup ? " dup" : ""}`);
  const rollups = async (slug: string) =>
    (
      await db.pool.query<{ sum: string; count: number }>(
        `SELECT coalesce(sum(quantity_sum), 0)::text AS sum, coalesce(sum(record_count), 0)::int AS count
           FROM usage_rollups u JOIN tenants t ON t.id = u.tenant_id WHERE t.slug = $1`,
        [slug],
      )
    ).rows[0]!;

  for (const path of ["straight", "staging", "unnest"] as const) {
    it(`${path}: the same ref twice in one batch (same reporter, two sequences) -> the second is a duplicate; rollups count once; a replay changes nothing`, async function () {
      const { contract, salt, slug } = await contractFor("same-batch");
      const x = seedHex(`key-x-${run}`, 32);
      const batch = syntheticBatch({
        slug,
        meters: 1,
        salt,
        reveals: [
          [rec(1n, 10n, x), rec(2n, 20n, seedHex(`key-y-${run}`, 32)), rec(3n, 30n, x)],
          [rec(4n, 40n, x), rec(5n, 1n, ZERO), rec(6n, 2n, ZERO)],
        ],
      });
      const result = await apply(contract, batch, path);
      expect(result.records, "duplicates are still records (notify, metrics)").to.equal(6);
      expect(await records(slug)).to.deep.equal(["aa:1", "aa:2", "aa:3 dup", "aa:4 dup", "aa:5", "aa:6"]);
      expect(await rollups(slug)).to.deep.equal({ sum: "33", count: 4 });
      expect(await apply(contract, batch, path)).to.deep.equal({ records: 0, tenants: [] });
      expect(await records(slug)).to.deep.equal(["aa:1", "aa:2", "aa:3 dup", "aa:4 dup", "aa:5", "aa:6"]);
      expect(await rollups(slug)).to.deep.equal({ sum: "33", count: 4 });
    });
  }

  for (const path of ["straight", "staging"] as const) {
    it(`${path}: a ref first seen in an earlier batch, repeated by another reporter of the tenant -> duplicate; another tenant's same ref counts`, async function () {
      const x = seedHex(`key-shared-${run}`, 32);
      const a = await contractFor("tenant-a");
      await apply(a.contract, syntheticBatch({ slug: a.slug, meters: 1, salt: a.salt, reporters: [REPORTER_B], reveals: [[rec(1n, 5n, x)]] }), path);
      await apply(
        a.contract,
        syntheticBatch({ slug: a.slug, meters: 1, salt: a.salt, block: 3, register: false, reveals: [[rec(1n, 7n, x, 1)], [rec(2n, 9n, x, 2)]] }),
        path,
      );
      expect(await records(a.slug)).to.deep.equal(["bb:1", "aa:1 dup", "aa:2 dup"]);
      expect(await rollups(a.slug)).to.deep.equal({ sum: "5", count: 1 });

      const b = await contractFor("tenant-b");
      await apply(b.contract, syntheticBatch({ slug: b.slug, meters: 1, salt: b.salt, reveals: [[rec(1n, 11n, x)]] }), "unnest");
      expect(await records(b.slug)).to.deep.equal(["aa:1"]);
      expect(await rollups(b.slug)).to.deep.equal({ sum: "11", count: 1 });
    });
  }

  it("the partial unique index refuses a second first occurrence of a key", async function () {
    const x = seedHex(`key-unique-${run}`, 32);
    const { contract, salt, slug } = await contractFor("unique");
    await apply(contract, syntheticBatch({ slug, meters: 1, salt, reveals: [[rec(1n, 5n, x), rec(2n, 6n, x)]] }), "straight");
    const err = await indexer.pool
      .query("UPDATE usage_records SET is_duplicate = false WHERE tenant_id = (SELECT id FROM tenants WHERE slug = $1)", [slug])
      .catch((e: unknown) => e);
    expect((err as { code?: string }).code).to.equal("23505");
    expect((err as { constraint?: string }).constraint).to.equal("usage_records_first_ref");
  });

  it("when a first occurrence is removed, the next remaining occurrence in chain order becomes the first and counts in the rollups", async function () {
    const x = seedHex(`key-promote-${run}`, 32);
    const { contract, salt, slug } = await contractFor("promote");
    await apply(contract, syntheticBatch({ slug, meters: 1, salt, reporters: [REPORTER_B], reveals: [[rec(1n, 5n, x)]] }), "straight");
    await apply(contract, syntheticBatch({ slug, meters: 1, salt, block: 3, register: false, reveals: [[rec(1n, 7n, x, 1), rec(2n, 9n, x, 1)]] }), "straight");
    expect(await records(slug)).to.deep.equal(["bb:1", "aa:1 dup", "aa:2 dup"]);
    // Remove the first occurrence by itself (a reorg removes a whole suffix of the chain, so this is
    // the case the revert path must also get right whatever removed the record).
    const { rows } = await db.pool.query<{ tenant_id: string; ref: Buffer }>(
      "DELETE FROM usage_records WHERE tenant_id = (SELECT id FROM tenants WHERE slug = $1) AND NOT is_duplicate RETURNING tenant_id::text, ref",
      [slug],
    );
    const promoted = await withTransaction(indexer.pool, async (c) => {
      const buckets = await promoteNextOccurrences(c, rows.map((r) => ({ tenantId: r.tenant_id, ref: r.ref })));
      await recomputeRollups(c, [...buckets, { tenantId: rows[0]!.tenant_id, meterId: 1, bucket: BASE }]);
      return buckets;
    });
    expect(promoted).to.deep.equal([{ tenantId: rows[0]!.tenant_id, meterId: 1, bucket: BASE + HOUR }]);
    expect(await records(slug)).to.deep.equal(["aa:1", "aa:2 dup"]);
    expect(await rollups(slug)).to.deep.equal({ sum: "7", count: 1 });
  });
});
