import type { Logger } from "pino";
import type { Database } from "../db/connection";
import type { IndexerConfig } from "./config";
import { withDbRetry } from "./db-retry";
import { ChainMovedError, LeaseLostError, ReorgTooDeepError } from "./errors";
import { fetchBatch, RangeSizer, type FetchedBatch } from "./fetch";
import type { Lease } from "../db/lease";
import type { IndexerMetrics } from "./metrics";
import type { ProgressReporter } from "./progress";
import { backoffDelay, sleep, type BackoffOptions } from "./retry";
import { pollingHeads, type HeadWatcher } from "./heads";
import type { Rpc } from "./rpc";
import { readRecentBlocks } from "./store/blocks";
import { initCheckpoint, readCheckpoint, type Checkpoint } from "./store/checkpoint";
import type { ContractRef } from "./store/contract";
import { revertAbove } from "./store/revert";
import { withTransaction } from "../db/connection";
import type { UsageLoader } from "./store/usage-records";
import { writeBatch } from "./store/write-batch";

export interface FollowerDeps {
  db: Database;
  rpc: Rpc;
  contract: ContractRef;
  lease: Lease;
  metrics: IndexerMetrics;
  logger: Logger;
  config: Pick<IndexerConfig, "pollIntervalMs" | "reorgWindow" | "maxBlockRange" | "fetchConcurrency" | "confirmations">;
  signal: AbortSignal;
  progress?: ProgressReporter;
  /** Set by the heartbeat when a renewal found another owner. */
  leaseLost: () => boolean;
  /** When to look at the head again (newHeads subscription or polling); polling when absent. */
  heads?: HeadWatcher;
  /** The role records are COPYed into usage_records as (migration 048); staging when absent. */
  usageLoader?: UsageLoader | null;
}

const same = (a: string, b: string): boolean => a.toLowerCase() === b.toLowerCase();

/**
 * Pause after a batch dropped because the chain moved. The first re-check is almost immediate (a
 * real reorg is repaired at once); an endpoint whose heads keep disagreeing (a load balancer over
 * nodes on different forks, a broken node) is re-checked ever more slowly, never in a tight loop.
 */
export const CHAIN_MOVED_BACKOFF: BackoffOptions = { baseMs: 100, maxMs: 30_000 };
/** Consecutive inconsistent batches after which the indexer reports itself degraded (/readyz, metric). */
export const DEGRADED_AFTER = 3;
/**
 * While the head number stays put, polls read only eth_blockNumber; every this many polls the
 * checkpoint's hash is compared as well, so a reorg that keeps the height (same number, another
 * block) is still noticed within a few seconds when no new head arrives.
 */
export const CANONICAL_CHECK_EVERY_POLLS = 10;

/** Why the follower is not making progress, while it is not. */
export interface Degraded {
  reason: string;
  since: Date;
  /** Consecutive batches dropped. */
  attempts: number;
}

/**
 * Follows the chain from the checkpoint: backfills to head in adaptive ranges fetched
 * concurrently and written strictly in order, then polls for new blocks. Before every round it
 * checks that the checkpoint block is still canonical; when it is not, it walks back through the
 * stored block hashes to the common ancestor and reverts everything above it in one transaction.
 */
export class Follower {
  private checkpoint!: Checkpoint;
  private readonly sizer: RangeSizer;
  private head = -1n;
  private caughtUp = false;
  private backfillStart: bigint | null = null;
  private inconsistent = 0;
  private degradedState: Degraded | null = null;

  constructor(private readonly d: FollowerDeps) {
    this.sizer = new RangeSizer(d.config.maxBlockRange);
  }

  isCaughtUp(): boolean {
    return this.caughtUp && this.head - this.checkpoint.number <= BigInt(this.d.config.confirmations);
  }

  /** Set while consecutive batches keep failing the chain's consistency checks; null when progressing. */
  degraded(): Degraded | null {
    return this.degradedState;
  }

  private db<T>(what: string, fn: () => Promise<T>): Promise<T> {
    const url = this.d.db.embedded ? undefined : this.d.db.url;
    return withDbRetry(fn, { signal: this.d.signal, logger: this.d.logger, what, url, onRetry: () => this.d.metrics.dbRetries.inc() });
  }

