/**
 * The webhook delivery worker: delivers due deliveries in passes, back to back while there is a
 * backlog, every `intervalMs` otherwise. Any number of workers may run: deliveries are claimed with
 * SKIP LOCKED and a lease, so each is sent by one worker at a time and retried after a crash.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type pg from "pg";
import type { WebhookWorkerConfig } from "./config";
import { deliverDueOnce, type DeliveryOutcome } from "./delivery";
import { pruneDeliveries } from "./retention";

const PRUNE_EVERY_MS = 3_600_000;

export interface WorkerLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface WebhookWorker {
  stop(): Promise<void>;
  /** Settles when the loop has stopped. */
  done: Promise<void>;
}

export function startWebhookWorker(
  config: WebhookWorkerConfig,
  deps: { db: { pool: pg.Pool }; logger: WorkerLogger; onPass?: (outcomes: DeliveryOutcome[]) => void },
): WebhookWorker {
  const stopping = new AbortController();
  let prunedAt = 0;
  const loop = async () => {
    while (!stopping.signal.aborted) {
      if (config.retentionDays !== null && Date.now() - prunedAt > PRUNE_EVERY_MS) {
        prunedAt = Date.now();
        await pruneDeliveries(deps.db, new Date(Date.now() - config.retentionDays * 86_400_000)).then(
          (n) => (n.deliveries + n.events > 0 ? deps.logger.info(n, "pruned finished webhook deliveries") : undefined),
          (err: unknown) => deps.logger.warn({ err: (err as Error).message }, "pruning webhook deliveries failed"),
        );
      }
      let busy = false;
      try {
        const outcomes = await deliverDueOnce(deps.db, config.delivery);
        busy = outcomes.length === config.delivery.batchSize;
        for (const o of outcomes) if (o.status === "dead") deps.logger.warn({ delivery: o.id, error: o.error }, "webhook dead-lettered");
        deps.onPass?.(outcomes);
      } catch (err) {
        deps.logger.error({ err: (err as Error).message }, "webhook delivery pass failed");
      }
      if (!busy) await sleep(config.intervalMs, undefined, { signal: stopping.signal }).catch(() => undefined);
    }
  };
  const done = loop();
  return {
    done,
    async stop() {
      stopping.abort();
      await done;
    },
  };
}
