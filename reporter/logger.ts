/**
 * The reporter's logger: the same rules as the services' factory (db/logger.ts), kept here because
 * the reporter is the tenant-run client and ships without the database layer. Logs go to stderr
 * (stdout carries the JSON result): pino-pretty when stderr is a terminal, JSON lines otherwise;
 * LOG_FORMAT=json|pretty overrides, LOG_LEVEL sets the level.
 */
import { isatty } from "node:tty";
import pino, { type Logger } from "pino";
import pretty from "pino-pretty";
import { z } from "zod";
import { ReporterConfigError } from "./errors";

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

const logEnvSchema = z.object({
  LOG_LEVEL: z
    .string()
    .optional()
    .transform((v) => (v && v.trim() !== "" ? v.trim() : "info"))
    .refine((v) => (LOG_LEVELS as readonly string[]).includes(v), `one of ${LOG_LEVELS.join(", ")}`),
  LOG_FORMAT: z
    .string()
    .optional()
    .transform((v) => (v && v.trim() !== "" ? v.trim() : undefined))
    .refine((v) => v === undefined || v === "json" || v === "pretty", "one of json, pretty (unset: pretty on a terminal, JSON otherwise)"),
});

export interface ReporterLogSettings {
  level: string;
  format: "json" | "pretty" | undefined;
}

export function reporterLogSettings(env: NodeJS.ProcessEnv): ReporterLogSettings {
  const parsed = logEnvSchema.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ReporterConfigError(`${issue.path.join(".")}: ${issue.message}`);
  }
  return { level: parsed.data.LOG_LEVEL, format: parsed.data.LOG_FORMAT as ReporterLogSettings["format"] };
}

export function createReporterLogger(name: string, settings: ReporterLogSettings, isTerminal: boolean = isatty(2)): Logger {
  const format = settings.format ?? (isTerminal ? "pretty" : "json");
  const options = { name, level: settings.level };
  if (format === "json") return pino(options, pino.destination({ fd: 2, sync: true }));
  return pino(options, pretty({ destination: 2, sync: true, colorize: isTerminal, translateTime: "SYS:HH:MM:ss.l", ignore: "pid,hostname" }));
}
