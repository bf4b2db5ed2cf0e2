/**
 * The deployment record `deployments/<chainId>.json` that meter:deploy writes and every other
 * component (tasks, indexer, reporter, billing) reads to find UsageMeter and its companion
 * InvoiceAnchor (`anchor`, absent from records written before the anchor existed). Kept free of Hardhat and ethers
 * imports so runtime services can use it with viem alone.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import { getAddress, isAddress, keccak256, stringToHex, type Address, type Hex } from "viem";
import { z } from "zod";

const address = z
  .string()
  .refine((s) => isAddress(s, { strict: false }), "must be a 0x-prefixed 20-byte address")
  .transform((s) => getAddress(s));
const hash32 = z
  .string()
  .regex(/^0x[0-9a-fA-F]{64}$/, "must be a 0x-prefixed 32-byte hex string")
  .transform((s) => s.toLowerCase() as Hex);
const uint = z.number().int().nonnegative();

/** Where a contract was deployed: the fields every deployment record carries, in this order. */
const deployedAt = { address, deployBlock: uint, deployBlockHash: hash32, txHash: hash32 };

/** The InvoiceAnchor deployed next to UsageMeter: billing anchors there, verifiers read it. */
export const anchorDeploymentSchema = z
  .object({
    contract: z.literal("InvoiceAnchor"),
    ...deployedAt,
    constructorArgs: z
      .object({
        adminDelay: uint,
        admin: address,
        usageMeter: address,
      })
      .strict(),
    abiHash: hash32,
  })
  .strict();

export const deploymentSchema = z
  .object({
    chainId: z.number().int().positive(),
    contract: z.literal("UsageMeter"),
    ...deployedAt,
    constructorArgs: z
      .object({
        adminDelay: uint,
        admin: address,
        minRevealDelay: uint,
        maxRevealDelay: uint,
      })
      .strict(),
    abiHash: hash32,
    anchor: anchorDeploymentSchema.optional(),
  })
  .strict();

export interface AnchorDeployment {
  contract: "InvoiceAnchor";
  address: Address;
  deployBlock: number;
  deployBlockHash: Hex;
  txHash: Hex;
  constructorArgs: {
    adminDelay: number;
    admin: Address;
    usageMeter: Address;
  };
  abiHash: Hex;
}

export interface Deployment {
  chainId: number;
  contract: "UsageMeter";
  address: Address;
  deployBlock: number;
  deployBlockHash: Hex;
  txHash: Hex;
  constructorArgs: {
    adminDelay: number;
    admin: Address;
    minRevealDelay: number;
    maxRevealDelay: number;
  };
  abiHash: Hex;
  anchor?: AnchorDeployment;
}

/** Chains of throwaway local nodes (Hardhat, Ganache/Anvil-style), where a zero admin delay is acceptable. */
export const LOCAL_CHAIN_IDS: ReadonlySet<number> = new Set([31337, 1337]);

export class DeploymentFileError extends Error {
  override name = "DeploymentFileError";
}

const REPO_ROOT = path.join(__dirname, "..");

/** METERLINE_DEPLOYMENTS_DIR (tests point it at a temp dir), else `<repo>/deployments`. */
export function deploymentsDir(env: NodeJS.ProcessEnv = process.env): string {
  const override = env.METERLINE_DEPLOYMENTS_DIR;
  return override && override.length > 0 ? path.resolve(override) : path.join(REPO_ROOT, "deployments");
}

export function deploymentPath(chainId: number | bigint, dir: string = deploymentsDir()): string {
  return path.join(dir, `${chainId.toString()}.json`);
}

/**
 * keccak256 of the ABI's compact JSON (`JSON.stringify(abi)`), as compiled. The generated
 * `usageMeterAbi` serialises identically, so a reader can detect a deployment made from a
 * different contract version with `abiHash(usageMeterAbi) !== deployment.abiHash`.
 */
export function abiHash(abi: unknown): Hex {
  return keccak256(stringToHex(JSON.stringify(abi)));
}

export function parseDeployment(json: unknown, source = "deployment"): Deployment {
  const parsed = deploymentSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue && issue.path.length > 0 ? issue.path.join(".") : "(root)";
    throw new DeploymentFileError(`${source}: invalid ${where}: ${issue?.message ?? "unknown problem"}`);
  }
  return parsed.data as Deployment;
}

/** Reads and validates the deployment of `chainId`, or returns undefined when there is none. */
export function findDeployment(chainId: number | bigint, dir: string = deploymentsDir()): Deployment | undefined {
  return findDeploymentFile(deploymentPath(chainId, dir), chainId);
}

/** Reads and validates the deployment record in `file` for `chainId`; undefined when the file is absent. */
export function findDeploymentFile(file: string, chainId: number | bigint): Deployment | undefined {
  if (!existsSync(file)) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, "utf8"));
  } catch (err) {
    throw new DeploymentFileError(`${file}: not valid JSON (${(err as Error).message})`);
  }
  const deployment = parseDeployment(json, file);
  if (BigInt(deployment.chainId) !== BigInt(chainId)) {
    throw new DeploymentFileError(`${file}: records chain ${deployment.chainId}, expected ${chainId.toString()}`);
  }
  return deployment;
}

export function readDeployment(chainId: number | bigint, dir: string = deploymentsDir()): Deployment {
  const deployment = findDeployment(chainId, dir);
  if (!deployment) {
    throw new DeploymentFileError(
      `no UsageMeter deployment for chain ${chainId.toString()} (${deploymentPath(chainId, dir)}); run meter:deploy first`,
    );
  }
  return deployment;
}

/** Writes the record (`<dir>/<chainId>.json` unless named) with keys in the documented order; atomic (temp file + rename). */
export function writeDeployment(deployment: Deployment, dir: string = deploymentsDir(), fileName?: string): string {
  const d = parseDeployment(deployment);
  const ordered = {
    chainId: d.chainId,
    contract: d.contract,
    address: d.address,
    deployBlock: d.deployBlock,
    deployBlockHash: d.deployBlockHash,
    txHash: d.txHash,
    constructorArgs: {
      adminDelay: d.constructorArgs.adminDelay,
      admin: d.constructorArgs.admin,
      minRevealDelay: d.constructorArgs.minRevealDelay,
      maxRevealDelay: d.constructorArgs.maxRevealDelay,
    },
    abiHash: d.abiHash,
    ...(d.anchor
      ? {
          anchor: {
            contract: d.anchor.contract,
            address: d.anchor.address,
            deployBlock: d.anchor.deployBlock,
            deployBlockHash: d.anchor.deployBlockHash,
            txHash: d.anchor.txHash,
            constructorArgs: {
              adminDelay: d.anchor.constructorArgs.adminDelay,
              admin: d.anchor.constructorArgs.admin,
              usageMeter: d.anchor.constructorArgs.usageMeter,
            },
            abiHash: d.anchor.abiHash,
          },
        }
      : {}),
  };
  mkdirSync(dir, { recursive: true });
  const file = fileName ? path.join(dir, fileName) : deploymentPath(d.chainId, dir);
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(ordered, null, 2)}\n`);
  renameSync(tmp, file);
  return file;
}
