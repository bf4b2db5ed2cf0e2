/**
 * Environment settings shared by the database-backed services (billing worker, webhook delivery):
 * zod pieces that name the variable in their message, the common settings, and `--help` text
 * rendered from the same table the parser uses.
 */
import { z } from "zod";

/** An integer setting; empty means unset. */
export const envInt = (name: string, def: number, min: number, max = Number.MAX_SAFE_INTEGER) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v.trim() === "") return def;
      const n = Number(v.trim());
      if (!/^\d+$/.test(v.trim()) || n < min || n > max) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: `${name}: expected an integer from ${min} to ${max}` });
        return z.NEVER;
      }
      return n;
    });

const optionalText = z
  .string()
  .optional()
  .transform((v) => (v && v.trim() !== "" ? v.trim() : undefined));

export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

/** DATABASE_URL, PGLITE_DIR, METRICS_PORT/HOST and LOG_LEVEL, with a service's own metrics port. */
export function serviceEnvSchema(defaultMetricsPort: number) {
  return z.object({
    DATABASE_URL: optionalText.refine((v) => v === undefined || /^postgres(ql)?:\/\//.test(v), "DATABASE_URL: expected a postgres:// URL"),
    PGLITE_DIR: optionalText,
    METRICS_PORT: z
      .string()
      .optional()
      .transform((v, ctx) => {
        if (v === undefined || v.trim() === "") return defaultMetricsPort;
        if (v.trim() === "off") return null;
        if (!/^\d+$/.test(v.trim()) || Number(v) > 65535) {
          ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'METRICS_PORT: expected a port number or "off"' });
          return z.NEVER;
        }
        return Number(v);
      }),
    METRICS_HOST: optionalText.transform((v) => v ?? "127.0.0.1"),
    LOG_LEVEL: optionalText.transform((v, ctx) => {
      const level = v ?? "info";
      if (!(LOG_LEVELS as readonly string[]).includes(level)) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: `LOG_LEVEL: one of ${LOG_LEVELS.join(", ")}` });
        return z.NEVER;
      }
      return level as (typeof LOG_LEVELS)[number];
    }),
  });
}

export interface SettingDoc {
  name: string;
  default: string;
  meaning: string;
}

export const serviceSettingDocs = (metricsPort: number): SettingDoc[] => [
  { name: "DATABASE_URL", default: "(embedded PGlite)", meaning: "PostgreSQL URL, as the service's own role (it owns nothing: run npm run db:migrate as the owner first)" },
  { name: "PGLITE_DIR", default: ".meterline/pglite", meaning: "embedded database directory when DATABASE_URL is unset" },
  { name: "METRICS_PORT", default: String(metricsPort), meaning: 'ops listener: /healthz, /readyz, /metrics ("off" disables, 0 picks a free port)' },
  { name: "METRICS_HOST", default: "127.0.0.1", meaning: "interface of the ops listener" },
  { name: "LOG_LEVEL", default: "info", meaning: LOG_LEVELS.join(" | ") },
];

/** The first problem, one line, naming the variable; values are never echoed. */
export function firstIssue(error: z.ZodError): string {
  return error.issues[0]?.message ?? "invalid configuration";
}

export function renderHelp(command: string, summary: string, settings: readonly SettingDoc[]): string {
  const width = Math.max(...settings.map((s) => s.name.length));
  const dwidth = Math.max(...settings.map((s) => s.default.length));
  return [
    `${command}: ${summary}`,
    "",
    "Settings (environment variables):",
    ...settings.map((s) => `  ${s.name.padEnd(width)}  ${s.default.padEnd(dwidth)}  ${s.meaning}`),
    "",
  ].join("\n");
}
