import { parse as parseCsv } from "csv-parse/sync";
import { isHex, keccak256, stringToHex, type Hex } from "viem";
import { z } from "zod";
import { InputValidationError, type LineIssue } from "./errors";

/** A tenant or meter as the input names it: an on-chain id, or a registered name. */
export type EntityRef = { id: number } | { name: string };

/** One validated usage line, before sequence numbers and on-chain ids are assigned. */
export interface UsageInput {
  line: number;
  tenant: EntityRef;
  meter: EntityRef;
  periodStart: number;
  periodEnd: number;
  quantity: bigint;
  ref: Hex;
}

export type InputFormat = "jsonl" | "csv";

const MAX_UINT40 = 2 ** 40 - 1;
const MAX_UINT80 = (1n << 80n) - 1n;
const MAX_UINT32 = 2 ** 32 - 1;

const entity = z.union([z.number(), z.string()]).transform((v, ctx): EntityRef => {
  const s = String(v).trim();
  if (/^\d+$/.test(s)) {
    const id = Number(s);
    if (id < 1 || id > MAX_UINT32) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: `id ${s} is outside 1..${MAX_UINT32}` });
      return z.NEVER;
    }
    return { id };
  }
  // Names are stored on chain as bytes32 strings, so they must fit in 31 UTF-8 bytes.
  if (s === "" || Buffer.byteLength(s, "utf8") > 31) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: `"${s}" is neither an id nor a name of 1..31 bytes` });
    return z.NEVER;
  }
  return { name: s };
});

const timestamp = z.union([z.number(), z.string()]).transform((v, ctx): number => {
  const s = String(v).trim();
  let seconds: number;
  if (/^\d+$/.test(s)) seconds = Number(s);
  else {
    const ms = Date.parse(s);
    // A bare date like "2026-01-01" is fine; anything Date.parse rejects is not.
    if (!/^\d{4}-\d{2}-\d{2}/.test(s) || Number.isNaN(ms)) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: `"${s}" is neither unix seconds nor an ISO 8601 time` });
      return z.NEVER;
    }
    if (ms % 1000 !== 0) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: `"${s}" has sub-second precision` });
      return z.NEVER;
    }
    seconds = ms / 1000;
  }
  if (!Number.isSafeInteger(seconds) || seconds < 0 || seconds > MAX_UINT40) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: `${s} is outside 0..${MAX_UINT40}` });
    return z.NEVER;
  }
  return seconds;
});

const quantity = z.union([z.number(), z.string()]).transform((v, ctx): bigint => {
  const s = String(v).trim();
  if (typeof v === "number" && !Number.isSafeInteger(v)) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: `${s} is not an exact integer (quote large values)` });
    return z.NEVER;
  }
  if (!/^\d+$/.test(s)) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: `"${s}" is not a non-negative integer` });
    return z.NEVER;
  }
  const q = BigInt(s);
  if (q === 0n || q > MAX_UINT80) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: `${s} is outside 1..2^80-1` });
    return z.NEVER;
  }
  return q;
});

const optionalText = z
  .union([z.string(), z.number()])
  .optional()
  .transform((v) => (v === undefined || String(v).trim() === "" ? undefined : String(v).trim()));

const rowSchema = z
  .object({
    tenant: entity,
    meter: entity,
    periodstart: timestamp,
    periodend: timestamp,
    quantity,
    ref: optionalText.refine((v) => v === undefined || (isHex(v) && v.length === 66), {
      message: "must be 0x followed by 64 hex digits",
    }),
    sourceid: optionalText,
  })
  .refine((r) => r.periodstart < r.periodend, { message: "period start must be before period end", path: ["periodEnd"] });

// Column names are matched case-, dash- and underscore-insensitively, so `period_start`,
// `periodStart` and `Period-Start` all work; `tenant_id`/`meter_id` are accepted aliases.
const ALIASES: Record<string, string> = { tenantid: "tenant", meterid: "meter", source: "sourceid" };

function normalizeKeys(row: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(row)) {
    const key = k.toLowerCase().replace(/[-_\s]/g, "");
    out[ALIASES[key] ?? key] = v;
  }
  return out;
}

interface RawRow {
  line: number;
  text: string;
  value: unknown;
}

function splitJsonLines(text: string, issues: LineIssue[]): RawRow[] {
  const rows: RawRow[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    try {
      rows.push({ line: i + 1, text: line, value: JSON.parse(line) });
    } catch (err) {
      issues.push({ line: i + 1, message: `not valid JSON (${(err as Error).message})` });
    }
  });
  return rows;
}

function splitCsv(text: string, issues: LineIssue[]): RawRow[] {
  const lines = text.split(/\r?\n/);
  try {
    const parsed = parseCsv(text, {
      columns: true,
      info: true,
      skip_empty_lines: true,
      trim: true,
      relax_column_count: false,
    }) as { record: Record<string, string>; info: { lines: number } }[];
    return parsed.map(({ record, info }) => ({ line: info.lines, text: lines[info.lines - 1] ?? "", value: record }));
  } catch (err) {
    const e = err as Error & { lines?: number };
    issues.push({ line: e.lines ?? 0, message: `CSV syntax error (${e.message})` });
    return [];
  }
}

/** Guesses the format from a file name: `.csv` is CSV, anything else JSON Lines. */
export function formatFromPath(file: string): InputFormat {
  return file.toLowerCase().endsWith(".csv") ? "csv" : "jsonl";
}

/**
 * Parses and validates every line before anything else happens, and throws one
 * {@link InputValidationError} listing all bad lines: a file is submitted whole or not at all.
 * The default `ref` is keccak256 of the `source_id` column, else of the raw line text.
 */
export function parseUsage(text: string, format: InputFormat): UsageInput[] {
  const issues: LineIssue[] = [];
  const rows = format === "csv" ? splitCsv(text, issues) : splitJsonLines(text, issues);
  const out: UsageInput[] = [];
  for (const row of rows) {
    if (typeof row.value !== "object" || row.value === null || Array.isArray(row.value)) {
      issues.push({ line: row.line, message: "expected an object" });
      continue;
    }
    const result = rowSchema.safeParse(normalizeKeys(row.value as Record<string, unknown>));
    if (!result.success) {
      for (const issue of result.error.issues) {
        const field = issue.path.join(".");
        issues.push({ line: row.line, message: field ? `${field}: ${issue.message}` : issue.message });
      }
      continue;
    }
    const r = result.data;
    out.push({
      line: row.line,
      tenant: r.tenant,
      meter: r.meter,
      periodStart: r.periodstart,
      periodEnd: r.periodend,
      quantity: r.quantity,
      ref: (r.ref as Hex | undefined) ?? keccak256(stringToHex(r.sourceid ?? row.text)),
    });
  }
  if (issues.length === 0 && out.length === 0) issues.push({ line: 0, message: "no usage records in input" });
  if (issues.length > 0) throw new InputValidationError(issues.sort((a, b) => a.line - b.line));
  return out;
}
