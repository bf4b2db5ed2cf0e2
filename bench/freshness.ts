/**
 * npm run bench:freshness — how long a revealed usage record takes to become visible through the
 * API: from the moment the reveal's receipt exists (the wall clock then; block timestamps are
 * whole seconds) to the moment the record arrives through the GraphQL SSE subscription
 * `usageRecorded`, and, as a cross-check, to the moment a GraphQL query polled every 10 ms finds it.
 *
 * Everything is real and runs in this process: the in-process Hardhat chain served over HTTP and
 * WebSocket (the same port), the indexer writing to PostgreSQL as meterline_indexer, the API as
 * meterline_api with a token from the local OIDC provider. Reveals go one at a time, each after a
 * random pause so they land at random phases of the polling interval. CONFIRMATIONS=0 by default:
 * the indexer indexes up to the head whatever CONFIRMATIONS says (it decides what is final for
 * billing and readiness, not what the API shows), so the figure holds for any value; set
 * CONFIRMATIONS to check.
 *
 * Settings (environment):
 *   BENCH_HEADS=ws (default: WS_RPC_URL set, newHeads subscription) | poll (polling only)
 *   POLL_INTERVAL_MS (default 500), BENCH_REVEALS (default 50, at least 50)
 *   BENCH_INDEXER=process: the indexer as its own OS process (npm run indexer, as
 *   meterline_indexer) instead of in this one; the API and the chain stay here
 *   BENCH_BREAKDOWN=1 (in-process indexer only): also where the time goes, from the indexer's debug log (head read, logs
 *   fetched, batch committed), as medians per stage
 * Last line: freshness n=<int> p50_ms=<decimal> p95_ms=<decimal>
 */
import { performance } from "node:perf_hooks";
import os from "node:os";
import { Writable } from "node:stream";
import hre from "hardhat";
import pino from "pino";
import type { Hex } from "viem";
import { startApi } from "../api";
import { parseApiConfig } from "../api/config";
import { benchApiEnv } from "./fixtures/api-env";
import { startIndexer } from "../indexer/index";
import { createProgress } from "../indexer/progress";
import { startLocalIdp } from "../stack/local-idp";
import { createTestDatabase, openAsRole, urlAsRole } from "../test/helpers/database";
import { spawnService } from "../test/helpers/process";
import { COMMIT_GAS, revealGas, serveChain, Workload } from "../test/indexer/helpers/chain";
import { testConfig } from "../test/indexer/helpers/indexer";
import { waitForCheckpoint } from "../test/indexer/helpers/truth";

const MODE = process.env.BENCH_HEADS ?? "ws";
const POLL_MS = process.env.POLL_INTERVAL_MS ?? "500";
const CONFIRMATIONS = process.env.CONFIRMATIONS ?? "0";
const REVEALS = Math.max(50, Number(process.env.BENCH_REVEALS ?? 50));
const WARMUP = 3;
const BREAKDOWN = process.env.BENCH_BREAKDOWN === "1";
const AS_PROCESS = process.env.BENCH_INDEXER === "process";
const TIMEOUT_MS = 15_000;
const AUDIENCE = "https://api.meterline.bench";

const log = (msg: string) => process.stderr.write(`${msg}\n`);

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

function summary(label: string, values: number[]): { p50: number; p95: number } {
  const s = [...values].sort((a, b) => a - b);
  const mean = s.reduce((a, b) => a + b, 0) / s.length;
  const p50 = percentile(s, 50);
  const p95 = percentile(s, 95);
  log(
    `${label}: n=${s.length} min_ms=${s[0]!.toFixed(1)} p50_ms=${p50.toFixed(1)} mean_ms=${mean.toFixed(1)} p95_ms=${p95.toFixed(1)} ` +
      `p99_ms=${percentile(s, 99).toFixed(1)} max_ms=${s[s.length - 1]!.toFixed(1)}`,
  );
  return { p50, p95 };
}

/** The usageRecorded events of one SSE stream, with their arrival times. */
class UsageStream {
  private readonly seen: { toBlock: bigint; at: number }[] = [];
  private waiters: (() => void)[] = [];
  private ended: Error | null = null;

  constructor(res: Response) {
    void this.read(res).catch((err: unknown) => {
      this.ended = err instanceof Error ? err : new Error(String(err));
      this.wakeAll();
    });
  }

