/**
 * npm run bench:indexer — for each size in BENCH_RECORDS (comma-separated; default "10000,100000";
 * "10000,100000,300000" adds the large run), generates that many revealed usage records on a fresh
 * Hardhat chain served by `hardhat node` in its own process (reveals of 500 records, many per
 * block), then measures in the same run:
 *   (a) the RPC ceiling: plain eth_getLogs over the whole range plus decoding, no database;
 *   (b) the indexer, cold, from the deploy block to head into PostgreSQL (DATABASE_URL's server,
 *       or the local one), in a fresh database;
 *   (c) the COPY ceiling: the very rows the indexer wrote, COPYed bare (one statement, text format,
 *       chain order) into a scratch table with usage_records' schema, indexes and foreign keys.
 * One line per size, the last one last:
 *   indexer events=<int> seconds=<decimal> events_per_s=<int> rpc_ceiling_per_s=<int> copy_ceiling_per_s=<int> ratio=<decimal>
 * with ratio = events_per_s / min(rpc_ceiling_per_s, copy_ceiling_per_s). Each ceiling is the best of
 * three measurements (a ceiling is what the machine can do; the indexer gets one run). The indexer's time runs from
 * start until the checkpoint is at the head AND the secondary indexes a cold backfill deferred are
 * built. BENCH_COLD_BACKFILL_BLOCKS overrides the cold-backfill threshold (0: never defer);
 * BENCH_STRAIGHT_COPY=0 writes through the staging table as without the loader role (A/B).
 */
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import path from "node:path";
import hre from "hardhat";
import type { HardhatRuntimeEnvironment } from "hardhat/types";
import type pg from "pg";
import pino from "pino";
import { decodeLog } from "../chain/events";
import { startIndexer } from "../indexer/index";
import { createProgress } from "../indexer/progress";
import { Rpc } from "../indexer/rpc";
import { DEFERRABLE_USAGE_INDEXES } from "../indexer/store/usage-indexes";
import { createTestDatabase } from "../test/helpers/database";
import { from as copyFrom, to as copyTo } from "pg-copy-streams";
import { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { COMMIT_GAS, revealGas, Workload } from "../test/indexer/helpers/chain";
import { testConfig } from "../test/indexer/helpers/indexer";
import { waitForCheckpoint } from "../test/indexer/helpers/truth";
import type { Hex } from "viem";

function parseSizes(raw: string): number[] {
  const sizes = raw.split(",").map((s) => Number(s.trim().replace(/_/g, "")));
  if (sizes.length === 0 || sizes.some((n) => !Number.isSafeInteger(n) || n < 500)) {
    throw new Error(`BENCH_RECORDS: expected comma-separated record counts of at least 500, got "${raw}"`);
  }
  return sizes;
}
const SIZES = parseSizes(process.env.BENCH_RECORDS ?? "10000,100000");
const PER_REVEAL = 500;
/** Each ceiling is measured this many times and the best kept (the machine is shared). */
const CEILING_RUNS = 3;
const REPORTERS = 10;

async function generate(w: Workload, target: number): Promise<number> {
  const next = new Map<string, bigint>();
  let total = 0;
  await w.rpc("evm_setAutomine", [false]);
  try {
    while (total < target) {
      const now = await w.latestTimestamp();
      const reveals: { t: number; r: `0x${string}`; salt: Hex; data: Hex; n: number }[] = [];
      for (const [t, reps] of w.tenantReporters) {
        for (const r of reps) {
          if (total + reveals.length * PER_REVEAL >= target) break;
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

/**
 * The COPY ceiling: the rows the indexer wrote, read back in chain order and COPYed bare into a
 * scratch table with the same columns, primary key, indexes (usage_records as it stands after the
 * run, every index built) and foreign keys. One statement, no staging, no duplicate marking.
 */
async function copyCeiling(pool: pg.Pool): Promise<{ rows: number; seconds: number }> {
  const client = await pool.connect();
  try {
    const chunks: Buffer[] = [];
    await pipeline(
      client.query(copyTo("COPY (SELECT * FROM usage_records ORDER BY block_number, log_index, record_index) TO STDOUT")),
      new Writable({
        write(chunk: Buffer, _enc, cb) {
          chunks.push(chunk);
          cb();
        },
      }),
    );
    await client.query("CREATE TABLE bench_copy_ceiling (LIKE usage_records INCLUDING ALL)");
    const { rows: fks } = await client.query<{ def: string }>(
      "SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = 'usage_records'::regclass AND contype = 'f'",
    );
    for (const fk of fks) await client.query(`ALTER TABLE bench_copy_ceiling ADD ${fk.def}`);
    // A ceiling is the best the database does: best of CEILING_RUNS on this shared machine.
    let seconds = Infinity;
    let copied = 0;
    for (let run = 0; run < CEILING_RUNS; run++) {
      await client.query("TRUNCATE bench_copy_ceiling");
      const started = process.hrtime.bigint();
      await pipeline(Readable.from(chunks), client.query(copyFrom("COPY bench_copy_ceiling FROM STDIN")));
      seconds = Math.min(seconds, Number(process.hrtime.bigint() - started) / 1e9);
      const { rows } = await client.query<{ n: number }>("SELECT count(*)::int AS n FROM bench_copy_ceiling");
      copied = rows[0]!.n;
    }
    await client.query("DROP TABLE bench_copy_ceiling");
    return { rows: copied, seconds };
  } finally {
    client.release();
  }
}

/** A free TCP port on loopback (released before the node binds it; the node fails loudly if it was taken meanwhile). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

interface ChainNode {
  url: string;
  /** The chain as Workload needs it: an EIP-1193 provider over HTTP and the compiled artifacts. */
  hre: HardhatRuntimeEnvironment;
  stop(): Promise<void>;
}

/**
 * The chain runs in its own process (`hardhat node`), as a node always does in production. Served
 * from inside this process, the node's eth_getLogs work shared the indexer's event loop and was
 * charged to the indexer. The RPC ceiling and the indexer both read from this process.
 */
async function startChainNode(): Promise<ChainNode> {
  const port = await freePort();
  const root = path.join(__dirname, "..");
  const child = spawn(path.join(root, "node_modules/.bin/hardhat"), ["node", "--hostname", "127.0.0.1", "--port", String(port)], {
    cwd: root,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const keep = (d: Buffer) => (output = (output + d.toString()).slice(-4000));
  child.stderr.on("data", keep);
  await new Promise<void>((resolve, reject) => {
    const onData = (d: Buffer) => {
      keep(d);
      if (!output.includes("Started HTTP")) return;
      child.stdout.off("data", onData);
      child.stdout.resume(); // the node logs every call: drained, not kept
      child.off("exit", onExit);
      resolve();
    };
    const onExit = (code: number | null) => reject(new Error(`hardhat node exited (${code}) before listening:\n${output}`));
    child.stdout.on("data", onData);
    child.once("exit", onExit);
  });
  const url = `http://127.0.0.1:${port}`;
  let id = 0;
  const provider = {
    async request({ method, params = [] }: { method: string; params?: unknown[] }): Promise<unknown> {
      const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ jsonrpc: "2.0", id: ++id, method, params }) });
      const body = (await res.json()) as { result?: unknown; error?: { code: number; message: string; data?: unknown } };
      if (body.error) throw Object.assign(new Error(body.error.message), { code: body.error.code, data: body.error.data });
      return body.result;
    },
  };
  return {
    url,
    hre: { network: { provider }, artifacts: hre.artifacts } as unknown as HardhatRuntimeEnvironment,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      }),
  };
}

async function runSize(node: ChainNode, target: number): Promise<string> {
  await node.hre.network.provider.request({ method: "hardhat_reset", params: [] });
  const w = new Workload(node.hre, { tenants: 5, metersPerTenant: 4, reportersPerTenant: REPORTERS / 5 });
  await w.deploy();
  const genStart = Date.now();
  const generated = await generate(w, target);
  const head = await w.head();
  console.log(`generated ${generated} records in ${head.number - w.deployBlock} blocks in ${((Date.now() - genStart) / 1000).toFixed(1)} s`);

  let ceil = { records: 0, seconds: Infinity };
  for (let run = 0; run < CEILING_RUNS; run++) {
    const c = await ceiling(node.url, w, head.number);
    if (c.records !== generated) throw new Error(`RPC ceiling decoded ${c.records} records, expected ${generated}`);
    if (c.seconds < ceil.seconds) ceil = c;
  }
  const rpcRate = ceil.records / ceil.seconds;
  console.log(`rpc ceiling: ${ceil.records} records in ${ceil.seconds.toFixed(3)} s`);

  const db = await createTestDatabase({ maxConnections: 4 });
  try {
    const logger = pino({ level: process.env.LOG_LEVEL ?? "warn" });
    const config = testConfig(w, node.url, {
      MAX_BLOCK_RANGE: "5000",
      REORG_WINDOW: "128",
      POLL_INTERVAL_MS: "10",
      FETCH_CONCURRENCY: process.env.FETCH_CONCURRENCY ?? "4",
      LOG_LEVEL: "warn",
    });
    const started = process.hrtime.bigint();
    const indexer = await startIndexer(config, {
      db,
      logger,
      progress: createProgress(logger, { tty: false }),
      ...(process.env.BENCH_COLD_BACKFILL_BLOCKS ? { coldBackfillBlocks: Number(process.env.BENCH_COLD_BACKFILL_BLOCKS) } : {}),
      ...(process.env.BENCH_STRAIGHT_COPY === "0" ? { straightCopy: false } : {}),
    });
    await waitForCheckpoint(db.pool, head, 600_000);
    await waitForIndexesBuilt(db.pool, 600_000);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    await indexer.stop();
    const { rows } = await db.pool.query<{ n: number }>("SELECT count(*)::int AS n FROM usage_records");
    const events = rows[0]!.n;
    if (events !== generated) throw new Error(`indexer wrote ${events} records, expected ${generated}`);
    const copy = await copyCeiling(db.pool);
    if (copy.rows !== generated) throw new Error(`COPY ceiling wrote ${copy.rows} rows, expected ${generated}`);
    const copyRate = copy.rows / copy.seconds;
    console.log(`copy ceiling: ${copy.rows} rows in ${copy.seconds.toFixed(3)} s`);
    const rate = events / seconds;
    return `indexer events=${events} seconds=${seconds.toFixed(3)} events_per_s=${Math.round(rate)} rpc_ceiling_per_s=${Math.round(rpcRate)} copy_ceiling_per_s=${Math.round(copyRate)} ratio=${(rate / Math.min(rpcRate, copyRate)).toFixed(3)}`;
  } finally {
    await db.drop();
  }
}

/** The indexer counts as done once the secondary indexes a cold backfill deferred are built again. */
async function waitForIndexesBuilt(pool: pg.Pool, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { rows } = await pool.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_indexes WHERE tablename = 'usage_records' AND indexname = ANY($1)",
      [DEFERRABLE_USAGE_INDEXES],
    );
    if (rows[0]!.n === DEFERRABLE_USAGE_INDEXES.length) return;
    if (Date.now() > deadline) throw new Error("the secondary indexes of usage_records were not rebuilt in time");
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function main(): Promise<void> {
  const lines: string[] = [];
  const node = await startChainNode();
  try {
    for (const size of SIZES) {
      const line = await runSize(node, size);
      lines.push(line);
      console.log(line);
    }
  } finally {
    await node.stop();
  }
  if (lines.length > 1) {
    console.log("summary:");
    for (const l of lines.slice(0, -1)) console.log(`  ${l}`);
    // The required last line: the last size's.
    console.log(lines[lines.length - 1]);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
