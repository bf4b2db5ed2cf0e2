/**
 * Crash-safety run: the indexer runs as a child process (npm run indexer's entry point) against the
 * in-process Hardhat chain served over HTTP, and is SIGKILLed at random moments, during backfill
 * and while following, while the chain grows and reorganizes. A last run catches up and exits on
 * SIGTERM; then the database is compared with the chain.
 */
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import type { HardhatRuntimeEnvironment } from "hardhat/types";
import { createTestDatabase, urlAsRole } from "../../helpers/database";
import { serveChain, Workload } from "./chain";
import { compareWithTruth, groundTruth, waitForCheckpoint } from "./truth";

export interface ChaosOptions {
  kills: number;
  /** Commit-reveal rounds mined before the first start, so early kills hit a backfill. */
  historyRounds: number;
  log?: (line: string) => void;
}

export interface ChaosResult {
  kills: number;
  reorgs: number;
  lost: number;
  duplicated: number;
  records: number;
  problems: string[];
}

const ROOT = path.resolve(__dirname, "../../..");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function startChild(env: NodeJS.ProcessEnv, tail: string[]): ChildProcess {
  const child = spawn(process.execPath, ["--import", "tsx", path.join(ROOT, "indexer/cli.ts")], {
    cwd: ROOT,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const keep = (chunk: Buffer) => {
    for (const line of chunk.toString().split("\n")) if (line.trim()) tail.push(line);
    if (tail.length > 50) tail.splice(0, tail.length - 50);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  return child;
}

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once("exit", (code) => resolve(code)));
}

export async function runChaos(hre: HardhatRuntimeEnvironment, opts: ChaosOptions): Promise<ChaosResult> {
  const log = opts.log ?? (() => undefined);
  await hre.network.provider.request({ method: "hardhat_reset", params: [] });
  const server = await serveChain(hre);
  const db = await createTestDatabase();
  const problems: string[] = [];
  try {
    const w = new Workload(hre, { tenants: 3, metersPerTenant: 2, reportersPerTenant: 2 });
    await w.deploy();
    for (let i = 0; i < opts.historyRounds; i++) await w.round({ reveals: 4, recordsPerReveal: 40, withhold: i % 5 === 0 ? 1 : 0 });
    log(`chaos: history to block ${(await w.head()).number}, database ${db.name}`);

    const env: NodeJS.ProcessEnv = {
      ...process.env,
      RPC_URL: server.url,
      CHAIN_ID: String(w.chainId),
      CONTRACT_ADDRESS: w.address,
      DEPLOY_BLOCK: w.deployBlock.toString(),
      DEPLOYMENTS_DIR: "/nonexistent-meterline-deployments",
      // As the indexer's own role, which owns nothing: the CLI checks the schema and never migrates.
      DATABASE_URL: urlAsRole(db.url, "meterline_indexer"),
      METRICS_PORT: "off",
      LOG_LEVEL: "warn",
      POLL_INTERVAL_MS: "30",
      CONFIRMATIONS: "0",
      REORG_WINDOW: "64",
      MAX_BLOCK_RANGE: "8",
      FETCH_CONCURRENCY: "3",
      LEASE_TTL_MS: "1000",
    };

    // The chain keeps growing and reorganizing underneath the indexer.
    let reorgs = 0;
    let driving = true;
    const driver = (async () => {
      while (driving) {
        if (Math.random() < 0.3) {
          const snap = await w.snapshot();
          const rounds = 1 + Math.floor(Math.random() * 3);
          for (let i = 0; i < rounds; i++) await w.round({ reveals: 2, recordsPerReveal: 10 });
          await sleep(Math.random() * 400);
          await w.revert(snap);
          reorgs++;
          for (let i = 0; i <= rounds; i++) await w.round({ reveals: 2, recordsPerReveal: 10 });
        } else {
          await w.round({ reveals: 3, recordsPerReveal: 20, withhold: Math.random() < 0.2 ? 1 : 0 });
          if (Math.random() < 0.1) await w.expirePending();
        }
        await sleep(20 + Math.random() * 150);
      }
    })();

    let kills = 0;
    const tail: string[] = [];
    try {
      while (kills < opts.kills) {
        const child = startChild(env, tail);
        // tsx needs ~1 s to load; kill anywhere from start-up through backfill and following.
        await Promise.race([sleep(700 + Math.random() * 2300), exited(child)]);
        if (child.exitCode !== null) {
          problems.push(`indexer exited by itself with code ${child.exitCode}: ${tail.slice(-3).join(" | ")}`);
          break;
        }
        child.kill("SIGKILL");
        await exited(child);
        kills++;
        log(`chaos: kill ${kills}/${opts.kills}`);
      }
    } finally {
      driving = false;
      await driver;
    }
    await w.expirePending();

    // Final run: must catch up from whatever the kills left and stop cleanly on SIGTERM.
    const child = startChild(env, tail);
    let spoke = false;
    child.stdout?.once("data", () => (spoke = true));
    try {
      await waitForCheckpoint(db.pool, await w.head(), 120_000);
    } catch (err) {
      problems.push(`final run did not catch up: ${(err as Error).message}; ${tail.slice(-3).join(" | ")}`);
    }
    // SIGTERM while the child is running (not while Node is still loading modules, where no
    // process can have a handler yet): wait for its first log line.
    const started = Date.now();
    while (!spoke && child.exitCode === null && Date.now() - started < 30_000) {
      await new Promise((r) => setTimeout(r, 50));
    }
    child.kill("SIGTERM");
    const code = await exited(child);
    if (code !== 0) problems.push(`indexer exited ${code} on SIGTERM: ${tail.slice(-3).join(" | ")}`);

    const truth = await groundTruth(w.pub, w.address, w.deployBlock);
    const cmp = await compareWithTruth(db.pool, truth);
    return { kills, reorgs, lost: cmp.lost, duplicated: cmp.duplicated, records: truth.records.size, problems: [...problems, ...cmp.problems] };
  } finally {
    await db.drop();
    await server.close();
  }
}