  private wakeAll(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  private async read(res: Response): Promise<void> {
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { done, value } = await reader.read();
      if (done) throw new Error("the SSE stream ended");
      const at = performance.now();
      buffer += decoder.decode(value, { stream: true });
      let i: number;
      while ((i = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, i);
        buffer = buffer.slice(i + 2);
        if (!/^event: next$/m.test(block)) continue;
        const data = block.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trim()).join("");
        const event = JSON.parse(data) as { data?: { usageRecorded?: { records: number; toBlock: string } } };
        const u = event.data?.usageRecorded;
        if (u && u.records > 0) this.seen.push({ toBlock: BigInt(u.toBlock), at });
      }
      this.wakeAll();
    }
  }

  /** Arrival time of the first event covering `block`. */
  async covering(block: bigint, deadline: number): Promise<number> {
    for (;;) {
      const hit = this.seen.find((e) => e.toBlock >= block);
      if (hit) return hit.at;
      if (this.ended) throw this.ended;
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`no usageRecorded event covering block ${block} within ${TIMEOUT_MS} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }
}

async function main(): Promise<void> {
  if (MODE !== "ws" && MODE !== "poll") throw new Error(`BENCH_HEADS: expected ws or poll, got "${MODE}"`);
  const server = await serveChain(hre);
  const w = new Workload(hre, { tenants: 1, metersPerTenant: 1, reportersPerTenant: 1, minRevealDelay: 1, maxRevealDelay: 50 });
  await w.deploy();
  const db = await createTestDatabase();
  const idp = await startLocalIdp({
    clients: [{ clientId: "bench", clientSecret: "bench-secret", tenant: "tenant-1", roles: ["viewer"] }],
    audience: AUDIENCE,
  });
  const logger = pino({ level: "silent" });
  // The indexer's debug lines carry wall-clock times: the stages of each reveal's path.
  const trace: { msg: string; time: number; head?: string; to?: string }[] = [];
  const indexerLogger = BREAKDOWN
    ? pino(
        { level: "debug" },
        new Writable({
          write(chunk: Buffer, _enc, cb) {
            for (const line of chunk.toString().split("\n")) if (line) trace.push(JSON.parse(line) as (typeof trace)[number]);
            cb();
          },
        }),
      )
    : logger;
  const indexerDb = AS_PROCESS ? null : await openAsRole(db, "meterline_indexer");
  const apiDb = await openAsRole(db, "meterline_api");
  const config = testConfig(w, server.url, {
    ...(MODE === "ws" ? { WS_RPC_URL: server.wsUrl } : {}),
    POLL_INTERVAL_MS: POLL_MS,
    CONFIRMATIONS,
  });
  let stopIndexer: () => Promise<unknown>;
  if (AS_PROCESS) {
    const child = spawnService("indexer/cli.ts", [], {
      RPC_URL: server.url,
      ...(MODE === "ws" ? { WS_RPC_URL: server.wsUrl } : { WS_RPC_URL: "" }),
      CHAIN_ID: String(w.chainId),
      CONTRACT_ADDRESS: w.address,
      DEPLOY_BLOCK: w.deployBlock.toString(),
      DEPLOYMENTS_DIR: "/nonexistent-meterline-deployments",
      DATABASE_URL: urlAsRole(db.url, "meterline_indexer"),
      CONFIRMATIONS,
      POLL_INTERVAL_MS: POLL_MS,
      REORG_WINDOW: "32",
      METRICS_PORT: "off",
      LOG_LEVEL: "warn",
    });
    void child.exited.then(({ code }) => code !== 0 && code !== null && log(`indexer process exited ${code}: ${child.output().slice(-500)}`));
    stopIndexer = () => child.stop("SIGTERM");
  } else {
    const indexer = await startIndexer(config, { db: indexerDb!, logger: indexerLogger, progress: createProgress(logger, { tty: false }) });
    indexer.done.catch((err: unknown) => log(`indexer failed: ${(err as Error).message}`));
    stopIndexer = () => indexer.stop();
  }
  const api = await startApi(
    parseApiConfig(benchApiEnv(idp.issuer, AUDIENCE)),
    { db: apiDb, logger },
  );
  const sse = new AbortController();
  try {
    // The tenant must be indexed before a subscription can name it.
    await waitForCheckpoint(db.pool, await w.head(), 30_000);
    const token = await idp.getToken("bench", "bench-secret");
    const headers = { authorization: `Bearer ${token}`, "content-type": "application/json" };
    const res = await fetch(`${api.url}/graphql`, {
      method: "POST",
      headers: { ...headers, accept: "text/event-stream" },
      body: JSON.stringify({ query: "subscription { usageRecorded { records toBlock } }" }),
      signal: sse.signal,
    });
    if (res.status !== 200) throw new Error(`subscription refused: HTTP ${res.status} ${await res.text()}`);
    const stream = new UsageStream(res);

    const visibleByQuery = async (commitment: Hex, deadline: number): Promise<number> => {
      const body = JSON.stringify({ query: "query($c: String!) { usageRecords(first: 1, filter: { commitment: $c }) { totalCount } }", variables: { c: commitment } });
      for (;;) {
        const r = await fetch(`${api.url}/graphql`, { method: "POST", headers, body });
        const at = performance.now();
        const json = (await r.json()) as { data?: { usageRecords: { totalCount: number } }; errors?: unknown[] };
        if (json.errors) throw new Error(`usageRecords query failed: ${JSON.stringify(json.errors)}`);
        if ((json.data?.usageRecords.totalCount ?? 0) > 0) return at;
        if (at > deadline) throw new Error(`commitment ${commitment} not visible through usageRecords within ${TIMEOUT_MS} ms`);
        await new Promise((r2) => setTimeout(r2, 10));
      }
    };

    const tenant = 1;
    const reporter = w.tenantReporters.get(tenant)![0]!;
    const sseMs: number[] = [];
    const stages: Record<"head_read" | "logs_fetched" | "committed", number[]> = { head_read: [], logs_fetched: [], committed: [] };
    /** Wall-clock ms from `since` to the first indexer log line `msg` whose block field reaches `block`. */
    const stage = (msg: string, field: "head" | "to", block: bigint, since: number): number | null => {
      const hit = trace.find((t) => t.msg === msg && t.time >= since && t[field] !== undefined && BigInt(t[field]!) >= block);
      return hit ? hit.time - since : null;
    };
    const queryMs: number[] = [];
    const pollMs = Number(POLL_MS);
    log(
      `freshness: indexer=${AS_PROCESS ? "process" : "in-process"} heads=${MODE === "ws" ? "eth_subscribe(newHeads) on WS_RPC_URL" : "polling eth_blockNumber"} POLL_INTERVAL_MS=${pollMs} ` +
        `CONFIRMATIONS=${CONFIRMATIONS} reveals=${REVEALS} (+${WARMUP} warm-up) load=${os.loadavg().map((l) => l.toFixed(2)).join(" ")}`,
    );
    for (let i = 0; i < REVEALS + WARMUP; i++) {
      const now = await w.latestTimestamp();
      const records = await w.makeRecords(tenant, reporter, 1, now);
      const c = w.commitData(tenant, reporter, records);
      await w.send(c.data, reporter, COMMIT_GAS); // automine: mined on return
      await w.mine(1); // MIN_REVEAL_DELAY
      // A random phase against the polling interval (and time for the commit blocks to be indexed).
      await new Promise((r) => setTimeout(r, 50 + Math.random() * Math.max(pollMs, 250)));
      const hash = await w.send(w.revealData(tenant, reporter, c.salt, records), reporter, revealGas(1));
      const receipt = await w.pub.getTransactionReceipt({ hash });
      const mined = performance.now();
      const minedWall = Date.now();
      if (receipt.status !== "success") throw new Error(`reveal ${hash} reverted`);
      const deadline = mined + TIMEOUT_MS;
      const [bySse, byQuery] = await Promise.all([stream.covering(receipt.blockNumber, deadline), visibleByQuery(c.commitment, deadline)]);
      if (i < WARMUP) continue;
      sseMs.push(bySse - mined);
      if (BREAKDOWN) {
        const b = receipt.blockNumber;
        const read = stage("poll", "head", b, minedWall);
        const fetched = stage("fetched", "to", b, minedWall);
        const applied = stage("applied", "to", b, minedWall);
        if (read !== null) stages.head_read.push(read);
        if (fetched !== null) stages.logs_fetched.push(fetched);
        if (applied !== null) stages.committed.push(applied);
      }
      queryMs.push(byQuery - mined);
    }
    if (BREAKDOWN) {
      // Wall-clock milliseconds (Date.now resolution) from the receipt to each stage.
      for (const [name, values] of Object.entries(stages)) if (values.length > 0) summary(`indexer: mined -> ${name}`, values);
    }
    summary("query poll every 10 ms (cross-check)", queryMs);
    const { p50, p95 } = summary("SSE usageRecorded", sseMs);
    log(`machine: ${os.cpus().length} cores, load average ${os.loadavg().map((l) => l.toFixed(2)).join(" ")}`);
    process.stdout.write(`freshness n=${sseMs.length} p50_ms=${p50.toFixed(1)} p95_ms=${p95.toFixed(1)}\n`);
  } finally {
    sse.abort();
    await api.close();
    await stopIndexer();
    await idp.close();
    await indexerDb?.close();
    await apiDb.close();
    await db.drop();
    await server.close();
  }
}

main().then(() => process.exit(0), (err: unknown) => {
  process.stderr.write(`bench:freshness failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
