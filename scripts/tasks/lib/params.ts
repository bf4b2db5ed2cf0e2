/**
 * Parsing of task parameters. Every parameter arrives as a string (from the CLI or hre.run) and is
 * validated here, before any transaction, so bad input changes nothing and fails with one line
 * naming the flag.
 */
import { getAddress, isAddress, isHexString, toUtf8Bytes, ZeroAddress } from "ethers";
import { z } from "zod";
import { TaskInputError } from "./errors";

/** Parses `value` with `schema`, turning the first zod issue into `--flag: message`. */
export function parseParam<T>(flag: string, schema: z.ZodType<T, z.ZodTypeDef, unknown>, value: unknown): T {
  const result = schema.safeParse(value);
  if (!result.success) {
    throw new TaskInputError(`--${flag}: ${result.error.issues[0]?.message ?? "invalid value"}`);
  }
  return result.data;
}

const text = z.string({ required_error: "is required", invalid_type_error: "must be a string" });

export const addressSchema = text
  .trim()
  .refine((s) => isAddress(s) && /^0x/i.test(s), (s) => ({ message: `"${s}" is not a 0x-prefixed 20-byte address` }))
  .transform((s) => getAddress(s))
  .refine((a) => a !== ZeroAddress, "the zero address is not allowed");

/** A non-negative integer in decimal, at most `max`. */
export function uintSchema(max: bigint): z.ZodType<bigint, z.ZodTypeDef, unknown> {
  return z
    .union([text, z.number(), z.bigint()], { invalid_type_error: "must be an integer" })
    .transform((v) => String(v).trim())
    .refine((s) => /^\d+$/.test(s), (s) => ({ message: `"${s}" is not a non-negative integer` }))
    .transform((s) => BigInt(s))
    .refine((n) => n <= max, { message: `must be at most ${max}` });
}

export interface ShortString {
  text: string;
  bytes32: string;
}

/** A name stored as bytes32: 1 to 31 UTF-8 bytes (the last byte stays zero), printable. */
export const shortStringSchema = text
  .refine((s) => s.length > 0, "must not be empty")
  .refine((s) => ![...s].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f), "must not contain control characters")
  .refine((s) => s.trim() === s, "must not start or end with whitespace")
  .refine(
    (s) => toUtf8Bytes(s).length <= 31,
    (s) => ({ message: `"${s}" is ${toUtf8Bytes(s).length} bytes; names are at most 31 bytes` }),
  )
  .transform((s): ShortString => {
    const bytes = toUtf8Bytes(s);
    const padded = new Uint8Array(32);
    padded.set(bytes);
    return { text: s, bytes32: `0x${Buffer.from(padded).toString("hex")}` };
  });

/** Comma-separated names, each a {@link shortStringSchema}, without duplicates. */
export const nameListSchema = text
  .transform((s) => s.split(",").map((part) => part.trim()))
  .pipe(z.array(shortStringSchema).min(1, "needs at least one name"))
  .refine(
    (names) => new Set(names.map((n) => n.text)).size === names.length,
    "lists the same name twice",
  );

/** A tenant given by numeric id or by registered name. */
export type TenantRef = { kind: "id"; id: number } | { kind: "name"; name: ShortString };

export const tenantRefSchema = text.trim().transform((s, ctx): TenantRef => {
  if (/^\d+$/.test(s)) {
    const id = Number(s);
    if (id < 1 || id > 0xffffffff) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: `tenant id ${s} is outside 1..4294967295` });
      return z.NEVER;
    }
    return { kind: "id", id };
  }
  const name = shortStringSchema.safeParse(s);
  if (!name.success) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: `tenant name ${name.error.issues[0]?.message ?? "is invalid"}` });
    return z.NEVER;
  }
  return { kind: "name", name: name.data };
});

export const bytes32Schema = text
  .trim()
  .refine((s) => isHexString(s, 32), (s) => ({ message: `"${s}" is not a 0x-prefixed 32-byte hex value` }))
  .transform((s) => s.toLowerCase());

