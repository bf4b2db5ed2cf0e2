import path from "node:path";
import { parseArgs } from "node:util";
import { isAddress, isHex, type Address, type Hex } from "viem";
import { z } from "zod";
import { ReporterConfigError } from "./errors";
import { formatFromPath, type InputFormat } from "./input";
import type { SignerSource } from "./signer";

export interface ReporterConfig {
  input?: string;
  format?: InputFormat;
  /** `--rpc` / METERLINE_RPC_URL; when absent the CLI uses the running `npm start` stack (chain/local-stack.ts). */
  rpcUrl?: string;
  /** Contract address; when absent: METERLINE_DEPLOYMENT, the running stack's deployment, else deployments/<chainId>.json. */
  meter?: Address;
  signer: SignerSource;
  journalDir: string;
  batchSize: number;
  pollIntervalMs: number;
  /** `--relay <file>`: write EIP-712 signed payloads there instead of sending transactions. */
  relayOut?: string;
  relayDeadlineSeconds: number;
  /** Only finish journaled batches (no input). */
  resumeOnly: boolean;
  /** `--from-block`: first block scanned for submitted refs (default: the deployment file's deploy block, else 0). */
  fromBlock?: bigint;
  /**
   * The tenant's name key: input names are then looked up on chain as keyed hashes. From
   * `--name-key env:<VARIABLE>|file:<path>`, else METERLINE_NAME_KEY. `setting` names it in
   * messages; `text` is the key as found in the environment (a file is read when the run starts).
   */
  nameKey?: { setting: string; text: string } | { setting: string; file: string };
}

const envSchema = z.object({
  METERLINE_RPC_URL: z
    .string()
    .optional()
    .transform((v) => (v && v.trim() !== "" ? v.trim() : undefined))
    .refine((v) => v === undefined || z.string().url().safeParse(v).success, "must be a URL"),
  METERLINE_METER_ADDRESS: z
    .string()
    .refine((v) => isAddress(v), "must be a 0x address")
    .optional(),
  METERLINE_REPORTER_KEY: z
    .string()
    .refine((v) => isHex(v) && v.length === 66, "must be 0x followed by 64 hex digits")
    .optional(),
  METERLINE_REPORTER_KEYSTORE: z.string().min(1).optional(),
  METERLINE_REPORTER_KEYSTORE_PASSWORD: z.string().optional(),
  METERLINE_REPORTER_JOURNAL: z.string().min(1).default(".meterline/reporter-journal"),
  METERLINE_REPORTER_BATCH_SIZE: z.coerce.number().int().min(1).max(500).default(500),
  METERLINE_REPORTER_POLL_MS: z.coerce.number().int().min(10).default(1000),
  METERLINE_NAME_KEY: z.string().min(1).optional(),
});

/** First zod issue as one line naming the variable (the value is never echoed: it may be a key). */
function firstIssue(error: z.ZodError): string {
  const issue = error.issues[0]!;
  return `${issue.path.join(".")}: ${issue.message}`;
}

export const REPORTER_USAGE = `usage: npm run reporter -- [--input] <usage.jsonl|usage.csv> [--format jsonl|csv]
         [--meter 0x...] [--rpc URL] [--journal DIR] [--batch-size N] [--relay payload.json]
         [--from-block N]   first block scanned for already submitted refs (default: deploy block)
         [--name-key env:VAR|file:PATH]  your tenant's name key (default: METERLINE_NAME_KEY when set);
                            names in the input are looked up on chain as keyed hashes, else as plain text
       npm run reporter -- --resume      finish journaled batches only
signer: METERLINE_REPORTER_KEY, or METERLINE_REPORTER_KEYSTORE + METERLINE_REPORTER_KEYSTORE_PASSWORD`;

