import pino from "pino";
import type { Database } from "../../../db/connection";
import { parseIndexerConfig, type IndexerConfig } from "../../../indexer/config";
import { startIndexer, type IndexerHandle } from "../../../indexer/index";
import { createProgress } from "../../../indexer/progress";
import type { Workload } from "./chain";

/** Indexer settings for tests: fast polling, a small window, no confirmations. */
export function testConfig(w: Workload, rpcUrl: string, env: Record<string, string> = {}): IndexerConfig {
  return parseIndexerConfig({
    RPC_URL: rpcUrl,
    CHAIN_ID: String(w.chainId),
    CONTRACT_ADDRESS: w.address,
    DEPLOY_BLOCK: w.deployBlock.toString(),
    DEPLOYMENTS_DIR: "/nonexistent-meterline-deployments",
    CONFIRMATIONS: "0",
    POLL_INTERVAL_MS: "20",
    REORG_WINDOW: "32",
    MAX_BLOCK_RANGE: "50",
    METRICS_PORT: "off",
    LEASE_TTL_MS: "3000",
    RPC_TIMEOUT_MS: "5000",
    LOG_LEVEL: "silent",
    ...env,
  });
}

export const testLogger = () => pino({ level: process.env.TEST_LOG_LEVEL ?? "silent" });

/** Starts an in-process indexer; a fatal error is printed and recorded in `failure`. */
export async function runIndexer(config: IndexerConfig, db: Database): Promise<IndexerHandle & { failure: () => Error | null }> {
  const logger = testLogger();
  const handle = await startIndexer(config, { db, logger, progress: createProgress(logger, { tty: false }) });
  let failure: Error | null = null;
  handle.done.catch((err: Error) => {
    failure = err;
    if (process.env.TEST_LOG_LEVEL) console.error(`indexer failed: ${err.stack ?? err.message}`);
  });
  return { ...handle, failure: () => failure };
}
