import { expect } from "chai";
import hre from "hardhat";
import pg from "pg";
import { openDatabase, type Database } from "../../db/connection";
import { migrate } from "../../db/migrate";
import { ChainIdMismatchError, ReorgTooDeepError } from "../../indexer/errors";
import { createTestDatabase, openAsRole, type TestDatabase } from "../helpers/database";
import { freshChain, Workload, type ChainServer } from "./helpers/chain";
import { startFaultProxy } from "./helpers/fault-proxy";
import { runIndexer, testConfig } from "./helpers/indexer";
import { startPrivatePostgres } from "./helpers/private-postgres";
import { compareWithTruth, groundTruth, waitForCheckpoint } from "./helpers/truth";

const exact = { lost: 0, duplicated: 0, problems: [] };

describe("indexer: faults (RPC, database, standby, deep reorgs)", function () {
  let server: ChainServer;
  let w: Workload;

  beforeEach(async function () {
    ({ server, w } = await freshChain(hre, { tenants: 2, metersPerTenant: 2, reportersPerTenant: 2 }));
  });

  afterEach(async function () {
    await server.close();
  });

  describe("on the shared PostgreSQL", function () {
    let db: TestDatabase;
    let asIndexer: Database;
    beforeEach(async function () {
      db = await createTestDatabase();
      // The indexer runs as its own least-privilege role; the test reads and sabotages as the owner.
      asIndexer = await openAsRole(db, "meterline_indexer");
    });
    afterEach(async function () {
      await db.drop();
    });

    it("keeps totals exact through RPC errors, 429s, delays, timeouts, truncated bodies and refused ranges", async function () {
      for (let i = 0; i < 10; i++) await w.round({ reveals: 3, recordsPerReveal: 25, withhold: i % 4 === 0 ? 1 : 0 });
      const proxy = await startFaultProxy(
        server.url,
        { error500: 0.08, tooMany429: 0.08, delay: 0.1, hang: 0.02, truncate: 0.06 },
        { maxLogSpan: 6, hangMs: 1_500 },
      );
      const indexer = await runIndexer(testConfig(w, proxy.url, { RPC_TIMEOUT_MS: "700", MAX_BLOCK_RANGE: "40" }), asIndexer);
      try {
        await waitForCheckpoint(db.pool, await w.head(), 120_000);
        const snap = await w.snapshot();
        await w.round({ reveals: 2, recordsPerReveal: 5 });
        await waitForCheckpoint(db.pool, await w.head(), 120_000);
        await w.revert(snap);
        for (let i = 0; i < 3; i++) await w.round({ reveals: 2, recordsPerReveal: 5 });
        await w.expirePending();
        await waitForCheckpoint(db.pool, await w.head(), 120_000);
        expect(await compareWithTruth(db.pool, await groundTruth(w.pub, w.address, w.deployBlock))).to.deep.equal(exact);
        for (const [fault, n] of Object.entries(proxy.injected)) expect(n, fault).to.be.greaterThan(0);
        expect(indexer.failure()).to.equal(null);
      } finally {
        await indexer.stop();
        await proxy.close();
      }
    });

    it("retries the batch when its database connections are killed (pg_terminate_backend)", async function () {
      for (let i = 0; i < 12; i++) await w.round({ reveals: 3, recordsPerReveal: 30 });
      const indexer = await runIndexer(testConfig(w, server.url, { MAX_BLOCK_RANGE: "3", FETCH_CONCURRENCY: "2" }), asIndexer);
      const admin = new pg.Client({ connectionString: db.url });
      await admin.connect();
      try {
        let killed = 0;
        const head = await w.head();
        for (let i = 0; i < 40; i++) {
          const { rowCount } = await admin.query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()",
          );
          killed += rowCount ?? 0;
          if (i % 10 === 0) await w.round({ reveals: 2, recordsPerReveal: 10 });
          await new Promise((r) => setTimeout(r, 40));
        }
        expect(killed).to.be.greaterThan(0);
        expect(head.number).to.be.lessThan((await w.head()).number);
        await waitForCheckpoint(db.pool, await w.head());
        expect(await compareWithTruth(db.pool, await groundTruth(w.pub, w.address, w.deployBlock))).to.deep.equal(exact);
        expect(indexer.failure()).to.equal(null);
      } finally {
        await admin.end();
        await indexer.stop();
      }
    });

    it("a standby waits while the writer holds the lease and takes over when it stops", async function () {
      for (let i = 0; i < 4; i++) await w.round({ reveals: 2, recordsPerReveal: 10 });
      const a = await runIndexer(testConfig(w, server.url), asIndexer);
      await waitForCheckpoint(db.pool, await w.head());
      const b = await runIndexer(testConfig(w, server.url, { METRICS_PORT: "0" }), asIndexer);
      try {
        await new Promise((r) => setTimeout(r, 300));
        expect((await fetch(`http://127.0.0.1:${b.metricsPort}/readyz`)).status).to.equal(503);
        expect((await fetch(`http://127.0.0.1:${b.metricsPort}/healthz`)).status).to.equal(200);
        const { rows } = await db.pool.query("SELECT count(*)::int AS n FROM service_leases");
        expect(rows[0].n).to.equal(1);
        await a.stop();
        for (let i = 0; i < 3; i++) await w.round({ reveals: 2, recordsPerReveal: 10 });
        await waitForCheckpoint(db.pool, await w.head());
        expect(await compareWithTruth(db.pool, await groundTruth(w.pub, w.address, w.deployBlock))).to.deep.equal(exact);
        expect((await fetch(`http://127.0.0.1:${b.metricsPort}/readyz`)).status).to.equal(200);
      } finally {
        await a.stop();
        await b.stop();
      }
    });

    it("stops with ReorgTooDeepError on a reorg deeper than REORG_WINDOW, leaving the data untouched", async function () {
      const snap = await w.snapshot();
      for (let i = 0; i < 6; i++) await w.round({ reveals: 2, recordsPerReveal: 5 });
      const indexer = await runIndexer(testConfig(w, server.url, { REORG_WINDOW: "4", CONFIRMATIONS: "0" }), asIndexer);
      await waitForCheckpoint(db.pool, await w.head());
      const before = await db.pool.query("SELECT count(*)::int AS n FROM usage_records");
      await w.revert(snap);
      for (let i = 0; i < 8; i++) await w.round({ reveals: 2, recordsPerReveal: 5 });
      let error: unknown;
      await indexer.done.catch((e: unknown) => (error = e));
      expect(error).to.be.instanceOf(ReorgTooDeepError);
      expect((error as Error).message).to.match(/REORG_WINDOW=4/);
      const after = await db.pool.query("SELECT count(*)::int AS n FROM usage_records");
      expect(after.rows[0].n).to.equal(before.rows[0].n);
    });

    it("refuses an RPC that serves another chain id", async function () {
      const config = { ...testConfig(w, server.url), chainId: 1 };
      const indexer = await runIndexer(config, asIndexer);
      let error: unknown;
      await indexer.done.catch((e: unknown) => (error = e));
      expect(error).to.be.instanceOf(ChainIdMismatchError);
      expect((error as Error).message).to.equal("RPC_URL serves chain id 31337 but CHAIN_ID is 1");
    });
  });

  it("survives a PostgreSQL restart mid-backfill (private server)", async function () {
    const pgServer = await startPrivatePostgres();
    const db = await openDatabase({ target: { kind: "postgres", url: pgServer.url }, maxConnections: 4 });
    try {
      await migrate(db.pool);
      for (let i = 0; i < 12; i++) await w.round({ reveals: 3, recordsPerReveal: 30 });
      const indexer = await runIndexer(testConfig(w, server.url, { MAX_BLOCK_RANGE: "2", FETCH_CONCURRENCY: "1" }), db);
      try {
        await new Promise((r) => setTimeout(r, 300));
        pgServer.stop();
        await w.round({ reveals: 2, recordsPerReveal: 10 });
        await new Promise((r) => setTimeout(r, 1_000));
        pgServer.start();
        await waitForCheckpoint(db.pool, await w.head(), 120_000);
        expect(await compareWithTruth(db.pool, await groundTruth(w.pub, w.address, w.deployBlock))).to.deep.equal(exact);
        expect(indexer.failure()).to.equal(null);
      } finally {
        await indexer.stop();
      }
    } finally {
      await db.close();
      pgServer.destroy();
    }
  });
});
