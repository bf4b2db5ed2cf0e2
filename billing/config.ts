import { z } from "zod";

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
});

export interface BillingConfig {
  intervalMs: number;
  graceMs: number;
  confirmations: number;
}

/** Parses the billing worker's environment once, at the edge. */
export function billingConfigFromEnv(env: NodeJS.ProcessEnv = process.env): BillingConfig {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) throw new BillingConfigError(parsed.error.issues.map((i) => i.message).join("; "));
  const e = parsed.data;
  return { intervalMs: e.BILLING_INTERVAL_MS, graceMs: e.BILLING_GRACE_MS, confirmations: e.CONFIRMATIONS };
}