  /** A batch was dropped because the blocks did not chain: back off, and after a few in a row report degraded. */
  private async chainMoved(err: ChainMovedError): Promise<void> {
    const { logger, metrics, signal } = this.d;
    this.inconsistent++;
    metrics.chainInconsistencies.inc();
    const delayMs = Math.round(backoffDelay(this.inconsistent - 1, CHAIN_MOVED_BACKOFF));
    if (this.inconsistent >= DEGRADED_AFTER) {
      if (!this.degradedState) {
        this.degradedState = { reason: err.message, since: new Date(), attempts: this.inconsistent };
        metrics.degraded.set(1);
        logger.warn({ reason: err.message, attempts: this.inconsistent, delayMs }, "RPC_URL keeps answering with blocks that do not chain; degraded, backing off");
      } else {
        this.degradedState = { ...this.degradedState, reason: err.message, attempts: this.inconsistent };
        logger.warn({ reason: err.message, attempts: this.inconsistent, delayMs }, "chain still inconsistent; backing off");
      }
    } else {
      logger.info({ reason: err.message, attempt: this.inconsistent, delayMs }, "chain moved during a batch; re-checking");
    }
    await sleep(delayMs, signal);
  }

  /** Progress was made: the chain is consistent again. */
  private consistent(): void {
    if (this.inconsistent === 0) return;
    if (this.degradedState) {
      this.d.logger.info({ attempts: this.inconsistent, since: this.degradedState.since.toISOString() }, "chain consistent again; no longer degraded");
    }
    this.inconsistent = 0;
    this.degradedState = null;
    this.d.metrics.degraded.set(0);
  }

  private async loadCheckpoint(): Promise<Checkpoint> {
    const { pool } = this.d.db;
    const id = this.d.contract.id;
    const existing = await this.db("read checkpoint", () => readCheckpoint(pool, id));
    if (existing) return existing;
    const startNumber = this.d.contract.deployBlock - 1n;
    let start: Checkpoint;
    if (startNumber < 0n) {
      start = { number: -1n, hash: `0x${"00".repeat(32)}`, time: 0n };
    } else {
      const b = await this.d.rpc.getBlock(startNumber);
      if (!b) throw new ChainMovedError(`block ${startNumber} (before DEPLOY_BLOCK) does not exist on this chain`);
      start = { number: b.number, hash: b.hash, time: b.timestamp };
    }
    await this.db("init checkpoint", () => initCheckpoint(pool, id, start));
    return (await this.db("read checkpoint", () => readCheckpoint(pool, id)))!;
  }

  /** Runs until the signal aborts; throws LeaseLostError, ReorgTooDeepError or a fatal error. */
  async run(): Promise<void> {
    const { rpc, signal, config, logger } = this.d;
    this.checkpoint = await this.loadCheckpoint();
    this.d.metrics.indexedBlock.set(Number(this.checkpoint.number));
    logger.info({ checkpoint: this.checkpoint.number.toString() }, "resuming from checkpoint");
    const heads = this.d.heads ?? pollingHeads(config.pollIntervalMs, signal);
    // Set after a round that left the checkpoint at the head: the head number it saw, and how many
    // quiet polls have skipped the canonical check since.
    let settledAt: bigint | null = null;
    let quietPolls = 0;
    let woken = false;
    while (!signal.aborted) {
      if (this.d.leaseLost()) throw new LeaseLostError("writer lease lost (heartbeat)");
      this.setHead(await rpc.blockNumber());
      logger.debug({ head: this.head.toString(), checkpoint: this.checkpoint.number.toString() }, "poll");
      // Nothing new since the last settled round: one eth_blockNumber was the whole poll. A head
      // notification always gets the full round (it may be a same-height reorg).
      if (!woken && settledAt === this.head && quietPolls < CANONICAL_CHECK_EVERY_POLLS) {
        quietPolls++;
        woken = await heads.next();
        continue;
      }
      settledAt = null;
      quietPolls = 0;
      if (!(await this.checkpointIsCanonical())) {
        logger.debug("checkpoint not canonical");
        await this.handleReorg();
        continue;
      }
      if (this.head > this.checkpoint.number) {
        try {
          await this.syncTo(this.head);
        } catch (err) {
          if (!(err instanceof ChainMovedError)) throw err;
          await this.chainMoved(err);
        }
        continue;
      }
      this.consistent();
      if (!this.caughtUp) {
        this.d.progress?.stop();
        logger.info({ block: this.checkpoint.number.toString() }, "caught up with the chain head; following");
      }
      this.caughtUp = true;
      settledAt = this.head;
      woken = await heads.next();
    }
  }

  private setHead(head: bigint): void {
    this.head = head;
    this.d.metrics.chainHead.set(Number(head));
    this.updateLag();
  }

  private updateLag(): void {
    const lag = this.head - this.checkpoint.number;
    this.d.metrics.lagBlocks.set(Number(lag > 0n ? lag : 0n));
    if (this.checkpoint.time > 0n) this.d.metrics.lagSeconds.set(Math.max(0, Date.now() / 1000 - Number(this.checkpoint.time)));
  }

  private async checkpointIsCanonical(): Promise<boolean> {
    if (this.checkpoint.number < 0n) return true;
    const b = await this.d.rpc.getBlock(this.checkpoint.number);
    return b !== null && same(b.hash, this.checkpoint.hash);
  }

