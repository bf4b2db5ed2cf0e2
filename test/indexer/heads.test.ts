import { expect } from "chai";
import hre from "hardhat";
import pino from "pino";
import { Writable } from "node:stream";
import type { Database } from "../../db/connection";
import { parseIndexerConfig } from "../../indexer/config";
import { CANONICAL_CHECK_EVERY_POLLS } from "../../indexer/follower";
import { startIndexer, type IndexerHandle } from "../../indexer/index";
import { createProgress } from "../../indexer/progress";
import { createTestDatabase, openAsRole, type TestDatabase } from "../helpers/database";
import { freshChain, Workload, type ChainServer } from "./helpers/chain";
import { closedPort, FAKE_CHAIN_ID, startFakeRpc } from "./helpers/fake-rpc";
import { runIndexer, testConfig } from "./helpers/indexer";
import { Wakeup } from "../../indexer/heads";
import { AbortedError } from "../../indexer/errors";
import { startTcpProxy, type TcpProxy } from "./helpers/tcp-proxy";
import { waitForCheckpoint } from "./helpers/truth";

async function metric(port: number | null, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const m = new RegExp(`^${name} (\\S+)$`, "m").exec(text);
  return m ? Number(m[1]) : NaN;
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe("indexer: the head wake-up", function () {
  it("keeps one notification that arrives while nobody waits, collapses several, and times out to false", async function () {
    const w = new Wakeup();
    const signal = new AbortController().signal;
    w.notify();
    w.notify();
    expect(await w.wait(10_000, signal)).to.equal(true);
    // The two notifications collapsed into one: the next wait times out.
    expect(await w.wait(20, signal)).to.equal(false);
    const waiting = w.wait(10_000, signal);
    w.notify();
    expect(await waiting).to.equal(true);
  });

  it("rejects a wait with AbortedError when the indexer stops", async function () {
    const w = new Wakeup();
    const stop = new AbortController();
    const waiting = w.wait(10_000, stop.signal);
    stop.abort();
    const err = await waiting.then(() => null, (e: unknown) => e);
    expect(err).to.be.instanceOf(AbortedError);
  });
});

describe("indexer: new heads by WebSocket subscription, polling as the fallback (Hardhat over HTTP + WS)", function () {
  let server: ChainServer;
  let w: Workload;
  let db: TestDatabase;
  let asIndexer: Database;

  beforeEach(async function () {
    ({ server, w } = await freshChain(hre, { tenants: 1, metersPerTenant: 1, reportersPerTenant: 1 }));
    db = await createTestDatabase();
    asIndexer = await openAsRole(db, "meterline_indexer");
  });

  afterEach(async function () {
    await db.drop();
    await server.close();
  });

  it("wakes on every newHeads notification: blocks are indexed at once although polling is a minute apart", async function () {
    const indexer = await runIndexer(
      testConfig(w, server.url, { WS_RPC_URL: server.wsUrl, POLL_INTERVAL_MS: "60000", METRICS_PORT: "0" }),
      asIndexer,
    );
    try {
      await waitForCheckpoint(db.pool, await w.head(), 10_000);
      await until("the subscription", async () => (await metric(indexer.metricsPort, "meterline_indexer_head_subscription")) === 1);
      for (let i = 0; i < 3; i++) {
        const revealed = await w.round({ reveals: 1, recordsPerReveal: 3 });
        const started = Date.now();
        // Polling would take 60 s (600 s while subscribed): only the subscription explains this.
        await waitForCheckpoint(db.pool, await w.head(), 5_000);
        expect(Date.now() - started).to.be.below(5_000);
        const { rows } = await db.pool.query<{ n: number }>("SELECT count(*)::int AS n FROM usage_records");
        expect(rows[0]!.n).to.be.at.least(revealed);
      }
      expect(await metric(indexer.metricsPort, "meterline_indexer_head_notifications_total")).to.be.at.least(3);
      expect(indexer.failure()).to.equal(null);
    } finally {
      await indexer.stop();
    }
  });

  it("falls back to polling when the WS server goes away, logs WS_RPC_URL without its secrets, and resubscribes when it is back", async function () {
    const port = Number(new URL(server.url).port);
    const proxy: TcpProxy = await startTcpProxy(port);
    const lines: string[] = [];
    const logger = pino(
      { level: "info" },
      new Writable({
        write(chunk: Buffer, _enc, cb) {
          lines.push(chunk.toString());
          cb();
        },
      }),
    );
    // Credentials and a key in the path, as hosted providers use: they must never reach a log line.
    const wsUrl = `ws://ws-user:ws-password-1@127.0.0.1:${proxy.port}/v3/secretkey0123456789`;
    const config = testConfig(w, server.url, { WS_RPC_URL: wsUrl, POLL_INTERVAL_MS: "200", METRICS_PORT: "0" });
    let indexer: IndexerHandle | undefined;
    try {
      indexer = await startIndexer(config, { db: asIndexer, logger, progress: createProgress(logger, { tty: false }) });
      const subscribed = () => metric(indexer!.metricsPort, "meterline_indexer_head_subscription");
      await until("the subscription", async () => (await subscribed()) === 1);
      await waitForCheckpoint(db.pool, await w.head(), 10_000);

      await proxy.cut();
      await until("the fallback to polling", async () => (await subscribed()) === 0);
      // The socket is gone; RPC_URL still answers: polling keeps the index current.
      for (let i = 0; i < 2; i++) {
        await w.round({ reveals: 1, recordsPerReveal: 2 });
        await waitForCheckpoint(db.pool, await w.head(), 5_000);
      }
      expect(lines.some((l) => l.includes('"variable":"WS_RPC_URL"') && /polling RPC_URL/.test(l))).to.equal(true);

      await proxy.restore();
      await until("the subscription to come back", async () => (await subscribed()) === 1, 40_000);
      const before = await metric(indexer.metricsPort, "meterline_indexer_head_notifications_total");
      await w.round({ reveals: 1, recordsPerReveal: 2 });
      await waitForCheckpoint(db.pool, await w.head(), 5_000);
      await until("notifications after resubscribing", async () => (await metric(indexer!.metricsPort, "meterline_indexer_head_notifications_total")) > before);

      const all = lines.join("");
      expect(all).to.include("subscribed to newHeads on WS_RPC_URL");
      for (const secret of ["ws-user", "ws-password-1", "secretkey0123456789"]) expect(all).to.not.include(secret);
    } finally {
      await indexer?.stop();
      await proxy.close();
    }
  });

  it("without WS_RPC_URL, a quiet poll is one eth_blockNumber; blocks and logs are read only once the number moves", async function () {
    const rpc = await startFakeRpc({ head: 10 });
    const config = parseIndexerConfig({
      RPC_URL: rpc.url,
      CHAIN_ID: String(FAKE_CHAIN_ID),
      CONTRACT_ADDRESS: "0x00000000000000000000000000000000000000cc",
      DEPLOY_BLOCK: "1",
      DEPLOYMENTS_DIR: "/nonexistent-meterline-deployments",
      CONFIRMATIONS: "0",
      POLL_INTERVAL_MS: "20",
      METRICS_PORT: "off",
      LOG_LEVEL: "silent",
    });
    const indexer = await runIndexer(config, asIndexer);
    try {
      await waitForCheckpoint(db.pool, { number: 10n, hash: rpc.hashOf(10) }, 10_000);
      // Let it settle at the head, then count what 30 quiet polls cost.
      await new Promise((r) => setTimeout(r, 200));
      const count = (m: string) => rpc.calls.get(m) ?? 0;
      const before = { polls: count("eth_blockNumber"), blocks: count("eth_getBlockByNumber"), logs: count("eth_getLogs") };
      await until("30 polls", async () => count("eth_blockNumber") - before.polls >= 30);
      const polls = count("eth_blockNumber") - before.polls;
      expect(count("eth_getLogs") - before.logs).to.equal(0);
      // Only the periodic canonical check reads a block (one per CANONICAL_CHECK_EVERY_POLLS polls).
      expect(count("eth_getBlockByNumber") - before.blocks).to.be.at.most(Math.ceil(polls / CANONICAL_CHECK_EVERY_POLLS) + 1);

      rpc.head = 12;
      await waitForCheckpoint(db.pool, { number: 12n, hash: rpc.hashOf(12) }, 10_000);
      expect(count("eth_getLogs") - before.logs).to.be.at.least(1);
      expect(indexer.failure()).to.equal(null);
    } finally {
      await indexer.stop();
      await rpc.close();
    }
  });

  it("a WS_RPC_URL that never answers does not hold the indexer back: it polls RPC_URL from the start and keeps retrying the socket", async function () {
    const rpc = await startFakeRpc({ head: 5 });
    const wsPort = await closedPort();
    const lines: string[] = [];
    const logger = pino(
      { level: "info" },
      new Writable({
        write(chunk: Buffer, _enc, cb) {
          lines.push(chunk.toString());
          cb();
        },
      }),
    );
    const config = parseIndexerConfig({
      RPC_URL: rpc.url,
      WS_RPC_URL: `ws://127.0.0.1:${wsPort}`,
      CHAIN_ID: String(FAKE_CHAIN_ID),
      CONTRACT_ADDRESS: "0x00000000000000000000000000000000000000cc",
      DEPLOY_BLOCK: "1",
      DEPLOYMENTS_DIR: "/nonexistent-meterline-deployments",
      CONFIRMATIONS: "0",
      POLL_INTERVAL_MS: "50",
      METRICS_PORT: "off",
    });
    const indexer = await startIndexer(config, { db: asIndexer, logger, progress: createProgress(logger, { tty: false }) });
    try {
      await waitForCheckpoint(db.pool, { number: 5n, hash: rpc.hashOf(5) }, 10_000);
      rpc.head = 8;
      await waitForCheckpoint(db.pool, { number: 8n, hash: rpc.hashOf(8) }, 10_000);
      await until("two failed subscription attempts", async () => lines.filter((l) => l.includes("cannot subscribe to newHeads on WS_RPC_URL")).length >= 2);
      const line = JSON.parse(lines.find((l) => l.includes("cannot subscribe to newHeads"))!) as Record<string, unknown>;
      expect(line).to.include({ variable: "WS_RPC_URL", endpoint: `ws://127.0.0.1:${wsPort}` });
    } finally {
      await indexer.stop();
      await rpc.close();
    }
  });
});
