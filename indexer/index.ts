import { setMaxListeners } from "node:events";
import type pg from "pg";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import { toFunctionSelector } from "viem";
import type { IndexerConfig } from "./config";
import { withDbRetry } from "./db-retry";
import { AbortedError, ChainIdMismatchError, IndexerError, LeaseLostError } from "./errors";
import { Follower } from "./follower";
import { pollingHeads, subscribeNewHeads, type HeadWatcher } from "./heads";
import { Lease } from "../db/lease";
import { serveOps } from "../db/ops-server";
import { createMetrics } from "./metrics";
import { createProgress, type ProgressReporter } from "./progress";
import { sleep } from "./retry";
import { Rpc } from "./rpc";
import { readCheckpoint } from "./store/checkpoint";
import { ensureContract } from "./store/contract";
import { findUsageLoader, STAGE_DDL, type UsageLoader } from "./store/usage-records";
import { buildUsageIndexes, DEFERRABLE_USAGE_INDEXES, deferUsageIndexes, usageIndexesPending } from "./store/usage-indexes";
import { withTransaction, type Database } from "../db/connection";

/** One writer lease per (chain, contract). */
const indexerLeaseKey = (chainId: number, address: string) => `indexer:${chainId}:${address.toLowerCase()}`;

export type { IndexerConfig } from "./config";
export { parseIndexerConfig } from "./config";

export interface IndexerDeps {
  db: Database;
  logger: Logger;
  registry?: Registry;
  /** Backfill progress; defaults to a plain log line every 10 s. */
  progress?: ProgressReporter;
  /**
   * A start this many blocks or more behind the head, into an empty usage_records, is a cold
   * backfill: the secondary indexes are built once at the head instead of row by row. 0 disables
   * the deferral (a deferral an earlier run left pending is still completed). Default
   * COLD_BACKFILL_BLOCKS.
   */
  coldBackfillBlocks?: number;
  /** false: never COPY straight into usage_records, even with the loader role (benchmark A/B). */
  straightCopy?: boolean;
}

/** Connections opened ahead of the first batch: the writer's, and one for the follower's reads. */
const WARM_CONNECTIONS = 2;

/** A settled promise's value, or its error thrown. */
function settled<T>(r: PromiseSettledResult<T>): T {
  if (r.status === "rejected") throw r.reason;
  return r.value;
}

/** Default threshold of a cold backfill, in blocks (see IndexerDeps.coldBackfillBlocks). */
export const COLD_BACKFILL_BLOCKS = 16;

export interface IndexerHandle {
  /** Finishes the batch in flight, releases the writer lease and resolves once stopped. */
  stop(): Promise<void>;
  /** Resolves after stop(); rejects when the indexer fails (bad chain id, reorg too deep, bad SQL...). */
  done: Promise<void>;
  /** The bound metrics/health port, when METRICS_PORT is set. */
  metricsPort: number | null;
}

/**
 * Starts indexing `config.contractAddress` into `deps.db`. Expects the schema to be migrated.
 * Never holds a pooled client across an RPC call: each database step is one statement or one
 * short transaction, so it shares the embedded one-connection pool with the API.
 */