  private async handleReorg(): Promise<void> {
    const { db, rpc, contract, lease, logger, config, metrics } = this.d;
    const stored = await this.db("read blocks", () => readRecentBlocks(db.pool, contract.id));
    let ancestor: Checkpoint | null = null;
    this.d.logger.debug({ stored: stored.length }, "walking back");
    for (const b of stored) {
      if (b.number < 0n) {
        ancestor = b;
        break;
      }
      const onChain = await rpc.getBlock(b.number);
      if (onChain && same(onChain.hash, b.hash)) {
        ancestor = b;
        break;
      }
    }
    const from = this.checkpoint.number;
    if (!ancestor || from - ancestor.number > BigInt(config.reorgWindow)) {
      throw new ReorgTooDeepError(from, config.reorgWindow);
    }
    const target = ancestor;
    this.d.logger.debug({ ancestor: target.number.toString() }, "reverting");
    const reverted = await this.db("revert", () =>
      withTransaction(db.pool, async (client) => {
        await lease.fence(client);
        return revertAbove(client, contract, target);
      }),
    );
    const depth = Number(from - target.number);
    this.checkpoint = target;
    metrics.reorgs.inc();
    metrics.reorgDepth.observe(depth);
    metrics.indexedBlock.set(Number(target.number));
    this.updateLag();
    logger.warn(
      { from: from.toString(), ancestor: target.number.toString(), depth, records: reverted.records, commitments: reverted.commitments },
      "reorg: reverted orphaned blocks",
    );
  }

  /**
   * Fetches [checkpoint+1, head] in ranges, up to FETCH_CONCURRENCY ahead of the writer, and
   * applies them in block order. Memory stays bounded by concurrency x range size (and ranges
   * split when responses grow large).
   */
  private async syncTo(head: bigint): Promise<void> {
    const { rpc, contract, config, signal } = this.d;
    const windowStart = head - BigInt(config.reorgWindow) + 1n;
    if (this.backfillStart === null && head - this.checkpoint.number > 1n) this.backfillStart = this.checkpoint.number + 1n;
    let next = this.checkpoint.number + 1n;
    const queue: Promise<FetchedBatch>[] = [];
    while ((queue.length > 0 || next <= head) && !signal.aborted) {
      while (queue.length < config.fetchConcurrency && next <= head) {
        const from = next;
        const to = from + BigInt(this.sizer.size) - 1n < head ? from + BigInt(this.sizer.size) - 1n : head;
        next = to + 1n;
        const p = fetchBatch({ rpc, address: contract.address, from, to, windowStart, sizer: this.sizer });
        // Rejections are handled when the batch reaches the front; silence them until then.
        p.catch(() => undefined);
        queue.push(p);
      }
      const batch = await queue.shift()!;
      this.d.logger.debug({ from: batch.from.toString(), to: batch.to.toString(), events: batch.events.length }, "fetched");
      if (signal.aborted) return;
      await this.apply(batch);
    }
  }

  private async apply(batch: FetchedBatch): Promise<void> {
    const { db, contract, lease, metrics, config } = this.d;
    if (batch.from !== this.checkpoint.number + 1n) {
      throw new ChainMovedError(`batch starts at ${batch.from}, checkpoint is ${this.checkpoint.number}`);
    }
    const first = batch.headers[0];
    if (first && first.number === batch.from && this.checkpoint.number >= 0n && !same(first.parentHash, this.checkpoint.hash)) {
      throw new ChainMovedError(`block ${first.number} does not extend checkpoint ${this.checkpoint.number}`);
    }
    const pruneBelow = batch.last.number - BigInt(config.reorgWindow);
    const started = process.hrtime.bigint();
    const result = await this.db("write batch", () =>
      withTransaction(db.pool, async (client) => {
        // Rows and checkpoint commit or vanish together, so not waiting for the WAL flush is safe:
        // a server crash can only lose whole batches, which are re-read from the chain.
        await client.query("SET LOCAL synchronous_commit = off");
        await lease.fence(client);
        return writeBatch(client, contract, batch, { pruneBelow, copy: !db.embedded, loader: this.d.usageLoader ?? null });
      }),
    );
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    metrics.batchSeconds.observe(seconds);
    this.consistent();
    this.d.logger.debug({ from: batch.from.toString(), to: batch.to.toString(), records: result.records, ms: Math.round(seconds * 1000) }, "applied");
    for (const e of batch.events) metrics.events.inc({ event: e.kind });
    metrics.records.inc(result.records);
    this.checkpoint = { number: batch.last.number, hash: batch.last.hash, time: batch.last.timestamp };
    metrics.indexedBlock.set(Number(batch.last.number));
    this.updateLag();
    if (this.backfillStart !== null && !this.caughtUp) {
      this.d.progress?.update({ indexed: batch.to, head: this.head, start: this.backfillStart, events: batch.events.length });
    }
  }
}
