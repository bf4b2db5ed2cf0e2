import path from "node:path";
import { parseArgs } from "node:util";
import { z } from "zod";
import { DEFAULT_STACK_HOME } from "../chain/local-stack";

export class StackConfigError extends Error {
  override name = "StackConfigError";
}

export interface StackConfig {
  /** State directory: chain journal, PGlite, reporter journal, IdP clients (METERLINE_HOME). */
  home: string;
  /** Where deployments/<chainId>.json goes: the repo's deployments/ for the default home. */
  deploymentsDir?: string;
  fresh: boolean;
  host: string;
  rpcPort: number;
  idpPort: number;
  apiPort: number;
  demoIntervalMs: number;
  logLevel: "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";
}

const port = (name: string, def: number) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v === "") return def;
      const n = Number(v);
      if (!/^\d+$/.test(v) || n > 65535) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: `${name}: expected a port number (0 picks a free one)` });
        return z.NEVER;
      }
      return n;
    });

const envSchema = z.object({
  METERLINE_HOME: z.string().optional(),
  METERLINE_HOST: z.string().optional(),
  METERLINE_RPC_PORT: port("METERLINE_RPC_PORT", 8545),
  METERLINE_IDP_PORT: port("METERLINE_IDP_PORT", 9400),
  METERLINE_API_PORT: port("METERLINE_API_PORT", 4000),
  METERLINE_DEMO_INTERVAL_MS: z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v === "") return 5000;
      if (!/^\d+$/.test(v) || Number(v) < 200) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: "METERLINE_DEMO_INTERVAL_MS: expected milliseconds >= 200" });
        return z.NEVER;
      }
      return Number(v);
    }),
  LOG_LEVEL: z
    .enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"], {
      errorMap: () => ({ message: "LOG_LEVEL: one of fatal, error, warn, info, debug, trace, silent" }),
    })
    .optional(),
});

export const DEFAULT_HOME = DEFAULT_STACK_HOME;

/** `npm start` settings: environment, plus `--fresh` / `--home DIR` on the command line. */
export function parseStackConfig(env: NodeJS.ProcessEnv, argv: string[], cwd = process.cwd()): StackConfig {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) throw new StackConfigError(parsed.error.issues[0]!.message);
  let values: { fresh?: boolean; home?: string };
  try {
    ({ values } = parseArgs({ args: argv, options: { fresh: { type: "boolean" }, home: { type: "string" } } }));
  } catch (err) {
    throw new StackConfigError(`${(err as Error).message} (usage: npm start -- [--fresh] [--home DIR])`);
  }
  const e = parsed.data;
  const homeSetting = values.home ?? (e.METERLINE_HOME && e.METERLINE_HOME !== "" ? e.METERLINE_HOME : undefined);
  const home = path.resolve(cwd, homeSetting ?? DEFAULT_HOME);
  return {
    home,
    // A custom home keeps everything (including the deployment record) inside it, so tests
    // and parallel stacks never touch the repository's deployments/.
    ...(homeSetting ? { deploymentsDir: path.join(home, "deployments") } : {}),
    fresh: values.fresh === true,
    host: e.METERLINE_HOST && e.METERLINE_HOST !== "" ? e.METERLINE_HOST : "127.0.0.1",
    rpcPort: e.METERLINE_RPC_PORT,
    idpPort: e.METERLINE_IDP_PORT,
    apiPort: e.METERLINE_API_PORT,
    demoIntervalMs: e.METERLINE_DEMO_INTERVAL_MS,
    logLevel: e.LOG_LEVEL ?? "info",
  };
}
