/**
 * Shared deployment fixtures and helpers for the UsageMeter tests. Every fixture is meant for
 * `loadFixture`, so each test starts from the same snapshot instead of redeploying.
 */
import { ethers } from "hardhat";
import { mine } from "@nomicfoundation/hardhat-network-helpers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import type { Signer, TransactionReceipt } from "ethers";
import type { UsageMeter } from "../../scripts/typechain-types";
import { encodeRecordWord, type PackedRecord, type UsageRecordFields } from "../../chain/record";
import { COMMIT_TYPES, EIP712_NAME, EIP712_VERSION } from "../../chain/eip712";

export { COMMIT_TYPES };

/** Small windows keep block mining cheap while leaving distinct boundaries to test. */
export const MIN_DELAY = 2;
export const MAX_DELAY = 20;
export const ADMIN_DELAY = 3 * 24 * 60 * 60;

export const PAUSER_ROLE = ethers.id("PAUSER_ROLE");
export const TENANT_MANAGER_ROLE = ethers.id("TENANT_MANAGER_ROLE");
export const DEFAULT_ADMIN_ROLE = ethers.ZeroHash;

/** A period well before any block of the in-process chain, so records are never "in the future". */
export const PAST_START = 1_600_000_000;
export const PAST_END = PAST_START + 3600;

export const TENANT_A = 1;
export const TENANT_B = 2;
/** Meters of tenant A; tenant B has a single meter (id 1). */
export const METER_CALLS = 1;
export const METER_STORAGE = 2;

export function name32(text: string): string {
  return ethers.encodeBytes32String(text);
}

export function randomSalt(): string {
  return ethers.hexlify(ethers.randomBytes(32));
}

export type RecordInput = Partial<Omit<UsageRecordFields, "sequence" | "quantity">> & {
  sequence: bigint | number;
  quantity?: bigint | number;
};

/** One record with sensible defaults; override any field. */
export function record(fields: RecordInput, ref?: string): PackedRecord {
  const word = encodeRecordWord({
    meterId: fields.meterId ?? METER_CALLS,
    periodStart: fields.periodStart ?? PAST_START,
    periodEnd: fields.periodEnd ?? PAST_END,
    sequence: BigInt(fields.sequence),
    quantity: BigInt(fields.quantity ?? 10n),
  });
  return {
    packed: word,
    ref: (ref ?? ethers.zeroPadValue(ethers.toBeHex(BigInt(fields.sequence)), 32)) as `0x${string}`,
  };
}

/** Records with consecutive sequence numbers starting at `first`. */
export function records(first: number, count: number, fields: Omit<RecordInput, "sequence"> = {}): PackedRecord[] {
  return Array.from({ length: count }, (_, i) => record({ ...fields, sequence: first + i }));
}

export async function deployMeter(
  admin: string,
  minDelay: number = MIN_DELAY,
  maxDelay: number = MAX_DELAY,
  adminDelay: number = ADMIN_DELAY,
): Promise<UsageMeter> {
  const factory = await ethers.getContractFactory("UsageMeter");
  const meter = await factory.deploy(adminDelay, admin, minDelay, maxDelay);
  await meter.waitForDeployment();
  return meter;
}

/**
 * Two tenants (A with two meters, B with one), a pauser, a tenant manager and three reporters:
 * `reporter` for A, `reporter2` for B, `reporter3` for both.
 */
export async function meterFixture() {
  const signers = await ethers.getSigners();
  const [admin, pauser, manager, reporter, reporter2, reporter3, outsider, relayer] = signers as [
    HardhatEthersSigner,
    HardhatEthersSigner,
    HardhatEthersSigner,
    HardhatEthersSigner,
    HardhatEthersSigner,
    HardhatEthersSigner,
    HardhatEthersSigner,
    HardhatEthersSigner,
  ];
  const meter = await deployMeter(admin.address);
  await meter.grantRole(PAUSER_ROLE, pauser.address);
  await meter.grantRole(TENANT_MANAGER_ROLE, manager.address);
  const m = meter.connect(manager);
  await m.registerTenant(name32("acme"));
  await m.registerTenant(name32("globex"));
  await m.registerMeter(TENANT_A, name32("api-calls"));
  await m.registerMeter(TENANT_A, name32("storage"));
  await m.registerMeter(TENANT_B, name32("api-calls"));
  await m.authorizeReporter(TENANT_A, reporter.address);
  await m.authorizeReporter(TENANT_B, reporter2.address);
  await m.authorizeReporter(TENANT_A, reporter3.address);
  await m.authorizeReporter(TENANT_B, reporter3.address);
  const { chainId } = await ethers.provider.getNetwork();
  return { meter, admin, pauser, manager, reporter, reporter2, reporter3, outsider, relayer, signers, chainId };
}

