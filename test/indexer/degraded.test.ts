import { Writable } from "node:stream";
import { expect } from "chai";
import pino from "pino";
import { openDatabase, type Database } from "../../db/connection";
import { parseIndexerConfig, type IndexerConfig } from "../../indexer/config";
import { startIndexer, type IndexerHandle } from "../../indexer/index";
import { createProgress } from "../../indexer/progress";
import { createTestDatabase, openAsRole, type TestDatabase } from "../helpers/database";
import { closedPort, FAKE_CHAIN_ID, startFakeRpc, type FakeRpc } from "./helpers/fake-rpc";
import { waitForCheckpoint } from "./helpers/truth";

const CONTRACT = "0x00000000000000000000000000000000000000cc";

function configFor(rpcUrl: string, env: Record<string, string> = {}): IndexerConfig {
  return parseIndexerConfig({
    RPC_URL: rpcUrl,
    CHAIN_ID: String(FAKE_CHAIN_ID),
    CONTRACT_ADDRESS: CONTRACT,
    DEPLOY_BLOCK: "1",
    DEPLOYMENTS_DIR: "/nonexistent-meterline-deployments",
    CONFIRMATIONS: "0",
    POLL_INTERVAL_MS: "20",
    REORG_WINDOW: "32",
    METRICS_PORT: "0",
    LEASE_TTL_MS: "3000",
    RPC_TIMEOUT_MS: "2000",
    LOG_LEVEL: "info",
    ...env,
  });
}

/** An indexer whose log lines are kept (JSON, one per entry) so tests can read what it said. */
async function start(config: IndexerConfig, db: Database): Promise<IndexerHandle & { logs: () => string }> {
  let out = "";
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      out += chunk.toString();
      done();
    },
  });
  const logger = pino({ level: "debug" }, sink);
  const handle = await startIndexer(config, { db, logger, progress: createProgress(logger, { tty: false }) });
  handle.done.catch(() => undefined);
  return { ...handle, logs: () => out };
}

async function readyz(port: number | null): Promise<{ status: number; body: { ready: boolean; checks: Record<string, unknown> } }> {
  const res = await fetch(`http://127.0.0.1:${port}/readyz`);
  return { status: res.status, body: (await res.json()) as { ready: boolean; checks: Record<string, unknown> } };
}
const metric = async (port: number | null, name: string): Promise<number> => {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const m = new RegExp(`^${name} (\\S+)$`, "m").exec(text);
  return m ? Number(m[1]) : NaN;
};
async function until<T>(what: string, fn: () => Promise<T | null | undefined | false>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Issue #13 item 8 (indexer): faults of the RPC endpoint and the database, seen from outside. */
describe("indexer: degraded RPC and unreachable endpoints (fake JSON-RPC server + PostgreSQL, as meterline_indexer)", function () {
  this.timeout(90_000);
  let db: TestDatabase;
  let asIndexer: Database;
  let rpc: FakeRpc;

  beforeEach(async () => {
    db = await createTestDatabase();
    asIndexer = await openAsRole(db, "meterline_indexer");
  });
  afterEach(async () => {
    await rpc?.close();
    await db.drop();
  });

  it("heads whose parent hashes do not chain: bounded backoff instead of a tight loop, not ready with the reason, a metric; recovers when the chain is consistent again", async function () {
    rpc = await startFakeRpc({ head: 10, consistent: false });
    const indexer = await start(configFor(rpc.url), asIndexer);
    try {
      const port = indexer.metricsPort;
      const degraded = await until("readyz to report degraded", async () => {
        const r = await readyz(port);
        return r.status === 503 && String(r.body.checks.chain).startsWith("degraded") ? r : null;
      });
      expect(String(degraded.body.checks.chain)).to.match(/does not extend/);
      expect(await metric(port, "meterline_indexer_degraded")).to.equal(1);
      expect(await metric(port, "meterline_indexer_chain_inconsistencies_total")).to.be.at.least(3);

      // Backing off: over two seconds only a handful of batches are attempted (a tight loop makes hundreds).
      const before = rpc.calls.get("eth_getLogs") ?? 0;
      await new Promise((r) => setTimeout(r, 2_000));
      const attempts = (rpc.calls.get("eth_getLogs") ?? 0) - before;
      expect(attempts).to.be.at.most(5);
      expect(indexer.logs()).to.include("RPC_URL keeps answering with blocks that do not chain; degraded, backing off");

      // The endpoint heals: the indexer catches up and is ready again.
      rpc.consistent = true;
      await waitForCheckpoint(db.pool, { number: 10n, hash: rpc.hashOf(10) }, 60_000);
      await until("readyz 200", async () => (await readyz(port)).status === 200, 10_000);
      expect(await metric(port, "meterline_indexer_degraded")).to.equal(0);
    } finally {
      await indexer.stop();
    }
  });

  it("an unreachable RPC is logged naming RPC_URL, with its credentials and key redacted, and /readyz says so", async function () {
    const port = await closedPort();
    const secretUrl = `http://meter:hunter2secret@127.0.0.1:${port}/v3/0123456789abcdefkey`;
    const indexer = await start(configFor(secretUrl), asIndexer);
    try {
      await until("a retry log line", async () => indexer.logs().includes("rpc call to RPC_URL failed, retrying"));
      const r = await until("readyz to name the failing RPC", async () => {
        const x = await readyz(indexer.metricsPort);
        return String(x.body.checks.rpc).startsWith("RPC_URL failing") ? x : null;
      });
      expect(r.status).to.equal(503);
      const line = JSON.parse(indexer.logs().split("\n").find((l) => l.includes("rpc call to RPC_URL failed"))!) as Record<string, unknown>;
      expect(line).to.include({ variable: "RPC_URL", endpoint: `http://***@127.0.0.1:${port}/***` });
      for (const secret of ["hunter2secret", "0123456789abcdefkey", "meter:"]) {
        expect(indexer.logs()).to.not.include(secret);
        expect(JSON.stringify(r.body)).to.not.include(secret);
      }
    } finally {
      await indexer.stop();
    }
  });

  it("an unreachable database is logged naming DATABASE_URL, with its password redacted", async function () {
    rpc = await startFakeRpc({ head: 3 });
    const port = await closedPort();
    const unreachable = await openDatabase({ target: { kind: "postgres", url: `postgres://meterline_indexer:dbsecretpw@127.0.0.1:${port}/meterline` } });
    const indexer = await start(configFor(rpc.url, { METRICS_PORT: "off" }), unreachable);
    try {
      await until("a database retry log line", async () => indexer.logs().includes("database step failed (DATABASE_URL), retrying"));
      const line = JSON.parse(indexer.logs().split("\n").find((l) => l.includes("database step failed"))!) as Record<string, unknown>;
      expect(line).to.include({ variable: "DATABASE_URL", endpoint: `postgres://meterline_indexer:***@127.0.0.1:${port}/meterline` });
      expect(indexer.logs()).to.not.include("dbsecretpw");
    } finally {
      await indexer.stop();
      await unreachable.close();
    }
  });
});
