import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { expect } from "chai";
import hre from "hardhat";
import type pg from "pg";
import { openDatabase, withTransaction, type Database } from "../../db/connection";
import { migrate } from "../../db/migrate";
import { buildUsageIndexes, DEFERRABLE_USAGE_INDEXES, deferUsageIndexes, usageIndexesPending } from "../../indexer/store/usage-indexes";
import { createTestDatabase, openAsRole, urlAsRole, type TestDatabase } from "../helpers/database";
import { spawnService, type ServiceProcess } from "../helpers/process";
import { freshChain, Workload, type ChainServer } from "./helpers/chain";
import { runIndexer, testConfig } from "./helpers/indexer";
import { compareWithTruth, groundTruth, waitForCheckpoint } from "./helpers/truth";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function usageIndexes(pool: pg.Pool): Promise<string[]> {
  const { rows } = await pool.query<{ indexname: string }>("SELECT indexname FROM pg_indexes WHERE tablename = 'usage_records' ORDER BY 1");
  return rows.map((r) => r.indexname);
}

async function pending(pool: pg.Pool): Promise<boolean> {
  const { rows } = await pool.query<{ pending: boolean }>("SELECT pending FROM usage_records_index_state");
  return rows[0]!.pending;
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

/** Every row the indexer derives, in a stable order, as text: two snapshots are equal when the data is identical. */
async function snapshot(pool: pg.Pool): Promise<string[]> {
  const out: string[] = [];
  for (const sql of [
    "SELECT r::text FROM usage_records r ORDER BY tenant_id, reporter, sequence",
    "SELECT r::text FROM usage_rollups r ORDER BY tenant_id, meter_id, bucket_start",
    "SELECT c::text FROM commitments c ORDER BY tx_hash, log_index",
    "SELECT block_number::text || encode(block_hash, 'hex') FROM checkpoints",
  ]) {
    const { rows } = await pool.query<Record<string, string>>(sql);
    for (const r of rows) out.push(Object.values(r)[0]!);
  }
  return out;
}

const KEPT_INDEXES = ["usage_records_duplicate_ref", "usage_records_first_ref", "usage_records_pkey"];
const ALL_INDEXES = [...KEPT_INDEXES, ...DEFERRABLE_USAGE_INDEXES].sort();

/**
 * Issue #14: a cold backfill into an empty usage_records defers its secondary indexes and builds
 * them before following the head; the state is durable, so a crash in between resumes correctly.
 * The build is held back with a lock on the state row (the build's first step), which pins the
 * indexer exactly between "backfilled to the head" and "indexes built".
 */
describe("indexer: secondary indexes after a cold backfill (Hardhat + PostgreSQL, as meterline_indexer)", function () {
  this.timeout(180_000);
  let server: ChainServer;
  let w: Workload;
  let db: TestDatabase;
  let asIndexer: Database;
  let blocker: pg.PoolClient | null = null;
  const running: ServiceProcess[] = [];

  beforeEach(async function () {
    ({ server, w } = await freshChain(hre, { tenants: 2, metersPerTenant: 2, reportersPerTenant: 2 }));
    for (let i = 0; i < 10; i++) await w.round({ reveals: 3, recordsPerReveal: 25 });
    db = await createTestDatabase();
    asIndexer = await openAsRole(db, "meterline_indexer");
  });
  afterEach(async function () {
    for (const p of running.splice(0)) await p.stop("SIGKILL");
    if (blocker) {
      await blocker.query("ROLLBACK").catch(() => undefined);
      blocker.release();
      blocker = null;
    }
    await db.drop();
    await server.close();
  });

  /**
   * Holds the state row FOR KEY SHARE: the build's first statement (FOR UPDATE on that row) waits on
   * it, the deferral's (FOR NO KEY UPDATE) does not.
   */
  async function holdBuild(): Promise<void> {
    blocker = await db.pool.connect();
    await blocker.query("BEGIN");
    await blocker.query("SELECT pending FROM usage_records_index_state FOR KEY SHARE");
  }
  async function releaseBuild(): Promise<void> {
    await blocker!.query("COMMIT");
    blocker!.release();
    blocker = null;
  }

  it("backfills without them, builds them before following the head, and the data matches the chain", async function () {
    const head = await w.head();
    expect(head.number - w.deployBlock).to.be.greaterThanOrEqual(16);
    await holdBuild();
    const indexer = await runIndexer(testConfig(w, server.url), asIndexer);
    try {
      await waitForCheckpoint(db.pool, head);
      // At the head, build pending: the deferred indexes are absent; identity, first occurrence and duplicates never left.
      await until("the build to start waiting", async () => {
        const { rows } = await db.pool.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%indexer_build_usage_indexes%'",
        );
        return rows[0]!.n > 0;
      });
      expect(await usageIndexes(db.pool)).to.deep.equal(KEPT_INDEXES);
      expect(await pending(db.pool)).to.equal(true);
      // It does not follow the head before the build: a new round stays unindexed meanwhile.
      await w.round({ reveals: 2, recordsPerReveal: 10 });
      await sleep(300);
      const { rows } = await db.pool.query<{ n: string }>("SELECT block_number::text AS n FROM checkpoints");
      expect(BigInt(rows[0]!.n)).to.equal(head.number);

      await releaseBuild();
      await waitForCheckpoint(db.pool, await w.head());
      expect(await usageIndexes(db.pool)).to.deep.equal(ALL_INDEXES);
      expect(await pending(db.pool)).to.equal(false);
      expect(indexer.failure()).to.equal(null);
      const cmp = await compareWithTruth(db.pool, await groundTruth(w.pub, w.address, w.deployBlock));
      expect(cmp).to.deep.equal({ lost: 0, duplicated: 0, problems: [] });
    } finally {
      await indexer.stop();
    }
  });

  it("a crash (SIGKILL) between the backfill and the build: the restart builds them and the data is identical", async function () {
    const head = await w.head();
    const env = {
      RPC_URL: server.url,
      CHAIN_ID: String(w.chainId),
      CONTRACT_ADDRESS: w.address,
      DEPLOY_BLOCK: w.deployBlock.toString(),
      DEPLOYMENTS_DIR: "/nonexistent-meterline-deployments",
      DATABASE_URL: urlAsRole(db.url, "meterline_indexer"),
      CONFIRMATIONS: "0",
      POLL_INTERVAL_MS: "50",
      METRICS_PORT: "off",
      LOG_LEVEL: "info",
    };
    await holdBuild();
    const first = spawnService("indexer/cli.ts", [], env);
    running.push(first);
    await waitForCheckpoint(db.pool, head);
    await first.waitFor(/secondary indexes deferred/);
    await until("the build to start waiting", async () => {
      const { rows } = await db.pool.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%indexer_build_usage_indexes%'",
      );
      return rows[0]!.n > 0;
    });
    await first.stop("SIGKILL");
    running.splice(running.indexOf(first), 1);
    // The killed process's backends go away (PostgreSQL rolls back the build in flight).
    await db.pool.query(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'meterline-indexer'",
    );
    await releaseBuild();
    await until("the killed process's backends to end", async () => {
      const { rows } = await db.pool.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'meterline-indexer'",
      );
      return rows[0]!.n === 0;
    });
    expect(await pending(db.pool)).to.equal(true);
    expect(await usageIndexes(db.pool)).to.deep.equal(KEPT_INDEXES);
    const before = await snapshot(db.pool);

    const second = spawnService("indexer/cli.ts", [], env);
    running.push(second);
    await second.waitFor(/secondary indexes of usage_records built/);
    expect(second.output()).to.include("still deferred");
    expect(await usageIndexes(db.pool)).to.deep.equal(ALL_INDEXES);
    expect(await pending(db.pool)).to.equal(false);
    expect(await snapshot(db.pool)).to.deep.equal(before);
    expect((await second.stop("SIGTERM")).code).to.equal(0);
    expect(second.output()).to.not.match(/permission denied|"level":50|"level":60/);
    const cmp = await compareWithTruth(db.pool, await groundTruth(w.pub, w.address, w.deployBlock));
    expect(cmp).to.deep.equal({ lost: 0, duplicated: 0, problems: [] });
  });

  it("does not defer (nor build) on a table that already holds records", async function () {
    const indexer = await runIndexer(testConfig(w, server.url), asIndexer);
    await waitForCheckpoint(db.pool, await w.head());
    await until("the build", async () => !(await pending(db.pool)));
    await indexer.stop();
    for (let i = 0; i < 10; i++) await w.round({ reveals: 1, recordsPerReveal: 5 });
    const head = await w.head();
    // Deferring or building would wait on this lock: reaching the head proves neither was tried.
    await holdBuild();
    const again = await runIndexer(testConfig(w, server.url), asIndexer);
    try {
      await waitForCheckpoint(db.pool, head);
      expect(await usageIndexes(db.pool)).to.deep.equal(ALL_INDEXES);
      expect(again.failure()).to.equal(null);
    } finally {
      await again.stop();
    }
  });

  it("the role cannot drop the indexes itself, only through the owner's function; on a table with records the function declines", async function () {
    const err = await asIndexer.pool.query("DROP INDEX usage_records_tenant_block").catch((e: Error) => e);
    expect((err as Error).message).to.match(/must be owner/);
    const indexer = await runIndexer(testConfig(w, server.url), asIndexer);
    await waitForCheckpoint(db.pool, await w.head());
    await until("the build", async () => !(await pending(db.pool)));
    await indexer.stop();
    expect(await withTransaction(asIndexer.pool, (c) => deferUsageIndexes(c))).to.equal(false);
    expect(await usageIndexes(db.pool)).to.deep.equal(ALL_INDEXES);
  });

  it("the same functions on the embedded PGlite", async function () {
    const dir = await mkdtemp(path.join(os.tmpdir(), "meterline-cold-backfill-"));
    const pglite = await openDatabase({ target: { kind: "pglite", dataDir: dir } });
    try {
      await migrate(pglite.pool);
      expect(await withTransaction(pglite.pool, (c) => deferUsageIndexes(c))).to.equal(true);
      expect(await usageIndexesPending(pglite.pool)).to.equal(true);
      expect(await usageIndexes(pglite.pool)).to.deep.equal(KEPT_INDEXES);
      await withTransaction(pglite.pool, (c) => buildUsageIndexes(c));
      expect(await usageIndexesPending(pglite.pool)).to.equal(false);
      expect(await usageIndexes(pglite.pool)).to.deep.equal(ALL_INDEXES);
    } finally {
      await pglite.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
