import { expect } from "chai";
import hre from "hardhat";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { openDatabase } from "../../db/connection";
import { migrate } from "../../db/migrate";
import { serveChain, Workload } from "./helpers/chain";
import { runIndexer, testConfig } from "./helpers/indexer";
import { compareWithTruth, groundTruth, waitForCheckpoint } from "./helpers/truth";

describe("indexer: embedded PGlite (one pooled connection)", function () {
  it("backfills, follows and handles a reorg while sharing the single connection", async function () {
    await hre.network.provider.request({ method: "hardhat_reset", params: [] });
    const server = await serveChain(hre);
    const dir = await mkdtemp(path.join(os.tmpdir(), "meterline-indexer-pglite-"));
    const db = await openDatabase({ target: { kind: "pglite", dataDir: dir } });
    try {
      await migrate(db.pool);
      const w = new Workload(hre, { tenants: 2, metersPerTenant: 2, reportersPerTenant: 1 });
      await w.deploy();
      for (let i = 0; i < 5; i++) await w.round({ reveals: 2, recordsPerReveal: 20, withhold: i === 0 ? 1 : 0 });
      await w.expirePending();
      const indexer = await runIndexer(testConfig(w, server.url), db);
      try {
        await waitForCheckpoint(db.pool, await w.head());
        // The API shares the same single connection: its reads must interleave with indexing.
        const reads = Array.from({ length: 20 }, () => db.pool.query("SELECT count(*)::int AS n FROM usage_rollups"));
        const snap = await w.snapshot();
        await w.round({ reveals: 2, recordsPerReveal: 5 });
        await waitForCheckpoint(db.pool, await w.head());
        await w.revert(snap);
        for (let i = 0; i < 2; i++) await w.round({ reveals: 2, recordsPerReveal: 5 });
        await waitForCheckpoint(db.pool, await w.head());
        await Promise.all(reads);
        expect(await compareWithTruth(db.pool, await groundTruth(w.pub, w.address, w.deployBlock))).to.deep.equal({
          lost: 0,
          duplicated: 0,
          problems: [],
        });
        expect(indexer.failure()).to.equal(null);
      } finally {
        await indexer.stop();
      }
    } finally {
      await db.close();
      await server.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
