import { DeploymentFileError, deploymentPath, findDeployment, type Deployment } from "../chain/deployment";
import path from "node:path";
import { getAddress, isAddress, type Address } from "viem";
import { z } from "zod";
import { databaseTarget, type DatabaseTarget } from "../db/connection";
import { ConfigError } from "./errors";

export interface IndexerConfig {
  rpcUrl: string;
  /**
   * WebSocket endpoint for eth_subscribe("newHeads"): a new head wakes the follower at once. Null:
   * the follower polls eth_blockNumber every POLL_INTERVAL_MS.
   */
  wsRpcUrl: string | null;
  chainId: number;
  contractAddress: Address;
  deployBlock: bigint;
  /** Where deployments/<chainId>.json was read from, when it was. */
  deploymentFile: string | null;
  /** Blocks behind head after which data counts as final for billing. */
  confirmations: number;
  pollIntervalMs: number;
  /** How many recent block hashes are kept; a deeper reorg stops the indexer. */
  reorgWindow: number;
  maxBlockRange: number;
  fetchConcurrency: number;
  /** null disables the metrics/health server; 0 picks a free port. */
  metricsPort: number | null;
  /** Interface of the metrics/health listener: loopback unless METRICS_HOST says otherwise. */
  metricsHost: string;
  database: DatabaseTarget;
  logLevel: "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";
  leaseTtlMs: number;
  rpcTimeoutMs: number;
}


function intVar(name: string, def: number, min: number, max = Number.MAX_SAFE_INTEGER) {
  return z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v.trim() === "") return def;
      if (!/^\d+$/.test(v.trim())) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: `${name}: expected an integer, got "${v}"` });
        return z.NEVER;
      }
      const n = Number(v.trim());
      if (n < min || n > max) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: `${name}: must be between ${min} and ${max}, got ${n}` });
        return z.NEVER;
      }
      return n;
    });
}

function isWebSocketUrl(v: string): boolean {
  try {
    const u = new URL(v);
    return (u.protocol === "ws:" || u.protocol === "wss:") && u.host !== "";
  } catch {
    return false;
  }
}

const envSchema = z.object({
  RPC_URL: z
    .string({ required_error: "RPC_URL: required (the chain's JSON-RPC endpoint)" })
    .refine((v) => /^https?:\/\/.+/.test(v), "RPC_URL: must be an http(s) URL"),
  WS_RPC_URL: z
    .string()
    .optional()
    .refine((v) => v === undefined || v.trim() === "" || isWebSocketUrl(v.trim()), "WS_RPC_URL: must be a ws:// or wss:// URL"),
  CHAIN_ID: z
    .string({ required_error: "CHAIN_ID: required (the chain id the RPC must report)" })
    .regex(/^\d+$/, "CHAIN_ID: expected a positive integer")
    .transform(Number)
    .refine((n) => n > 0 && Number.isSafeInteger(n), "CHAIN_ID: expected a positive integer"),
  CONTRACT_ADDRESS: z
    .string()
    .optional()
    .refine((v) => v === undefined || v === "" || isAddress(v, { strict: false }), "CONTRACT_ADDRESS: not a 20-byte hex address"),
  DEPLOY_BLOCK: z
    .string()
    .optional()
    .refine((v) => v === undefined || v === "" || /^\d+$/.test(v), "DEPLOY_BLOCK: expected a block number"),
  DEPLOYMENTS_DIR: z.string().optional(),
  CONFIRMATIONS: intVar("CONFIRMATIONS", 12, 0, 10_000),
  POLL_INTERVAL_MS: intVar("POLL_INTERVAL_MS", 500, 10, 3_600_000),
  REORG_WINDOW: intVar("REORG_WINDOW", 128, 1, 100_000),
  MAX_BLOCK_RANGE: intVar("MAX_BLOCK_RANGE", 5_000, 1, 1_000_000),
  FETCH_CONCURRENCY: intVar("FETCH_CONCURRENCY", 4, 1, 64),
  METRICS_HOST: z.string().optional().transform((v) => (v && v.trim() !== "" ? v.trim() : "127.0.0.1")),
  METRICS_PORT: z
    .string()
    .optional()
    .refine((v) => v === undefined || v === "" || v === "off" || (/^\d+$/.test(v) && Number(v) < 65536), "METRICS_PORT: expected a port number or \"off\""),
  LEASE_TTL_MS: intVar("LEASE_TTL_MS", 15_000, 500, 3_600_000),
  RPC_TIMEOUT_MS: intVar("RPC_TIMEOUT_MS", 30_000, 100, 600_000),
  DATABASE_URL: z
    .string()
    .optional()
    .refine((v) => v === undefined || v === "" || /^postgres(ql)?:\/\//.test(v), "DATABASE_URL: expected a postgres:// URL"),
  PGLITE_DIR: z.string().optional(),
  LOG_LEVEL: z
    .enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"], {
      errorMap: () => ({ message: "LOG_LEVEL: one of fatal, error, warn, info, debug, trace, silent" }),
    })
    .optional(),
});

