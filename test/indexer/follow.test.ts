import { expect } from "chai";
import hre from "hardhat";
import pg from "pg";
import { freshChain, Workload, type ChainServer } from "./helpers/chain";
import { runIndexer, testConfig } from "./helpers/indexer";
import { compareWithTruth, groundTruth, waitForCheckpoint } from "./helpers/truth";
import type { Database } from "../../db/connection";
import { createTestDatabase, openAsRole, type TestDatabase } from "../helpers/database";

describe("indexer: backfill, follow and reorgs (Hardhat + PostgreSQL, as meterline_indexer)", function () {
  let server: ChainServer;
  let w: Workload;
  let db: TestDatabase;
  /** The indexer writes as its own least-privilege role; the test reads as the owner. */
  let asIndexer: Database;

  beforeEach(async function () {
    ({ server, w } = await freshChain(hre, { tenants: 3, metersPerTenant: 2, reportersPerTenant: 2 }));
    db = await createTestDatabase();
    asIndexer = await openAsRole(db, "meterline_indexer");
  });

  afterEach(async function () {
    await db.drop();
    await server.close();
  });

  it("backfills history, then follows new blocks; the database equals the chain and NOTIFY fires", async function () {
    for (let i = 0; i < 8; i++) await w.round({ reveals: 4, recordsPerReveal: 30, withhold: i % 3 === 0 ? 1 : 0 });
    await w.expirePending();
    const indexer = await runIndexer(testConfig(w, server.url, { METRICS_PORT: "0" }), asIndexer);
    const listener = new pg.Client({ connectionString: db.url });
    await listener.connect();
    const notes: { tenantId: string; records: number; toBlock: string }[] = [];
    listener.on("notification", (n) => notes.push(JSON.parse(n.payload ?? "{}")));
    await listener.query("LISTEN meterline_usage");
    try {
      await waitForCheckpoint(db.pool, await w.head());
      let truth = await groundTruth(w.pub, w.address, w.deployBlock);
      let cmp = await compareWithTruth(db.pool, truth);
      expect(cmp).to.deep.equal({ lost: 0, duplicated: 0, problems: [] });
      expect(truth.records.size).to.be.greaterThan(50);

      // Follow: new rounds arrive while the indexer polls.
      let followed = 0;
      for (let i = 0; i < 6; i++) followed += await w.round({ reveals: 3, recordsPerReveal: 10, withhold: 1 });
      await w.expirePending();
      await waitForCheckpoint(db.pool, await w.head());
      truth = await groundTruth(w.pub, w.address, w.deployBlock);
      cmp = await compareWithTruth(db.pool, truth);
      expect(cmp).to.deep.equal({ lost: 0, duplicated: 0, problems: [] });
      const notified = notes.reduce((s, n) => s + n.records, 0);
      expect(notified).to.equal(truth.records.size);
      expect(followed).to.be.greaterThan(0);
      expect(notes[0]).to.have.keys(["tenantId", "records", "toBlock"]);

      const ready = await fetch(`http://127.0.0.1:${indexer.metricsPort}/readyz`);
      expect(ready.status).to.equal(200);
      const metrics = await (await fetch(`http://127.0.0.1:${indexer.metricsPort}/metrics`)).text();
      expect(metrics).to.match(/meterline_indexer_indexed_block \d+/);
      expect(metrics).to.include(`meterline_indexer_usage_records_total ${truth.records.size}`);
    } finally {
      await listener.end();
      await indexer.stop();
    }
  });

  it("survives reorgs of depth 1 to 10 over many rounds: the database equals the canonical chain, duplicates included", async function () {
    // Refs repeat (within and across tenants), so reorgs also move which occurrence of a key is first.
    w = new Workload(hre, { tenants: 3, metersPerTenant: 2, reportersPerTenant: 2, refPool: 12 });
    await w.deploy();
    const indexer = await runIndexer(testConfig(w, server.url), asIndexer);
    try {
      let reorgs = 0;
      for (let round = 0; round < 20; round++) {
        const depth = 1 + (round % 10);
        const snap = await w.snapshot();
        // Orphaned branch: reveals and extra blocks, sometimes indexed before the reorg, sometimes not.
        let mined = 0;
        while (mined < depth) {
          await w.round({ reveals: 2, recordsPerReveal: 8, withhold: round % 4 === 0 ? 1 : 0 });
          mined += 2;
        }
        if (round % 2 === 0) await waitForCheckpoint(db.pool, await w.head());
        await w.revert(snap);
        reorgs++;
        // Canonical branch: different transactions, sometimes shorter, sometimes longer.
        const canonicalRounds = round % 3 === 0 ? 1 : Math.ceil((depth + 2) / 2);
        for (let i = 0; i < canonicalRounds; i++) await w.round({ reveals: 2, recordsPerReveal: 8 });
        if (round % 5 === 4) await w.expirePending();
        await waitForCheckpoint(db.pool, await w.head());
        const cmp = await compareWithTruth(db.pool, await groundTruth(w.pub, w.address, w.deployBlock));
        expect(cmp, `round ${round} depth ${depth}`).to.deep.equal({ lost: 0, duplicated: 0, problems: [] });
      }
      expect(reorgs).to.equal(20);
      const { rows } = await db.pool.query("SELECT count(*)::int AS n, count(*) FILTER (WHERE is_duplicate)::int AS dups FROM usage_records");
      expect(rows[0].n).to.be.greaterThan(0);
      expect(rows[0].dups, "the workload repeats keys").to.be.greaterThan(0);
    } finally {
      await indexer.stop();
    }
  });
});