/** Parses the reporter's settings once, at the edge: env for secrets and defaults, argv overrides. */
export function parseReporterConfig(env: NodeJS.ProcessEnv, argv: string[]): ReporterConfig {
  const e = envSchema.safeParse(env);
  if (!e.success) throw new ReporterConfigError(firstIssue(e.error));
  let values: Record<string, string | boolean | undefined>;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        input: { type: "string" },
        format: { type: "string" },
        meter: { type: "string" },
        rpc: { type: "string" },
        journal: { type: "string" },
        "batch-size": { type: "string" },
        relay: { type: "string" },
        "deadline-seconds": { type: "string" },
        "from-block": { type: "string" },
        "name-key": { type: "string" },
        resume: { type: "boolean" },
      },
    }));
  } catch (err) {
    throw new ReporterConfigError(`${(err as Error).message}\n${REPORTER_USAGE}`);
  }
  const input = (values.input as string | undefined) ?? positionals[0];
  const resumeOnly = values.resume === true;
  if (!input && !resumeOnly) throw new ReporterConfigError(`no input file given\n${REPORTER_USAGE}`);
  const format = values.format as string | undefined;
  if (format !== undefined && format !== "jsonl" && format !== "csv") {
    throw new ReporterConfigError(`--format must be jsonl or csv`);
  }
  const meter = (values.meter as string | undefined) ?? e.data.METERLINE_METER_ADDRESS;
  if (meter !== undefined && !isAddress(meter)) throw new ReporterConfigError(`--meter: must be a 0x address`);
  const batchSize = values["batch-size"] === undefined ? e.data.METERLINE_REPORTER_BATCH_SIZE : Number(values["batch-size"]);
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 500) throw new ReporterConfigError(`--batch-size must be 1..500`);
  const deadline = values["deadline-seconds"] === undefined ? 86_400 : Number(values["deadline-seconds"]);
  if (!Number.isInteger(deadline) || deadline < 60) throw new ReporterConfigError(`--deadline-seconds must be an integer >= 60`);

  const fromBlock = values["from-block"] as string | undefined;
  if (fromBlock !== undefined && !/^\d+$/.test(fromBlock)) throw new ReporterConfigError("--from-block must be a block number");

  const nameKeyFlag = values["name-key"] as string | undefined;
  if (nameKeyFlag !== undefined && !/^(env|file):./.test(nameKeyFlag)) {
    throw new ReporterConfigError("--name-key: give env:<VARIABLE> or file:<path>, not the key itself (it would be left in shell history and process listings)");
  }
  let nameKey: ReporterConfig["nameKey"];
  if (nameKeyFlag?.startsWith("env:")) {
    const variable = nameKeyFlag.slice(4);
    const text = env[variable];
    if (text === undefined || text.trim() === "") throw new ReporterConfigError(`--name-key: environment variable ${variable} is not set`);
    nameKey = { setting: "--name-key", text };
  } else if (nameKeyFlag !== undefined) {
    nameKey = { setting: "--name-key", file: nameKeyFlag.slice(5) };
  } else if (e.data.METERLINE_NAME_KEY !== undefined) {
    nameKey = { setting: "METERLINE_NAME_KEY", text: e.data.METERLINE_NAME_KEY };
  }

  let signer: SignerSource;
  if (e.data.METERLINE_REPORTER_KEY) {
    signer = { kind: "privateKey", privateKey: e.data.METERLINE_REPORTER_KEY as Hex };
  } else if (e.data.METERLINE_REPORTER_KEYSTORE) {
    if (e.data.METERLINE_REPORTER_KEYSTORE_PASSWORD === undefined) {
      throw new ReporterConfigError("METERLINE_REPORTER_KEYSTORE_PASSWORD: required with METERLINE_REPORTER_KEYSTORE");
    }
    signer = { kind: "keystore", file: e.data.METERLINE_REPORTER_KEYSTORE, password: e.data.METERLINE_REPORTER_KEYSTORE_PASSWORD };
  } else {
    throw new ReporterConfigError("METERLINE_REPORTER_KEY: required (or METERLINE_REPORTER_KEYSTORE + _PASSWORD)");
  }
  const rpcUrl = (values.rpc as string | undefined) ?? e.data.METERLINE_RPC_URL;
  if (rpcUrl !== undefined && !z.string().url().safeParse(rpcUrl).success) throw new ReporterConfigError("--rpc: must be a URL");

  return {
    ...(input ? { input: path.resolve(input), format: (format as InputFormat | undefined) ?? formatFromPath(input) } : {}),
    ...(rpcUrl !== undefined ? { rpcUrl } : {}),
    ...(meter ? { meter: meter as Address } : {}),
    signer,
    journalDir: path.resolve((values.journal as string | undefined) ?? e.data.METERLINE_REPORTER_JOURNAL),
    batchSize,
    pollIntervalMs: e.data.METERLINE_REPORTER_POLL_MS,
    ...(values.relay ? { relayOut: path.resolve(values.relay as string) } : {}),
    relayDeadlineSeconds: deadline,
    resumeOnly,
    ...(fromBlock !== undefined ? { fromBlock: BigInt(fromBlock) } : {}),
    ...(nameKey !== undefined ? { nameKey } : {}),
  };
}
