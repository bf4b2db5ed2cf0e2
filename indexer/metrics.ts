import { Counter, Gauge, Histogram, Registry } from "prom-client";

export interface IndexerMetrics {
  registry: Registry;
  chainHead: Gauge;
  indexedBlock: Gauge;
  lagBlocks: Gauge;
  lagSeconds: Gauge;
  events: Counter<"event">;
  records: Counter;
  reorgs: Counter;
  reorgDepth: Histogram;
  rpcErrors: Counter<"method" | "kind">;
  dbRetries: Counter;
  batchSeconds: Histogram;
  leaseHeld: Gauge;
  chainInconsistencies: Counter;
  degraded: Gauge;
  headSubscribed: Gauge;
  headNotifications: Counter;
}

export function createMetrics(registry: Registry = new Registry()): IndexerMetrics {
  const registers = [registry];
  return {
    registry,
    chainHead: new Gauge({ name: "meterline_indexer_chain_head_block", help: "Latest block number reported by the RPC", registers }),
    indexedBlock: new Gauge({ name: "meterline_indexer_indexed_block", help: "Checkpoint: last block fully applied", registers }),
    lagBlocks: new Gauge({ name: "meterline_indexer_lag_blocks", help: "Chain head minus indexed block", registers }),
    lagSeconds: new Gauge({ name: "meterline_indexer_lag_seconds", help: "Wall clock minus the indexed block's timestamp", registers }),
    events: new Counter({ name: "meterline_indexer_events_total", help: "Contract events applied", labelNames: ["event"], registers }),
    records: new Counter({ name: "meterline_indexer_usage_records_total", help: "Usage records inserted", registers }),
    reorgs: new Counter({ name: "meterline_indexer_reorgs_total", help: "Reorganizations handled", registers }),
    reorgDepth: new Histogram({
      name: "meterline_indexer_reorg_depth_blocks",
      help: "Blocks reverted per reorganization",
      buckets: [1, 2, 4, 8, 16, 32, 64, 128],
      registers,
    }),
    rpcErrors: new Counter({
      name: "meterline_indexer_rpc_errors_total",
      help: "Failed RPC calls (kind=range: split and retried smaller; transient: retried with backoff; fatal: the endpoint rejects the request)",
      labelNames: ["method", "kind"],
      registers,
    }),
    dbRetries: new Counter({ name: "meterline_indexer_db_retries_total", help: "Batches retried after a database error", registers }),
    batchSeconds: new Histogram({
      name: "meterline_indexer_batch_duration_seconds",
      help: "Write transaction latency per batch",
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    leaseHeld: new Gauge({ name: "meterline_indexer_lease_held", help: "1 when this process is the active writer", registers }),
    chainInconsistencies: new Counter({
      name: "meterline_indexer_chain_inconsistencies_total",
      help: "Batches dropped because the RPC's blocks did not chain (moved during the batch, or an inconsistent endpoint)",
      registers,
    }),
    degraded: new Gauge({
      name: "meterline_indexer_degraded",
      help: "1 while the RPC keeps answering with blocks that do not chain (the indexer backs off and /readyz fails)",
      registers,
    }),
    headSubscribed: new Gauge({
      name: "meterline_indexer_head_subscription",
      help: "1 while new heads arrive by eth_subscribe(newHeads) on WS_RPC_URL; 0 while polling RPC_URL",
      registers,
    }),
    headNotifications: new Counter({ name: "meterline_indexer_head_notifications_total", help: "newHeads notifications received on WS_RPC_URL", registers }),
  };
}