export type MeterFixture = Awaited<ReturnType<typeof meterFixture>>;

/** A second deployment with the same setup, for cross-contract replay tests. */
export async function twoMetersFixture() {
  const base = await meterFixture();
  const other = await deployMeter(base.admin.address);
  await other.grantRole(TENANT_MANAGER_ROLE, base.manager.address);
  const m = other.connect(base.manager);
  await m.registerTenant(name32("acme"));
  await m.registerMeter(TENANT_A, name32("api-calls"));
  await m.registerMeter(TENANT_A, name32("storage"));
  await m.authorizeReporter(TENANT_A, base.reporter.address);
  return { ...base, other };
}

export interface Committed {
  commitment: string;
  salt: string;
  blockNumber: number;
  receipt: TransactionReceipt;
}

/** Commits `recs` for `tenantId` as `reporter`, with the hash from the contract's own view. */
export async function commitRecords(
  meter: UsageMeter,
  reporter: Signer,
  tenantId: number,
  recs: PackedRecord[],
  salt: string = randomSalt(),
): Promise<Committed> {
  const commitment = await meter.commitmentHash(await reporter.getAddress(), tenantId, salt, recs);
  const tx = await meter.connect(reporter).commit(tenantId, commitment);
  const receipt = await tx.wait();
  if (!receipt) throw new Error("commit was not mined");
  return { commitment, salt, blockNumber: receipt.blockNumber, receipt };
}

/** Commits and mines until the next transaction lands exactly MIN_DELAY blocks after the commit. */
export async function commitAndAge(
  meter: UsageMeter,
  reporter: Signer,
  tenantId: number,
  recs: PackedRecord[],
  salt?: string,
): Promise<Committed> {
  const committed = await commitRecords(meter, reporter, tenantId, recs, salt);
  await mine(MIN_DELAY - 1);
  return committed;
}


export interface CommitMessage {
  reporter: string;
  tenantId: number;
  commitment: string;
  nonce: bigint;
  deadline: bigint;
}

/** EIP-712 signature of a Commit; override the domain to sign for another chain or contract. */
export async function signCommit(
  signer: Signer,
  verifyingContract: string,
  chainId: bigint,
  message: CommitMessage,
  domainOverride: Partial<{ name: string; version: string; chainId: bigint; verifyingContract: string }> = {},
): Promise<string> {
  const domain = { name: EIP712_NAME, version: EIP712_VERSION, chainId, verifyingContract, ...domainOverride };
  return signer.signTypedData(domain, { Commit: [...COMMIT_TYPES.Commit] }, message);
}

/** The decoded `records` of every UsageRevealed log in a receipt. */
export function revealedRecords(meter: UsageMeter, receipt: TransactionReceipt): PackedRecord[][] {
  const out: PackedRecord[][] = [];
  for (const log of receipt.logs) {
    const parsed = meter.interface.parseLog(log);
    if (parsed?.name !== "UsageRevealed") continue;
    const recs = parsed.args.getValue("records") as [bigint, string][];
    out.push(recs.map(([packed, ref]) => ({ packed, ref: ref as `0x${string}` })));
  }
  return out;
}

/** Plain objects for deep equality (ethers Results carry extra keys). */
export function plain(recs: readonly PackedRecord[]): { packed: bigint; ref: string }[] {
  return recs.map((r) => ({ packed: BigInt(r.packed), ref: r.ref.toLowerCase() }));
}
