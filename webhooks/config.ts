import { z } from "zod";
import { envInt, firstIssue, serviceEnvSchema, serviceSettingDocs, type SettingDoc } from "../db/service-config";
import { DEFAULT_DELIVERY_OPTIONS, type DeliveryOptions } from "./delivery";
import { keyRingFromEnv, WebhookSecretError } from "./secrets";

/** A bad setting: one line naming the variable, never its value. */
export class WebhookConfigError extends Error {
  override name = "WebhookConfigError";
}

export const WEBHOOKS_METRICS_PORT = 9466;

const envSchema = serviceEnvSchema(WEBHOOKS_METRICS_PORT).extend({
  WEBHOOK_ENCRYPTION_KEY: z.string().optional(),
  WEBHOOK_ENCRYPTION_KEYS: z.string().optional(),
  WEBHOOK_MAX_ATTEMPTS: envInt("WEBHOOK_MAX_ATTEMPTS", DEFAULT_DELIVERY_OPTIONS.maxAttempts, 1),
  WEBHOOK_BASE_BACKOFF_MS: envInt("WEBHOOK_BASE_BACKOFF_MS", DEFAULT_DELIVERY_OPTIONS.baseBackoffMs, 1),
  WEBHOOK_INTERVAL_MS: envInt("WEBHOOK_INTERVAL_MS", 2_000, 50),
  WEBHOOK_ALLOW_LOOPBACK_HTTP: z.enum(["true", "false", ""]).optional().transform((v) => v === "true"),
  WEBHOOK_RETENTION_DAYS: envInt("WEBHOOK_RETENTION_DAYS", 30, 0, 3650),
});

/** Every setting of `npm run webhooks`, for --help and docs/configuration.md. */
export const WEBHOOK_SETTINGS: SettingDoc[] = [
  ...serviceSettingDocs(WEBHOOKS_METRICS_PORT),
  { name: "WEBHOOK_ENCRYPTION_KEYS", default: "(required)", meaning: "key ring <id>:<base64 of 32 bytes>,… (current first; the API's ring); or one WEBHOOK_ENCRYPTION_KEY" },
  { name: "WEBHOOK_MAX_ATTEMPTS", default: String(DEFAULT_DELIVERY_OPTIONS.maxAttempts), meaning: "attempts before a delivery is dead-lettered" },
  { name: "WEBHOOK_BASE_BACKOFF_MS", default: String(DEFAULT_DELIVERY_OPTIONS.baseBackoffMs), meaning: "first retry delay, doubling per attempt" },
  { name: "WEBHOOK_INTERVAL_MS", default: "2000", meaning: "pause between delivery passes when nothing is due" },
  { name: "WEBHOOK_RETENTION_DAYS", default: "30", meaning: "delivered and dead deliveries (and their spent events) are deleted after this many days; 0 keeps them" },
  { name: "WEBHOOK_ALLOW_LOOPBACK_HTTP", default: "false", meaning: "development only: deliver over plain http to loopback receivers" },
];

export interface WebhookWorkerConfig {
  delivery: DeliveryOptions;
  /** Pause between delivery passes when nothing was due. */
  intervalMs: number;
  /** Days after which finished deliveries are pruned; null keeps them. */
  retentionDays: number | null;
  service: { name: string; databaseUrl?: string; pgliteDir?: string; metricsPort: number | null; metricsHost: string; logLevel: string };
}

/** Parses the delivery worker's environment once, at the edge. */
export function webhookConfigFromEnv(env: NodeJS.ProcessEnv = process.env): WebhookWorkerConfig {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) throw new WebhookConfigError(firstIssue(parsed.error));
  const e = parsed.data;
  let keyRing;
  try {
    keyRing = keyRingFromEnv(e);
  } catch (err) {
    if (err instanceof WebhookSecretError) throw new WebhookConfigError(err.message);
    throw err;
  }
  if (!keyRing) throw new WebhookConfigError("WEBHOOK_ENCRYPTION_KEYS: required (<id>:<base64 of 32 bytes>,… shared with the API), or WEBHOOK_ENCRYPTION_KEY");
  return {
    delivery: {
      ...DEFAULT_DELIVERY_OPTIONS,
      keyRing,
      maxAttempts: e.WEBHOOK_MAX_ATTEMPTS,
      baseBackoffMs: e.WEBHOOK_BASE_BACKOFF_MS,
      destinations: { allowLoopbackHttp: e.WEBHOOK_ALLOW_LOOPBACK_HTTP },
    },
    intervalMs: e.WEBHOOK_INTERVAL_MS,
    retentionDays: e.WEBHOOK_RETENTION_DAYS === 0 ? null : e.WEBHOOK_RETENTION_DAYS,
    service: { name: "webhooks", databaseUrl: e.DATABASE_URL, pgliteDir: e.PGLITE_DIR, metricsPort: e.METRICS_PORT, metricsHost: e.METRICS_HOST, logLevel: e.LOG_LEVEL },
  };
}