export async function startIndexer(config: IndexerConfig, deps: IndexerDeps): Promise<IndexerHandle> {
  const logger = deps.logger.child({ component: "indexer", chainId: config.chainId, contract: config.contractAddress });
  const metrics = createMetrics(deps.registry);
  const controller = new AbortController();
  const signal = controller.signal;
  // Every retry sleep listens for stop; a batch of failed header reads can have many at once.
  setMaxListeners(10_000, signal);
  let state: "starting" | "standby" | "active" | "stopped" | "failed" = "starting";
  let follower: Follower | null = null;
  let heads: HeadWatcher | null = null;
  // The last RPC failure while calls keep failing (cleared by the next success): readiness says why.
  let rpcFailing: { method: string; error: string; since: string } | null = null;

  const http =
    config.metricsPort === null
      ? null
      : await serveOps({
          port: config.metricsPort,
          host: config.metricsHost,
          registry: metrics.registry,
          checks: {
            healthy: () => state !== "failed" && state !== "stopped",
            ready: () => {
              const degraded = follower?.degraded() ?? null;
              const checks = {
                writer: state === "active",
                caughtUp: follower !== null && follower.isCaughtUp(),
                // "ok", or why the indexer is not making progress.
                chain: degraded ? `degraded since ${degraded.since.toISOString()} (${degraded.attempts} batches): ${degraded.reason}` : "ok",
                rpc: rpcFailing ? `RPC_URL failing since ${rpcFailing.since}: ${rpcFailing.method} ${rpcFailing.error}` : "ok",
              };
              return { ready: checks.writer && checks.caughtUp && degraded === null && rpcFailing === null, checks };
            },
          },
        });

  const rpc = new Rpc({
    url: config.rpcUrl,
    timeoutMs: config.rpcTimeoutMs,
    logger,
    signal,
    hooks: {
      onError: (method, kind, err) => {
        metrics.rpcErrors.inc({ method, kind });
        if (kind !== "range") rpcFailing = { method, error: err.name, since: rpcFailing?.since ?? new Date().toISOString() };
      },
      onSuccess: () => {
        rpcFailing = null;
      },
    },
  });
  const progress = deps.progress ?? createProgress(logger, { tty: false, intervalMs: 10_000 });
  const dbUrl = deps.db.embedded ? undefined : deps.db.url;
  const dbRetry = <T>(what: string, fn: () => Promise<T>) => withDbRetry(fn, { signal, logger, what, url: dbUrl });

  /**
   * Whether this start is (or resumes) a cold backfill: null when not; otherwise whether the
   * secondary indexes end up deferred. Pending from an earlier run (it stopped before building
   * them): yes. An empty usage_records with the checkpoint at least `coldBackfillBlocks` behind the
   * head: the deferral is started and left running while the follower starts and issues its first
   * eth_getLogs (start-up overlapped with the first fetch). Both it and every batch fence the lease
   * row first, so they serialize, and this returns once the deferral holds that row: the first
   * batch waits for the drops to commit. (Were a batch first, the table would not be empty and the
   * deferral would decline, equally correct.)
   */
  async function startColdBackfill(contractId: number, lease: Lease): Promise<{ deferred: Promise<boolean> } | null> {
    const minBlocks = BigInt(deps.coldBackfillBlocks ?? COLD_BACKFILL_BLOCKS);
    const [pending, checkpoint, head] = await Promise.all([
      dbRetry("read usage_records index state", () => usageIndexesPending(deps.db.pool)),
      minBlocks > 0n ? dbRetry("read checkpoint", () => readCheckpoint(deps.db.pool, contractId)) : null,
      minBlocks > 0n ? rpc.blockNumber() : -1n,
    ]);
    if (pending) {
      logger.info("secondary indexes of usage_records still deferred (an earlier run stopped before building them): backfilling, then building them");
      return { deferred: Promise.resolve(true) };
    }
    const from = checkpoint?.number ?? config.deployBlock - 1n;
    if (minBlocks <= 0n || head - from < minBlocks) return null;
    let fenced!: () => void;
    const holdsLease = new Promise<void>((resolve) => (fenced = resolve));
    const deferred = dbRetry("defer usage_records indexes", () =>
      withTransaction(deps.db.pool, async (client) => {
        await lease.fence(client);
        fenced();
        return deferUsageIndexes(client);
      }),
    ).then((d) => {
      if (d) logger.info({ from: from.toString(), head: head.toString(), indexes: DEFERRABLE_USAGE_INDEXES }, "cold backfill into an empty usage_records: secondary indexes deferred until the head");
      return d;
    });
    // Awaited after the backfill; a failure meanwhile (the backfill failing first) must not go unhandled.
    deferred.catch(() => undefined);
    // Once the deferral holds the lease row, no batch can commit before it: it always finds the
    // table empty, and the rest of it (lock, drops) runs while the follower starts.
    await Promise.race([holdsLease, deferred]);
    return { deferred };
  }

  /** Runs a follower until it has caught up with the head once (or the indexer stops). */
  async function backfillToHead(newFollower: (s: AbortSignal) => Follower): Promise<void> {
    const phase = new AbortController();
    setMaxListeners(10_000, phase.signal);
    const onStop = () => phase.abort();
    signal.addEventListener("abort", onStop, { once: true });
    const f = newFollower(phase.signal);
    follower = f;
    // The follower has no "stop at head" of its own: it is stopped once it reports caught up.
    const watch = setInterval(() => {
      if (f.isCaughtUp()) phase.abort();
    }, 5);
    try {
      await f.run();
    } catch (err) {
      if (!(err instanceof AbortedError && phase.signal.aborted)) throw err;
    } finally {
      clearInterval(watch);
      signal.removeEventListener("abort", onStop);
    }
  }

  /**
   * Opens the pool's connections (a TCP and authentication round trip each) and their COPY staging
   * table while the chain checks run, so the first batches do not pay for them. Server only: the
   * embedded database has one connection and no COPY.
   */
  async function warmPool(): Promise<void> {
    if (deps.db.embedded) return;
    // Checked out, a client has no pool listener: a connection the server ends meanwhile must not
    // become an uncaught 'error' event; it is destroyed on release instead of returned to the pool.
    const held: { client: pg.PoolClient; broken?: Error; onError: (err: Error) => void }[] = [];
    const connecting = Array.from({ length: WARM_CONNECTIONS }, async () => {
      const client = await deps.db.pool.connect();
      const h: (typeof held)[number] = { client, onError: (err) => (h.broken = err) };
      client.on("error", h.onError);
      held.push(h);
      await client.query(STAGE_DDL).catch((err: Error) => (h.broken ??= err));
    });
    try {
      await Promise.allSettled(connecting);
    } finally {
      for (const h of held) {
        h.client.off("error", h.onError);
        h.client.release(h.broken);
      }
    }
  }

  async function run(): Promise<void> {
    // The fixed start-up cost, overlapped: the four chain checks go out at once (judged in order,
    // so a wrong chain is reported as such), and the pool opens its connections meanwhile (not
    // awaited: an unreachable database is reported by the retried steps below).
    void warmPool().catch((err: unknown) => logger.debug({ err: (err as Error).message }, "pool warm-up failed"));
    // Checked on every start: a DBA may create the role (migration 048) after the first deploy.
    const findingLoader: Promise<UsageLoader | null> =
      deps.db.embedded || deps.straightCopy === false
        ? Promise.resolve(null)
        : dbRetry("find the usage loader role", () => findUsageLoader(deps.db.pool));
    findingLoader.catch(() => undefined); // awaited below; a failed chain check must not leave it unhandled
    const [chainId, code, minDelayR, maxDelayR] = await Promise.allSettled([
      rpc.chainId(),
      rpc.getCode(config.contractAddress),
      rpc.readUint(config.contractAddress, toFunctionSelector("MIN_REVEAL_DELAY()")),
      rpc.readUint(config.contractAddress, toFunctionSelector("MAX_REVEAL_DELAY()")),
    ]);
    const actual = settled(chainId);
    if (actual !== config.chainId) throw new ChainIdMismatchError(config.chainId, actual);
    if (!settled(code) || settled(code) === "0x") throw new IndexerError(`CONTRACT_ADDRESS ${config.contractAddress} has no code on chain ${actual}`);
    const [minDelay, maxDelay] = [settled(minDelayR), settled(maxDelayR)];
    const usageLoader = await findingLoader;
    if (!deps.db.embedded) {
      logger.info(
        usageLoader
          ? { role: usageLoader.role }
          : { hint: "create meterline_usage_loader as a superuser (db/migrations/048_usage_loader.sql) for the faster path" },
        usageLoader ? "usage records are COPYed straight into usage_records" : "usage records go through a staging table",
      );
    }
    const contract = await dbRetry("register contract", () =>
      ensureContract(deps.db.pool, {
        chainId: config.chainId,
        address: config.contractAddress,
        deployBlock: config.deployBlock,
        minRevealDelay: minDelay === null ? null : Number(minDelay),
        maxRevealDelay: maxDelay === null ? null : Number(maxDelay),
      }),
    );
    if (contract.deployBlock !== config.deployBlock) {
      logger.warn({ stored: contract.deployBlock.toString(), configured: config.deployBlock.toString() }, "DEPLOY_BLOCK differs from the registered contract; keeping the registered one");
    }
    // Heads are watched for the life of the process, across lease changes: a standby that takes
    // over is subscribed already.
    heads = config.wsRpcUrl
      ? subscribeNewHeads({
          url: config.wsRpcUrl,
          pollIntervalMs: config.pollIntervalMs,
          logger,
          signal,
          onHead: () => metrics.headNotifications.inc(),
          onState: (up) => metrics.headSubscribed.set(up ? 1 : 0),
        })
      : pollingHeads(config.pollIntervalMs, signal);
    const lease = new Lease(deps.db.pool, indexerLeaseKey(config.chainId, config.contractAddress), config.leaseTtlMs, (key) => new LeaseLostError(`writer lease ${key} is held by another indexer`));
    const beatEvery = Math.max(100, Math.floor(config.leaseTtlMs / 3));

    try {
      while (!signal.aborted) {
        state = "standby";
        let announced = false;
        while (!(await dbRetry("acquire lease", () => lease.tryAcquire()))) {
          if (!announced) logger.info({ lease: lease.key }, "another indexer holds the writer lease; standing by");
          announced = true;
          await sleep(beatEvery, signal);
        }
        state = "active";
        metrics.leaseHeld.set(1);
        logger.info({ lease: lease.key, owner: lease.owner }, "writer lease acquired");
        let lost = false;
        const heartbeat = setInterval(() => {
          lease
            .renew()
            .then((ok) => {
              if (ok) return;
              lost = true;
              // The follower may be waiting for a head (seconds while subscribed): stop writing now.
              heads?.wake();
            })
            .catch((err: unknown) => logger.warn({ err: (err as Error).message }, "lease heartbeat failed"));
        }, beatEvery);
        const newFollower = (phaseSignal: AbortSignal) =>
          new Follower({ db: deps.db, rpc, contract, lease, metrics, logger, config, signal: phaseSignal, progress, leaseLost: () => lost, heads: heads ?? undefined, usageLoader });
        try {
          const cold = await startColdBackfill(contract.id, lease);
          if (cold) {
            // Backfill with the secondary indexes deferred, stop at the head, build them, then follow.
            await backfillToHead(newFollower);
            if (signal.aborted) break;
            follower = null;
            // Declined (the table held records already, e.g. another contract's): nothing to build.
            if (await cold.deferred) {
              const started = Date.now();
              await dbRetry("build usage_records indexes", () =>
                withTransaction(deps.db.pool, async (client) => {
                  await lease.fence(client);
                  await buildUsageIndexes(client);
                }),
              );
              logger.info({ ms: Date.now() - started, indexes: DEFERRABLE_USAGE_INDEXES }, "cold backfill done: secondary indexes of usage_records built");
            }
          }
          follower = newFollower(signal);
          await follower.run();
        } catch (err) {
          if (!(err instanceof LeaseLostError)) throw err;
          logger.warn({ err: err.message }, "lost the writer lease; back to standby");
        } finally {
          clearInterval(heartbeat);
          metrics.leaseHeld.set(0);
          // A standby makes no progress to be degraded about; the next follower starts afresh.
          metrics.degraded.set(0);
          follower = null;
        }
      }
    } finally {
      heads?.close();
      progress.stop();
      // A clean stop hands over at once instead of making the standby wait out the TTL.
      await lease.release().catch(() => undefined);
    }
  }

  const done = run().then(
    () => {
      state = "stopped";
    },
    (err: unknown) => {
      if (err instanceof AbortedError || signal.aborted) {
        state = "stopped";
        return;
      }
      state = "failed";
      throw err;
    },
  );
  const finished = done.finally(() => new Promise<void>((resolve) => {
    if (!http) return resolve();
    http.server.close(() => resolve());
    http.server.closeAllConnections();
  }));
  finished.catch(() => undefined);

  return {
    metricsPort: http?.port ?? null,
    done: finished,
    async stop() {
      controller.abort();
      await finished.catch(() => undefined);
    },
  };
}
