import { z } from "zod";
import { DEFAULT_DELIVERY_OPTIONS, type DeliveryOptions } from "./delivery";
import { encryptionKeySchema } from "./secrets";

/** A bad setting: one line naming the variable, never its value. */
export class WebhookConfigError extends Error {
  override name = "WebhookConfigError";
}

const int = (name: string, def: number, min: number) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v.trim() === "") return def;
      if (!/^\d+$/.test(v.trim()) || Number(v) < min) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: `${name}: expected an integer >= ${min}` });
        return z.NEVER;
      }
      return Number(v);
    });

const envSchema = z.object({
  WEBHOOK_ENCRYPTION_KEY: z.string({ required_error: "WEBHOOK_ENCRYPTION_KEY: required (base64 of 32 bytes, shared with the API)" }),
  WEBHOOK_MAX_ATTEMPTS: int("WEBHOOK_MAX_ATTEMPTS", DEFAULT_DELIVERY_OPTIONS.maxAttempts, 1),
  WEBHOOK_BASE_BACKOFF_MS: int("WEBHOOK_BASE_BACKOFF_MS", DEFAULT_DELIVERY_OPTIONS.baseBackoffMs, 1),
  WEBHOOK_INTERVAL_MS: int("WEBHOOK_INTERVAL_MS", 2_000, 50),
});

export interface WebhookWorkerConfig {
  delivery: DeliveryOptions;
  /** Pause between delivery passes when nothing was due. */
  intervalMs: number;
}

/** Parses the delivery worker's environment once, at the edge. */
export function webhookConfigFromEnv(env: NodeJS.ProcessEnv = process.env): WebhookWorkerConfig {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) throw new WebhookConfigError(parsed.error.issues[0]?.message ?? "invalid configuration");
  const e = parsed.data;
  const key = encryptionKeySchema.safeParse(e.WEBHOOK_ENCRYPTION_KEY);
  if (!key.success) throw new WebhookConfigError(key.error.issues[0]?.message ?? "WEBHOOK_ENCRYPTION_KEY: invalid");
  return {
    delivery: { ...DEFAULT_DELIVERY_OPTIONS, encryptionKey: key.data, maxAttempts: e.WEBHOOK_MAX_ATTEMPTS, baseBackoffMs: e.WEBHOOK_BASE_BACKOFF_MS },
    intervalMs: e.WEBHOOK_INTERVAL_MS,
  };
}
