import { z } from "zod";
import { encryptionKeySchema } from "../webhooks/secrets";
import { DEFAULT_DELIVERY_OPTIONS } from "../webhooks/delivery";

export class BillingConfigError extends Error {
  override name = "BillingConfigError";
}

const int = (name: string, def: number, min: number) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v.trim() === "") return def;
      if (!/^\d+$/.test(v.trim()) || Number(v) < min) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: `${name}: expected an integer >= ${min}, got "${v}"` });
        return z.NEVER;
      }
      return Number(v);
    });

const envSchema = z.object({
  BILLING_INTERVAL_MS: int("BILLING_INTERVAL_MS", 30_000, 100),
  BILLING_GRACE_MS: int("BILLING_GRACE_MS", 24 * 3_600_000, 0),
  CONFIRMATIONS: int("CONFIRMATIONS", 12, 0),
  WEBHOOK_ENCRYPTION_KEY: z.string().optional(),
  WEBHOOK_MAX_ATTEMPTS: int("WEBHOOK_MAX_ATTEMPTS", DEFAULT_DELIVERY_OPTIONS.maxAttempts, 1),
  WEBHOOK_BASE_BACKOFF_MS: int("WEBHOOK_BASE_BACKOFF_MS", DEFAULT_DELIVERY_OPTIONS.baseBackoffMs, 1),
  WEBHOOK_INTERVAL_MS: int("WEBHOOK_INTERVAL_MS", 2_000, 50),
});

export interface BillingConfig {
  intervalMs: number;
  graceMs: number;
  confirmations: number;
  /** null: no webhook delivery in this process (no encryption key configured). */
  webhooks: { encryptionKey: Buffer; maxAttempts: number; baseBackoffMs: number; intervalMs: number } | null;
}

/** Parses the billing worker's environment once, at the edge. */
export function billingConfigFromEnv(env: NodeJS.ProcessEnv = process.env): BillingConfig {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) throw new BillingConfigError(parsed.error.issues.map((i) => i.message).join("; "));
  const e = parsed.data;
  let webhooks: BillingConfig["webhooks"] = null;
  if (e.WEBHOOK_ENCRYPTION_KEY !== undefined && e.WEBHOOK_ENCRYPTION_KEY !== "") {
    const key = encryptionKeySchema.safeParse(e.WEBHOOK_ENCRYPTION_KEY);
    if (!key.success) throw new BillingConfigError(key.error.issues[0]?.message ?? "WEBHOOK_ENCRYPTION_KEY invalid");
    webhooks = { encryptionKey: key.data, maxAttempts: e.WEBHOOK_MAX_ATTEMPTS, baseBackoffMs: e.WEBHOOK_BASE_BACKOFF_MS, intervalMs: e.WEBHOOK_INTERVAL_MS };
  }
  return { intervalMs: e.BILLING_INTERVAL_MS, graceMs: e.BILLING_GRACE_MS, confirmations: e.CONFIRMATIONS, webhooks };
}
