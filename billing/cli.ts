/**
 * npm run billing — the billing worker as its own process: quotas, reorg reconciliation, drafts,
 * finalization. One instance is active at a time through a lease in the database; others wait as
 * standbys and take over when it stops renewing. `--help` prints every setting.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { holdsLease, Lease } from "../db/lease";
import { createLogger, logFormatFromEnv, LogConfigError } from "../db/logger";
import { databaseReadiness, runService } from "../db/service";
import { renderHelp } from "../db/service-config";
import { BILLING_SETTINGS, billingConfigFromEnv, BillingConfigError } from "./config";
import { startBillingWorker } from "./index";
import { createBillingMetrics } from "./metrics";
import { openAnchorChain } from "./anchoring/chain";
import { openSigner, SignerKeyError } from "./anchoring/signer";

const LEASE_KEY = "billing";

async function main(): Promise<number> {
  if (process.argv.includes("--help") || process.argv.includes("-h")) {
    process.stdout.write(renderHelp("npm run billing", "the billing worker (one active instance, others on standby)", BILLING_SETTINGS));
    return 0;
  }
  let config;
  let logFormat;
  try {
    config = billingConfigFromEnv(process.env);
    logFormat = logFormatFromEnv(process.env);
  } catch (err) {
    if (err instanceof BillingConfigError || err instanceof LogConfigError) {
      process.stderr.write(`billing: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
  if (config.anchoring) {
    // A keystore that does not open is a configuration error: refuse to start rather than retry.
    try {
      openSigner(config.anchoring.signer);
    } catch (err) {
      if (err instanceof SignerKeyError) {
        process.stderr.write(`billing: ${err.message}\n`);
        return 1;
      }
      throw err;
    }
  }
  const logger = createLogger({ service: "meterline-billing", level: config.service.logLevel, format: logFormat });
  if (!config.anchoring) logger.warn("anchoring is off: no BILLING_SIGNER_KEY or BILLING_SIGNER_KEYSTORE (plans and documents are not published on InvoiceAnchor)");
  const metrics = createBillingMetrics();
  let state: "starting" | "standby" | "active" = "starting";
  let lastPass: string | null = null;
  let lease: Lease | undefined;

  return runService(
    config.service,
    {
      registry: metrics.registry,
      log: (msg, fields) => logger.info(fields ?? {}, msg),
      checks: (db) => ({
        healthy: () => true,
        ready: async () => {
          const d = await databaseReadiness(db);
          const held = lease && d.database === true ? await holdsLease(db.pool, lease).catch(() => false) : false;
          // A standby is ready (it can take over); only the database decides.
          return { ready: d.database === true, checks: { ...d, lease: state === "active" && !held ? "lost" : state, lastPass: lastPass ?? "none" } };
        },
      }),
    },
    async (db, signal) => {
      lease = new Lease(db.pool, LEASE_KEY, config.leaseTtlMs);
      while (!signal.aborted) {
        if (!(await lease.tryAcquire().catch(() => false))) {
          if (state !== "standby") logger.info({ owner: "another process" }, "standby: the billing lease is held elsewhere");
          state = "standby";
          metrics.leaseHeld.set(0);
          await sleep(Math.max(500, config.leaseTtlMs / 3), undefined, { signal }).catch(() => undefined);
          continue;
        }
        state = "active";
        metrics.leaseHeld.set(1);
        logger.info({ lease: LEASE_KEY }, "active: holding the billing lease");
        let started = Date.now();
        const worker = startBillingWorker(config, {
          db,
          logger,
          onPass: (r) => {
            metrics.observe(r, (Date.now() - started) / 1000);
            lastPass = new Date().toISOString();
            started = Date.now();
          },
          onError: () => metrics.failed(),
          ...(config.anchoring ? { openAnchor: () => openAnchorChain(config.anchoring!) } : {}),
          onAnchoring: (r) => metrics.observeAnchoring(r),
          onAnchoringError: () => metrics.anchoringFailed("rpc"),
        });
        // The heartbeat runs beside the passes: a long pass keeps the lease; a lost lease stops the worker.
        const heartbeat = setInterval(() => {
          lease!.renew().then(
            (ok) => {
              if (!ok) {
                logger.warn({ lease: LEASE_KEY }, "lost the billing lease; back to standby");
                void worker.stop();
              }
            },
            (err: unknown) => logger.warn({ err: (err as Error).message }, "lease renewal failed"),
          );
        }, Math.max(300, config.leaseTtlMs / 3));
        signal.addEventListener("abort", () => void worker.stop(), { once: true });
        await worker.done;
        clearInterval(heartbeat);
        metrics.leaseHeld.set(0);
        state = "standby";
      }
      await lease.release().catch(() => undefined);
      logger.info("billing stopped");
    },
  );
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`billing: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
