import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import hre from "hardhat";
import {
  createPublicClient,
  createWalletClient,
  custom,
  stringToHex,
  type Address,
  type Hex,
  type PublicClient,
  type Transport,
  type Chain,
} from "viem";
import { mnemonicToAccount, type HDAccount } from "viem/accounts";
import { usageMeterAbi } from "../../chain/abi.generated";
import { decodeRecordWord } from "../../chain/record";
import { Journal, Reporter, mineUntil, type Logger, type ReporterOptions } from "../../reporter";

/** Hardhat's default accounts, with their keys (the in-process network uses this mnemonic). */
export const MNEMONIC = "test test test test test test test test test test test junk";
export function hardhatAccount(index: number): HDAccount {
  return mnemonicToAccount(MNEMONIC, { addressIndex: index });
}
export function hardhatKey(index: number): Hex {
  const key = hardhatAccount(index).getHdKey().privateKey;
  if (!key) throw new Error("no key");
  return `0x${Buffer.from(key).toString("hex")}`;
}

export const silentLogger: Logger = { info: () => undefined, warn: () => undefined, debug: () => undefined };

export const MIN_DELAY = 2;
export const MAX_DELAY = 30;

export interface MeterSetup {
  meter: Address;
  publicClient: PublicClient<Transport, Chain | undefined>;
  tenantId: number;
}

/**
 * Deploys a fresh UsageMeter on the in-process network with tenant `name` (meters api_calls and
 * storage_gb) and authorizes the given reporters. Accounts: 0 admin and tenant manager.
 */
export async function deployWithTenant(name: string, reporters: Address[]): Promise<MeterSetup> {
  const transport = custom(hre.network.provider);
  const publicClient = createPublicClient({ transport });
  const admin = createWalletClient({ account: hardhatAccount(0), transport });
  const artifact = await hre.artifacts.readArtifact("UsageMeter");
  const deployHash = await admin.deployContract({
    abi: usageMeterAbi,
    bytecode: artifact.bytecode as Hex,
    args: [3600, admin.account.address, MIN_DELAY, MAX_DELAY],
    chain: null,
  });
  const { contractAddress } = await publicClient.waitForTransactionReceipt({ hash: deployHash });
  const meter = contractAddress!;
  const write = async (functionName: string, args: readonly unknown[]) => {
    const hash = await admin.writeContract({ address: meter, abi: usageMeterAbi, functionName: functionName as never, args: args as never, chain: null });
    await publicClient.waitForTransactionReceipt({ hash });
  };
  const role = await publicClient.readContract({ address: meter, abi: usageMeterAbi, functionName: "TENANT_MANAGER_ROLE" });
  await write("grantRole", [role, admin.account.address]);
  await write("registerTenant", [stringToHex(name, { size: 32 })]);
  const tenantId = await publicClient.readContract({ address: meter, abi: usageMeterAbi, functionName: "tenantCount" });
  await write("registerMeter", [tenantId, stringToHex("api_calls", { size: 32 })]);
  await write("registerMeter", [tenantId, stringToHex("storage_gb", { size: 32 })]);
  for (const r of reporters) await write("authorizeReporter", [tenantId, r]);
  return { meter, publicClient, tenantId };
}

export interface Revealed {
  reporter: Address;
  commitment: Hex;
  records: { meterId: number; sequence: bigint; quantity: bigint; ref: Hex }[];
}

export async function revealedUsage(setup: MeterSetup): Promise<Revealed[]> {
  const logs = await setup.publicClient.getContractEvents({
    address: setup.meter,
    abi: usageMeterAbi,
    eventName: "UsageRevealed",
    fromBlock: 0n,
  });
  return logs.map((l) => ({
    reporter: l.args.reporter!,
    commitment: l.args.commitment!,
    records: l.args.records!.map((r) => {
      const f = decodeRecordWord(r.packed);
      return { meterId: f.meterId, sequence: f.sequence, quantity: f.quantity, ref: r.ref };
    }),
  }));
}

export async function committedEvents(setup: MeterSetup) {
  return setup.publicClient.getContractEvents({ address: setup.meter, abi: usageMeterAbi, eventName: "Committed", fromBlock: 0n });
}

export async function tempDir(prefix: string): Promise<string> {
  return mkdtemp(path.join(tmpdir(), `meterline-${prefix}-`));
}

/** `count` JSON Lines of usage for `tenant` with distinct source ids and quantities 1..count. */
export async function usageFile(dir: string, tenant: string, count: number, name = "usage.jsonl"): Promise<{ file: string; total: bigint }> {
  const lines: string[] = [];
  let total = 0n;
  for (let i = 1; i <= count; i++) {
    const start = 1_700_000_000 + i * 60;
    lines.push(JSON.stringify({ tenant, meter: i % 2 ? "api_calls" : "storage_gb", period_start: start, period_end: start + 60, quantity: i, source_id: `evt-${name}-${i}` }));
    total += BigInt(i);
  }
  const file = path.join(dir, name);
  await writeFile(file, `${lines.join("\n")}\n`);
  return { file, total };
}

/** A Reporter for `hardhatAccount(accountIndex)` on the in-process network (no wallet with `relay`). */
export async function makeReporter(
  setup: MeterSetup,
  accountIndex: number,
  journalRoot: string,
  opts: { batchSize?: number; relay?: boolean } & Partial<Pick<ReporterOptions, "logger" | "publicClient" | "waitForBlock">> = {},
): Promise<Reporter> {
  const account = hardhatAccount(accountIndex);
  const transport = custom(hre.network.provider);
  const journal = await Journal.open(journalRoot, { chainId: 31337, meter: setup.meter, reporter: account.address });
  const publicClient = opts.publicClient ?? setup.publicClient;
  return new Reporter({
    publicClient,
    ...(opts.relay ? {} : { walletClient: createWalletClient({ account, transport }) }),
    account,
    meter: setup.meter,
    journal,
    logger: opts.logger ?? silentLogger,
    batchSize: opts.batchSize ?? 500,
    waitForBlock: opts.waitForBlock ?? mineUntil(publicClient),
  });
}

export function sum(revealed: readonly Revealed[]): bigint {
  return revealed.flatMap((r) => r.records).reduce((acc, r) => acc + r.quantity, 0n);
}

/** A logger that keeps every message (to check summary lines, and that no secret is logged). */
export function recordingLogger(): Logger & { messages: { level: string; obj: object; msg: string }[] } {
  const messages: { level: string; obj: object; msg: string }[] = [];
  const at = (level: string) => (obj: object, msg?: string) => void messages.push({ level, obj, msg: msg ?? "" });
  return { messages, info: at("info"), warn: at("warn"), debug: at("debug") };
}

/**
 * JSON Lines of usage for `tenant`, one line per source id `evt-<n>`: the same event always gets
 * the same line (quantity n, the n-th minute), as a real export would repeat it.
 */
export function usageLines(tenant: string, sourceIds: readonly string[]): string {
  return sourceIds
    .map((id) => {
      const n = Number(id.replace(/\D/g, ""));
      return JSON.stringify({ tenant, meter: "api_calls", period_start: 1_700_000_000 + n * 60, period_end: 1_700_000_060 + n * 60, quantity: n, source_id: id });
    })
    .join("\n");
}
