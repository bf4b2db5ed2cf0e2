import { z } from "zod";
import { envInt, firstIssue, serviceEnvSchema, serviceSettingDocs, type SettingDoc } from "../db/service-config";
import { AnchoringConfigError, anchoringEnvSchema, ANCHORING_SETTINGS, anchoringFromEnv, type AnchoringConfig } from "./anchoring/config";

export class BillingConfigError extends Error {
  override name = "BillingConfigError";
}

export const BILLING_METRICS_PORT = 9465;

const envSchema = serviceEnvSchema(BILLING_METRICS_PORT).extend({
  BILLING_INTERVAL_MS: envInt("BILLING_INTERVAL_MS", 30_000, 100),
  BILLING_GRACE_MS: envInt("BILLING_GRACE_MS", 24 * 3_600_000, 0),
  CONFIRMATIONS: envInt("CONFIRMATIONS", 12, 0),
  LEASE_TTL_MS: envInt("LEASE_TTL_MS", 15_000, 1_000),
}).merge(anchoringEnvSchema);

/** Every setting of `npm run billing`, for --help and docs/configuration.md. */
export const BILLING_SETTINGS: SettingDoc[] = [
  ...serviceSettingDocs(BILLING_METRICS_PORT),
  { name: "BILLING_INTERVAL_MS", default: "30000", meaning: "pause between billing passes" },
  { name: "BILLING_GRACE_MS", default: "86400000", meaning: "a period's invoice stays a draft this long after the period ends" },
  { name: "CONFIRMATIONS", default: "12", meaning: "blocks below the indexer checkpoint whose usage counts as final" },
  { name: "LEASE_TTL_MS", default: "15000", meaning: "one active worker: a standby takes over this long after it stops renewing" },
  ...ANCHORING_SETTINGS,
];

export interface BillingConfig {
  intervalMs: number;
  graceMs: number;
  confirmations: number;
  leaseTtlMs: number;
  /** Anchoring on InvoiceAnchor; null when no signer is configured (billing then anchors nothing). */
  anchoring: AnchoringConfig | null;
  service: { name: string; databaseUrl?: string; pgliteDir?: string; metricsPort: number | null; metricsHost: string; logLevel: string };
}

/** Parses the billing worker's environment once, at the edge; a bad value gives one line naming the variable. */
export function billingConfigFromEnv(env: NodeJS.ProcessEnv = process.env): BillingConfig {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) throw new BillingConfigError(firstIssue(parsed.error));
  const e: z.infer<typeof envSchema> = parsed.data;
  let anchoring: AnchoringConfig | null;
  try {
    anchoring = anchoringFromEnv(e, e.CONFIRMATIONS);
  } catch (err) {
    if (err instanceof AnchoringConfigError) throw new BillingConfigError(err.message, { cause: err });
    throw err;
  }
  return {
    intervalMs: e.BILLING_INTERVAL_MS,
    graceMs: e.BILLING_GRACE_MS,
    confirmations: e.CONFIRMATIONS,
    leaseTtlMs: e.LEASE_TTL_MS,
    anchoring,
    service: { name: "billing", databaseUrl: e.DATABASE_URL, pgliteDir: e.PGLITE_DIR, metricsPort: e.METRICS_PORT, metricsHost: e.METRICS_HOST, logLevel: e.LOG_LEVEL },
  };
}
