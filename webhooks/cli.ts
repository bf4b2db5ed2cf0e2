/**
 * npm run webhooks — webhook delivery as its own process. Any number may run side by side: each
 * delivery is claimed (SKIP LOCKED, with a lease per delivery) by one worker at a time.
 * `--help` prints every setting.
 */
import { Counter, Registry } from "prom-client";
import { createLogger, logFormatFromEnv, LogConfigError } from "../db/logger";
import { databaseReadiness, runService } from "../db/service";
import { renderHelp } from "../db/service-config";
import { WEBHOOK_SETTINGS, webhookConfigFromEnv, WebhookConfigError } from "./config";
import { reencryptSecrets } from "./endpoints";
import { startWebhookWorker } from "./worker";

async function main(): Promise<number> {
  if (process.argv.includes("--help") || process.argv.includes("-h")) {
    process.stdout.write(renderHelp("npm run webhooks [-- --reencrypt]", "webhook delivery (signed, retried, dead-lettered); --reencrypt moves every stored secret to the current key and exits", WEBHOOK_SETTINGS));
    return 0;
  }
  let config;
  let logFormat;
  try {
    config = webhookConfigFromEnv(process.env);
    logFormat = logFormatFromEnv(process.env);
  } catch (err) {
    if (err instanceof WebhookConfigError || err instanceof LogConfigError) {
      process.stderr.write(`webhooks: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
  const logger = createLogger({ service: "meterline-webhooks", level: config.service.logLevel, format: logFormat });
  if (process.argv.includes("--reencrypt")) {
    // One-off: move every stored signing secret under the ring's current key, then exit.
    return runService({ ...config.service, metricsPort: null }, { registry: new Registry(), log: (m, f) => logger.info(f ?? {}, m), checks: () => ({ healthy: () => true, ready: () => ({ ready: true, checks: {} }) }) }, async (db) => {
      const n = await reencryptSecrets(db.pool, config.delivery.keyRing);
      logger.info({ reencrypted: n, key: config.delivery.keyRing.current.id }, "webhook secrets re-encrypted under the current key");
    });
  }
  const registry = new Registry();
  const outcomes = new Counter({ name: "meterline_webhooks_deliveries_total", help: "Delivery attempts by outcome", labelNames: ["status"], registers: [registry] });
  return runService(
    config.service,
    {
      registry,
      log: (msg, fields) => logger.info(fields ?? {}, msg),
      checks: (db) => ({
        healthy: () => true,
        ready: async () => {
          const d = await databaseReadiness(db);
          return { ready: d.database === true, checks: d };
        },
      }),
    },
    async (db, signal) => {
      const worker = startWebhookWorker(config, { db, logger, onPass: (os) => os.forEach((o) => outcomes.inc({ status: o.status })) });
      signal.addEventListener("abort", () => void worker.stop(), { once: true });
      await worker.done;
      logger.info("webhook delivery stopped");
    },
  );
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`webhooks: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
