/**
 * npm run bench:indexer — generates >= BENCH_RECORDS (default 100,000) revealed usage records on
 * a fresh in-process Hardhat chain (reveals of 500 records, many per block), serves it over HTTP,
 * then measures in the same run:
 *   (a) the ceiling: plain eth_getLogs over the whole range plus decoding, no database;
 *   (b) the indexer, cold, from the deploy block to head into PostgreSQL (DATABASE_URL's server,
 *       or the local one), in a fresh database.
 * Last line: indexer events=<int> seconds=<decimal> events_per_s=<int> ceiling_events_per_s=<int> ratio=<decimal>
 */
import hre from "hardhat";
import pino from "pino";
import { decodeLog } from "../chain/events";
import { startIndexer } from "../indexer/index";
import { createProgress } from "../indexer/progress";
import { Rpc } from "../indexer/rpc";
import { createTestDatabase } from "../test/helpers/database";
import { COMMIT_GAS, revealGas, serveChain, Workload } from "../test/indexer/helpers/chain";
import { testConfig } from "../test/indexer/helpers/indexer";
import { waitForCheckpoint } from "../test/indexer/helpers/truth";
import type { Hex } from "viem";

const TARGET = Number(process.env.BENCH_RECORDS ?? 100_000);
const PER_REVEAL = 500;
const REPORTERS = 10;

async function generate(w: Workload): Promise<number> {
  const next = new Map<string, bigint>();
  let total = 0;
  await w.rpc("evm_setAutomine", [false]);
  try {
    while (total < TARGET) {
      const now = await w.latestTimestamp();
      const reveals: { t: number; r: `0x${string}`; salt: Hex; data: Hex; n: number }[] = [];
      for (const [t, reps] of w.tenantReporters) {
        for (const r of reps) {
          if (total + reveals.length * PER_REVEAL >= TARGET) break;
          const key = `${t}:${r}`;
          const records = await w.makeRecords(t, r, PER_REVEAL, now, next.get(key) ?? 1n);
          next.set(key, (next.get(key) ?? 1n) + BigInt(PER_REVEAL));
          const c = w.commitData(t, r, records);
          await w.send(c.data, r, COMMIT_GAS);
          reveals.push({ t, r, salt: c.salt, data: w.revealData(t, r, c.salt, records), n: records.length });
        }
      }
      await w.mine(1);
      const hashes: Hex[] = [];
      for (const rv of reveals) hashes.push(await w.send(rv.data, rv.r, revealGas(rv.n)));
      for (;;) {
        await w.mine(1);
        const last = await w.pub.getTransactionReceipt({ hash: hashes[hashes.length - 1]! }).catch(() => null);
        if (last) break;
      }
      for (const h of hashes) {
        const receipt = await w.pub.getTransactionReceipt({ hash: h });
        if (receipt.status !== "success") throw new Error(`reveal ${h} reverted`);
      }
      total += reveals.reduce((s, r) => s + r.n, 0);
    }
  } finally {
    await w.rpc("evm_setAutomine", [true]);
  }
  return total;
}

/** The ceiling: the same ranges the indexer would read, fetched concurrently and decoded, nothing else. */
async function ceiling(url: string, w: Workload, head: bigint): Promise<{ records: number; seconds: number }> {
  const controller = new AbortController();
  const rpc = new Rpc({ url, timeoutMs: 120_000, logger: pino({ level: "silent" }), signal: controller.signal });
  const started = process.hrtime.bigint();
  const span = 4n;
  const ranges: [bigint, bigint][] = [];
  for (let from = w.deployBlock; from <= head; from += span) ranges.push([from, from + span - 1n < head ? from + span - 1n : head]);
  let records = 0;
  let i = 0;
  const worker = async () => {
    while (i < ranges.length) {
      const [from, to] = ranges[i++]!;
      for (const log of await rpc.getLogs(w.address, from, to)) {
        const ev = decodeLog(log);
        if (ev?.kind === "UsageRevealed") records += ev.records.length;
      }
    }
  };
  await Promise.all(Array.from({ length: 4 }, worker));
  return { records, seconds: Number(process.hrtime.bigint() - started) / 1e9 };
}

async function main(): Promise<void> {
  await hre.network.provider.request({ method: "hardhat_reset", params: [] });
  const server = await serveChain(hre);
  const w = new Workload(hre, { tenants: 5, metersPerTenant: 4, reportersPerTenant: REPORTERS / 5 });
  await w.deploy();
  const genStart = Date.now();
  const generated = await generate(w);
  const head = await w.head();
  console.log(`generated ${generated} records in ${head.number - w.deployBlock} blocks in ${((Date.now() - genStart) / 1000).toFixed(1)} s`);

  const ceil = await ceiling(server.url, w, head.number);
  if (ceil.records !== generated) throw new Error(`ceiling decoded ${ceil.records} records, expected ${generated}`);
  const ceilingRate = ceil.records / ceil.seconds;
  console.log(`ceiling: ${ceil.records} records in ${ceil.seconds.toFixed(3)} s`);

  const db = await createTestDatabase({ maxConnections: 4 });
  try {
    const logger = pino({ level: process.env.LOG_LEVEL ?? "warn" });
    const config = testConfig(w, server.url, {
      MAX_BLOCK_RANGE: "5000",
      REORG_WINDOW: "128",
      POLL_INTERVAL_MS: "10",
      FETCH_CONCURRENCY: process.env.FETCH_CONCURRENCY ?? "4",
      LOG_LEVEL: "warn",
    });
    const started = process.hrtime.bigint();
    const indexer = await startIndexer(config, { db, logger, progress: createProgress(logger, { tty: false }) });
    await waitForCheckpoint(db.pool, head, 600_000);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    await indexer.stop();
    const { rows } = await db.pool.query<{ n: number }>("SELECT count(*)::int AS n FROM usage_records");
    const events = rows[0]!.n;
    if (events !== generated) throw new Error(`indexer wrote ${events} records, expected ${generated}`);
    const rate = events / seconds;
    console.log(
      `indexer events=${events} seconds=${seconds.toFixed(3)} events_per_s=${Math.round(rate)} ceiling_events_per_s=${Math.round(ceilingRate)} ratio=${(rate / ceilingRate).toFixed(3)}`,
    );
  } finally {
    await db.drop();
    await server.close();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
