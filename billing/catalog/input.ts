/**
 * Parsing of catalog input at the service's edge: one zod schema per operation, and the first
 * problem reported as a BillingInputError naming the field, before anything is written.
 */
import { z } from "zod";
import { BillingInputError } from "../errors";

export function parseInput<S extends z.ZodTypeAny>(schema: S, input: unknown): z.infer<S> {
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  throw new BillingInputError(issue.path.length > 0 ? issue.path.join(".") : "input", issue.message);
}

/** A non-negative integer that fits numeric(38, 0) (quantities, limits, minor-unit amounts). */
export const count38 = z
  .union([z.string(), z.number(), z.bigint()])
  .transform((v) => String(v).trim())
  .refine((s) => /^(0|[1-9]\d*)$/.test(s), "must be a non-negative integer written in digits")
  .refine((s) => s.length <= 38, "must have at most 38 digits");

export const positiveCount38 = count38.refine((s) => s !== "0", "must be greater than 0");

/** A non-negative decimal that fits numeric(38, 18) exactly: at most 20 integer and 18 fraction digits. */
export const price38 = z
  .union([z.string(), z.number()])
  .transform((v) => String(v).trim())
  .refine((s) => /^(0|[1-9]\d*)(\.\d+)?$/.test(s), "must be a non-negative decimal such as 0.0015 (no sign, exponent or spaces)")
  .refine((s) => s.split(".")[0]!.length <= 20, "must have at most 20 digits before the decimal point")
  .refine((s) => (s.split(".")[1] ?? "").replace(/0+$/, "").length <= 18, "must have at most 18 digits after the decimal point");

export const instant = z
  .union([z.string(), z.date()])
  .transform((v, ctx) => {
    const d = v instanceof Date ? v : new Date(v);
    if (Number.isNaN(d.getTime()) || (typeof v === "string" && !/^\d{4}-\d{2}-\d{2}T/.test(v))) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: "must be an ISO 8601 date-time with a time zone offset" });
      return z.NEVER;
    }
    return d;
  });

export const shortText = (max: number) => z.string().trim().min(1, "must not be empty").max(max, `must be at most ${max} characters`);
