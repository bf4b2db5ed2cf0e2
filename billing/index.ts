/**
 * The billing worker: a billing pass every `intervalMs` (quotas, reorg reconciliation, drafts,
 * finalization). Every pass is idempotent and serialized per tenant by an advisory lock, so a
 * failed pass is simply retried on the next tick. Webhook delivery is a separate worker
 * (webhooks/worker.ts), with its own database role.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type pg from "pg";
import type { BillingConfig } from "./config";
import { runBillingOnce, type BillingRunResult } from "./run";
import type { AnchorChain } from "./anchoring/chain";
import { runAnchoringOnce, type AnchoringResult } from "./anchoring/run";

export { billingConfigFromEnv, BillingConfigError, type BillingConfig } from "./config";
export { runBillingOnce, type BillingRunOptions, type BillingRunResult } from "./run";
export { exportInvoice } from "./export";
export { runAnchoringOnce, type AnchoringResult } from "./anchoring/run";
export { openAnchorChain, type AnchorChain } from "./anchoring/chain";

/** The subset of a pino logger the worker uses. */
export interface BillingLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface BillingWorker {
  stop(): Promise<void>;
  /** Settles when the loop has stopped. */
  done: Promise<void>;
}

export function startBillingWorker(
  config: BillingConfig,
  deps: {
    db: { pool: pg.Pool };
    logger: BillingLogger;
    onPass?: (result: BillingRunResult) => void;
    onError?: (err: Error) => void;
    clock?: () => Date;
    /** Opens the anchor (when anchoring is configured); retried on the next pass when it fails. */
    openAnchor?: () => Promise<AnchorChain>;
    onAnchoring?: (result: AnchoringResult) => void;
    onAnchoringError?: (err: Error) => void;
  },
): BillingWorker {
  const { db, logger } = deps;
  let anchor: AnchorChain | undefined;
  // After the billing pass, so documents finalized in it are anchored in the same tick.
  const anchorPass = async () => {
    if (!deps.openAnchor || !config.anchoring) return;
    try {
      anchor ??= await deps.openAnchor();
      const r = await runAnchoringOnce(db, anchor, { confirmations: config.anchoring.confirmations, receiptTimeoutMs: config.anchoring.receiptTimeoutMs, logger });
      deps.onAnchoring?.(r);
    } catch (err) {
      logger.error({ err: (err as Error).message }, "anchoring pass failed");
      deps.onAnchoringError?.(err as Error);
    }
  };
  const stopping = new AbortController();
  const loop = async () => {
    while (!stopping.signal.aborted) {
      try {
        const r = await runBillingOnce(db, (deps.clock ?? (() => new Date()))(), { confirmations: config.confirmations, graceMs: config.graceMs });
        if (r.finalized.length > 0 || r.alerts.length > 0) logger.info({ finalized: r.finalized, alerts: r.alerts.length }, "billing pass");
        for (const c of r.reorgCredits) {
          logger.warn({ tenantId: c.tenantId, invoiceNumber: c.invoiceNumber, creditNoteNumber: c.creditNoteNumber, records: c.records }, "invoiced usage left the canonical chain: credited");
        }
        deps.onPass?.(r);
      } catch (err) {
        logger.error({ err: (err as Error).message }, "billing pass failed");
        deps.onError?.(err as Error);
      }
      await anchorPass();
      await sleep(config.intervalMs, undefined, { signal: stopping.signal }).catch(() => undefined);
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
