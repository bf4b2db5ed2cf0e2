import { expect } from "chai";
import type { Address } from "viem";
import { withTransaction, type Database } from "../../db/connection";
import type { ContractRef } from "../../indexer/store/contract";
import { copyUsageRecordsStraight, findUsageLoader, USAGE_LOADER_ROLE, type UsageLoader } from "../../indexer/store/usage-records";
import { writeBatch } from "../../indexer/store/write-batch";
import { createTestDatabase, openAsRole, type TestDatabase } from "../helpers/database";
import { seedHex, syntheticBatch, syntheticContract } from "./helpers/batch";

const BASE = 1_767_225_600; // 2026-01-01T00:00:00Z

/**
 * Migration 048's loader role and the straight COPY path (issue #14): the indexer COPYs records
 * straight into usage_records as a role that may only insert there and bypasses row-level security
 * for that one statement; a batch the path cannot take as is rolls back to its savepoint untouched.
 */
describe("indexer: COPY straight into usage_records (meterline_usage_loader)", function () {
  this.timeout(120_000);
  let db: TestDatabase;
  let indexer: Database;
  let loader: UsageLoader;
  let run = 0;

  before(async () => {
    db = await createTestDatabase();
    indexer = await openAsRole(db, "meterline_indexer", 1);
    const found = await findUsageLoader(indexer.pool);
    expect(found).to.deep.equal({ role: USAGE_LOADER_ROLE, restore: "meterline_indexer" });
    loader = found!;
  });
  after(async () => {
    await db?.drop();
  });

  async function fresh(): Promise<{ contract: ContractRef; slug: string; salt: string }> {
    run++;
    const salt = `l${run}-`;
    const contract = await syntheticContract(indexer, `0x${(0xe000 + run).toString(16).padStart(40, "0")}` as Address, salt);
    return { contract, slug: `loader-${run}`, salt };
  }
  const count = async (slug: string) =>
    (await db.pool.query<{ n: number }>("SELECT count(*)::int AS n FROM usage_records r JOIN tenants t ON t.id = r.tenant_id WHERE t.slug = $1", [slug])).rows[0]!.n;
  const rec = (sequence: bigint, ref: string, hour = 0) => ({
    meterId: 1,
    periodStart: BASE + hour * 3600 + 60,
    periodEnd: BASE + hour * 3600 + 120,
    quantity: 10n ** 24n + sequence,
    sequence,
    ref: ref as `0x${string}`,
  });

  it("is a role that can only insert into usage_records: no login, not superuser, no SELECT anywhere; the indexer is a member", async function () {
    const { rows } = await db.pool.query(
      `SELECT rolsuper, rolbypassrls, rolcanlogin, rolinherit,
              pg_has_role('meterline_indexer', oid, 'MEMBER') AS indexer_member,
              (SELECT count(*)::int FROM pg_class c WHERE c.relowner = r.oid) AS owned
         FROM pg_roles r WHERE rolname = $1`,
      [USAGE_LOADER_ROLE],
    );
    expect(rows[0]).to.deep.equal({ rolsuper: false, rolbypassrls: true, rolcanlogin: false, rolinherit: false, indexer_member: true, owned: 0 });
    const grants = await db.pool.query<{ table_name: string; privilege_type: string }>(
      `SELECT table_name, privilege_type FROM information_schema.role_table_grants
        WHERE grantee = $1 AND table_schema = 'public' ORDER BY 1, 2`,
      [USAGE_LOADER_ROLE],
    );
    expect(grants.rows).to.deep.equal([{ table_name: "usage_records", privilege_type: "INSERT" }]);
    // BYPASSRLS is never inherited: as itself, the indexer still may not COPY into the table.
    const err = await withTransaction(indexer.pool, (c) => c.query("COPY usage_records (tenant_id) FROM STDIN")).catch((e: unknown) => e);
    expect((err as Error).message).to.match(/row-level security/);
  });

  it("a fresh batch goes straight in, as the batch path would write it, and the role is the indexer's again afterwards", async function () {
    const { contract, slug, salt } = await fresh();
    const batch = syntheticBatch({ slug, meters: 1, salt, reveals: [[rec(1n, seedHex(`a${run}`, 32)), rec(2n, seedHex(`b${run}`, 32), 1)], [rec(3n, seedHex(`c${run}`, 32))]] });
    // Tenants and meters first (as writeBatch does), with no reveals yet.
    await withTransaction(indexer.pool, (c) => writeBatch(c, contract, { ...batch, events: batch.events.filter((e) => e.kind !== "UsageRevealed") }, { pruneBelow: 0n, copy: true }));
    const reveals = batch.events.filter((e) => e.kind === "UsageRevealed");
    const { written, role } = await withTransaction(indexer.pool, async (c) => {
      const w = await copyUsageRecordsStraight(c, contract, reveals as never, batch.blockTimes, loader);
      const r = await c.query<{ role: string }>("SELECT current_user::text AS role");
      return { written: w, role: r.rows[0]!.role };
    });
    expect(role).to.equal("meterline_indexer");
    expect(written).to.not.equal(null);
    expect([...written!.inserted.values()]).to.deep.equal([3]);
    expect(written!.rollups.map((r) => ({ bucket: r.bucket - BASE, count: r.count, sum: r.sum }))).to.deep.equal([
      { bucket: 0, count: 2, sum: (2n * 10n ** 24n + 4n).toString() },
      { bucket: 3600, count: 1, sum: (10n ** 24n + 2n).toString() },
    ]);
    expect(await count(slug)).to.equal(3);
  });

  it("a replayed batch, or one repeating a stored key, is refused by the unique indexes and rolled back to its savepoint, leaving the transaction usable", async function () {
    const { contract, slug, salt } = await fresh();
    const key = seedHex(`k${run}`, 32);
    const first = syntheticBatch({ slug, meters: 1, salt, reveals: [[rec(1n, key)]] });
    await withTransaction(indexer.pool, (c) => writeBatch(c, contract, first, { pruneBelow: 0n, copy: true, loader }));
    expect(await count(slug)).to.equal(1);
    const reveals = (b: typeof first) => b.events.filter((e) => e.kind === "UsageRevealed") as never;

    // The same log again (an in-doubt commit re-applied): the primary key refuses it.
    const replay = await withTransaction(indexer.pool, async (c) => {
      const w = await copyUsageRecordsStraight(c, contract, reveals(first), first.blockTimes, loader);
      const r = await c.query<{ role: string }>("SELECT current_user::text AS role");
      return { w, role: r.rows[0]!.role };
    });
    expect(replay).to.deep.equal({ w: null, role: "meterline_indexer" });

    // A new log whose record repeats the stored first occurrence's key: usage_records_first_ref refuses it.
    const repeat = syntheticBatch({ slug, meters: 1, salt, block: 3, register: false, reveals: [[rec(2n, key, 1), rec(3n, seedHex(`n${run}`, 32), 1)]] });
    expect(await withTransaction(indexer.pool, (c) => copyUsageRecordsStraight(c, contract, reveals(repeat), repeat.blockTimes, loader))).to.equal(null);
    expect(await count(slug)).to.equal(1);

    // Through writeBatch the careful path takes over: the repeat is written and marked a duplicate.
    const result = await withTransaction(indexer.pool, (c) => writeBatch(c, contract, repeat, { pruneBelow: 0n, copy: true, loader }));
    expect(result.records).to.equal(2);
    const dup = await db.pool.query<{ sequence: string; dup: boolean }>(
      "SELECT r.sequence::text AS sequence, r.is_duplicate AS dup FROM usage_records r JOIN tenants t ON t.id = r.tenant_id WHERE t.slug = $1 ORDER BY r.sequence",
      [slug],
    );
    expect(dup.rows).to.deep.equal([
      { sequence: "1", dup: false },
      { sequence: "2", dup: true },
      { sequence: "3", dup: false },
    ]);
  });

  it("a loader whose grant was revoked while the indexer runs sends batches to the careful path, which writes them", async function () {
    const { contract, slug, salt } = await fresh();
    await db.pool.query(`REVOKE INSERT ON usage_records FROM ${USAGE_LOADER_ROLE}`);
    try {
      const batch = syntheticBatch({ slug, meters: 1, salt, reveals: [[rec(1n, seedHex(`g${run}`, 32)), rec(2n, seedHex(`h${run}`, 32))]] });
      const result = await withTransaction(indexer.pool, (c) => writeBatch(c, contract, batch, { pruneBelow: 0n, copy: true, loader }));
      expect(result.records).to.equal(2);
      expect(await count(slug)).to.equal(2);
    } finally {
      await db.pool.query(`GRANT INSERT ON usage_records TO ${USAGE_LOADER_ROLE}`);
    }
  });

  it("a batch naming a tenant not registered yet is left to the careful path, which refuses it loudly", async function () {
    const { contract, slug, salt } = await fresh();
    const batch = syntheticBatch({ slug, meters: 1, salt, register: false, reveals: [[rec(1n, seedHex(`u${run}`, 32))]] });
    const reveals = batch.events.filter((e) => e.kind === "UsageRevealed") as never;
    expect(await withTransaction(indexer.pool, (c) => copyUsageRecordsStraight(c, contract, reveals, batch.blockTimes, loader))).to.equal(null);
    const err = await withTransaction(indexer.pool, (c) => writeBatch(c, contract, batch, { pruneBelow: 0n, copy: true, loader })).catch((e: unknown) => e);
    expect((err as { code?: string }).code).to.equal("23502"); // tenant_id NOT NULL
  });
});
