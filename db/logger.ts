/**
 * The one logger factory of the service processes (stack, indexer, billing, webhooks, API): pino,
 * human-readable through pino-pretty when its stream is a terminal, JSON lines otherwise (log
 * shippers, files, pipes). LOG_FORMAT=json|pretty overrides the guess; LOG_LEVEL sets the level.
 * The reporter, which ships without the database layer, has the same rules in reporter/logger.ts.
 */
import { isatty } from "node:tty";
import pino, { type Logger, type LoggerOptions } from "pino";
import pretty from "pino-pretty";
import { z } from "zod";

export const LOG_FORMATS = ["json", "pretty"] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export class LogConfigError extends Error {
  override name = "LogConfigError";
}

const formatSchema = z
  .string()
  .optional()
  .transform((v, ctx) => {
    const t = v?.trim();
    if (t === undefined || t === "") return undefined;
    if (!(LOG_FORMATS as readonly string[]).includes(t)) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: `LOG_FORMAT: one of ${LOG_FORMATS.join(", ")} (unset: pretty on a terminal, JSON otherwise)` });
      return z.NEVER;
    }
    return t as LogFormat;
  });

/** LOG_FORMAT, parsed at the edge: undefined means "decide by whether the stream is a terminal". */
export function logFormatFromEnv(env: NodeJS.ProcessEnv): LogFormat | undefined {
  const parsed = formatSchema.safeParse(env.LOG_FORMAT);
  if (!parsed.success) throw new LogConfigError(parsed.error.issues[0]!.message);
  return parsed.data;
}

export interface CreateLoggerOptions {
  /** `service` field of every line. */
  service: string;
  level: string;
  /** undefined: pretty when `fd` is a terminal. A file destination is always JSON. */
  format?: LogFormat | undefined;
  /** 1 (stdout, the default) or 2 (stderr, for CLIs whose stdout is their result). */
  fd?: 1 | 2;
  /** Append to this file instead (JSON lines, created with its directory). */
  file?: string;
  redact?: LoggerOptions["redact"];
  /** For tests: whether `fd` counts as a terminal. */
  isTerminal?: boolean;
}

export function createLogger(options: CreateLoggerOptions): Logger {
  const base: LoggerOptions = { level: options.level, base: { service: options.service }, ...(options.redact ? { redact: options.redact } : {}) };
  if (options.file) return pino(base, pino.destination({ dest: options.file, mkdir: true, sync: false }));
  const fd = options.fd ?? 1;
  const terminal = options.isTerminal ?? isatty(fd);
  const format = options.format ?? (terminal ? "pretty" : "json");
  if (format === "json") return pino(base, pino.destination({ fd, sync: fd === 2 }));
  // In-process (no worker thread): the last lines before an exit are never lost.
  return pino(base, pretty({ destination: fd, sync: true, colorize: terminal, translateTime: "SYS:HH:MM:ss.l", ignore: "pid,hostname" }));
}
