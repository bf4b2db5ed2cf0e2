import type pg from "pg";
import { DEFAULT_DELIVERY_OPTIONS, deliverDueOnce } from "../webhooks/delivery";
import type { BillingConfig } from "./config";
import { runBillingOnce } from "./run";

export { billingConfigFromEnv, BillingConfigError, type BillingConfig } from "./config";
export { runBillingOnce, type BillingRunOptions, type BillingRunResult } from "./run";
export { exportInvoice } from "./export";
export { verifyInvoice } from "../verifier/verify";

/** The subset of a pino logger the worker uses. */
export interface BillingLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface BillingWorker {
  stop(): Promise<void>;
  /** Settles when both loops have stopped. */
  done: Promise<void>;
}

/**
 * Runs billing passes every intervalMs and, when an encryption key is configured, the webhook
 * delivery loop. Errors are logged and retried on the next tick: every pass is idempotent.
 */
export function startBillingWorker(config: BillingConfig, deps: { db: { pool: pg.Pool }; logger: BillingLogger }): BillingWorker {
  const { db, logger } = deps;
  let stopping = false;
  // Both loops sleep between passes; stop() wakes every sleeper at once.
  const wakers = new Set<() => void>();
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        wakers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      wakers.add(wake);
    });

  const billingLoop = async () => {
    while (!stopping) {
      try {
        const r = await runBillingOnce(db, new Date(), { confirmations: config.confirmations, graceMs: config.graceMs });
        if (r.finalized.length > 0 || r.alerts.length > 0) {
          logger.info({ finalized: r.finalized, alerts: r.alerts.length }, "billing pass");
        }
      } catch (err) {
        logger.error({ err }, "billing pass failed");
      }
      if (!stopping) await sleep(config.intervalMs);
    }
  };

  const webhookLoop = async () => {
    const wh = config.webhooks;
    if (!wh) return;
    const options = { ...DEFAULT_DELIVERY_OPTIONS, encryptionKey: wh.encryptionKey, maxAttempts: wh.maxAttempts, baseBackoffMs: wh.baseBackoffMs };
    while (!stopping) {
      let busy = false;
      try {
        const outcomes = await deliverDueOnce(db, options, new Date());
        busy = outcomes.length === options.batchSize;
        for (const o of outcomes) if (o.status === "dead") logger.warn({ delivery: o.id, error: o.error }, "webhook dead-lettered");
      } catch (err) {
        logger.error({ err }, "webhook delivery pass failed");
      }
      if (!stopping && !busy) await sleep(wh.intervalMs);
    }
  };

  const done = Promise.all([billingLoop(), webhookLoop()]).then(() => undefined);
  return {
    done,
    async stop() {
      stopping = true;
      for (const wake of [...wakers]) wake();
      await done;
    },
  };
}