function fail(message: string): never {
  const [variable, ...rest] = message.split(": ");
  throw new ConfigError(variable ?? "config", rest.join(": ") || message);
}

/** Reads deployments/<chainId>.json; null when absent. A present but malformed file is an error. */
export function readDeploymentFile(dir: string, chainId: number): { file: string; deployment: Deployment } | null {
  try {
    const deployment = findDeployment(chainId, path.resolve(dir));
    return deployment ? { file: deploymentPath(chainId, path.resolve(dir)), deployment } : null;
  } catch (err) {
    if (err instanceof DeploymentFileError) throw new ConfigError("DEPLOYMENTS_DIR", err.message);
    throw err;
  }
}

/**
 * Validates the environment once, at the edge. Explicit CONTRACT_ADDRESS / DEPLOY_BLOCK win over
 * deployments/<chainId>.json. Throws ConfigError with a one-line message naming the variable.
 */
export function parseIndexerConfig(env: NodeJS.ProcessEnv): IndexerConfig {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) fail(parsed.error.issues[0]?.message ?? "config: invalid");
  const e = parsed.data;

  const deploymentsDir = e.DEPLOYMENTS_DIR && e.DEPLOYMENTS_DIR !== "" ? e.DEPLOYMENTS_DIR : "deployments";
  const fromFile = readDeploymentFile(deploymentsDir, e.CHAIN_ID);

  const address: string | undefined = e.CONTRACT_ADDRESS ? e.CONTRACT_ADDRESS : fromFile?.deployment.address;
  if (!address) {
    throw new ConfigError("CONTRACT_ADDRESS", `required (or provide ${path.join(deploymentsDir, `${e.CHAIN_ID}.json`)})`);
  }
  const deployBlockRaw = e.DEPLOY_BLOCK && e.DEPLOY_BLOCK !== "" ? e.DEPLOY_BLOCK : fromFile?.deployment.deployBlock;
  if (deployBlockRaw === undefined) {
    throw new ConfigError("DEPLOY_BLOCK", `required (or provide ${path.join(deploymentsDir, `${e.CHAIN_ID}.json`)})`);
  }
  if (e.CONFIRMATIONS > e.REORG_WINDOW) {
    throw new ConfigError("CONFIRMATIONS", `must not exceed REORG_WINDOW (${e.REORG_WINDOW})`);
  }

  const metrics = e.METRICS_PORT;
  return {
    rpcUrl: e.RPC_URL,
    wsRpcUrl: e.WS_RPC_URL && e.WS_RPC_URL.trim() !== "" ? e.WS_RPC_URL.trim() : null,
    chainId: e.CHAIN_ID,
    contractAddress: getAddress(address),
    deployBlock: BigInt(deployBlockRaw),
    deploymentFile: fromFile?.file ?? null,
    confirmations: e.CONFIRMATIONS,
    pollIntervalMs: e.POLL_INTERVAL_MS,
    reorgWindow: e.REORG_WINDOW,
    maxBlockRange: e.MAX_BLOCK_RANGE,
    fetchConcurrency: e.FETCH_CONCURRENCY,
    metricsHost: e.METRICS_HOST,
    metricsPort: metrics === "off" || metrics === "" ? null : metrics === undefined ? 9464 : Number(metrics),
    database: databaseTarget(e.DATABASE_URL, e.PGLITE_DIR),
    logLevel: e.LOG_LEVEL ?? "info",
    leaseTtlMs: e.LEASE_TTL_MS,
    rpcTimeoutMs: e.RPC_TIMEOUT_MS,
  };
}
