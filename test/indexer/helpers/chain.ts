/**
 * A UsageMeter workload on the in-process Hardhat chain, driven through viem, plus an HTTP
 * JSON-RPC endpoint for the indexer. Shared by the indexer tests, the chaos run and the benchmark.
 */
import { randomBytes } from "node:crypto";
import type { HardhatRuntimeEnvironment } from "hardhat/types";
import { TASK_NODE_CREATE_SERVER } from "hardhat/builtin-tasks/task-names";
import {
  createPublicClient,
  createWalletClient,
  custom,
  encodeFunctionData,
  keccak256,
  stringToHex,
  toHex,
  type Address,
  type Hex,
  type PublicClient,
  type WalletClient,
} from "viem";
import { usageMeterAbi } from "../../../chain/abi.generated";
import { commitmentHash, encodeRecordWord, type PackedRecord } from "../../../chain/record";

export interface ChainServer {
  url: string;
  /** The same port over WebSocket (Hardhat's node serves both): eth_subscribe works there. */
  wsUrl: string;
  close(): Promise<void>;
}

/** Serves hre's in-process chain over HTTP and WebSocket on a free port. */
export async function serveChain(hre: HardhatRuntimeEnvironment, port = 0): Promise<ChainServer> {
  const server = (await hre.run(TASK_NODE_CREATE_SERVER, {
    hostname: "127.0.0.1",
    port,
    provider: hre.network.provider,
  })) as { listen(): Promise<{ address: string; port: number }>; close(): Promise<void> };
  const { address, port: bound } = await server.listen();
  return { url: `http://${address}:${bound}`, wsUrl: `ws://${address}:${bound}`, close: () => server.close() };
}

const TENANT_MANAGER_ROLE = keccak256(stringToHex("TENANT_MANAGER_ROLE"));
export const COMMIT_GAS = 200_000n;
/** Generous upper bound for a reveal (execution plus calldata floor). */
export const revealGas = (records: number): bigint => 150_000n + 6_000n * BigInt(records);

export interface WorkloadOptions {
  tenants: number;
  metersPerTenant: number;
  reportersPerTenant: number;
  minRevealDelay?: number;
  maxRevealDelay?: number;
  /**
   * Draw record refs (idempotency keys) from this many shared random keys plus the zero key, so
   * records repeat keys within and across tenants; unset: every ref is fresh.
   */
  refPool?: number;
}

/** Drives the contract: registration, commit-reveal rounds, expiries, reorgs. */
export class Workload {
  readonly pub: PublicClient;
  readonly wallet: WalletClient;
  address!: Address;
  deployBlock!: bigint;
  chainId!: number;
  admin!: Address;
  reporters: Address[] = [];
  /** onchain tenant id -> reporters authorized for it. */
  readonly tenantReporters = new Map<number, Address[]>();
  readonly meters = new Map<number, number>();
  private readonly opts: Required<Omit<WorkloadOptions, "refPool">>;
  private readonly refs: Hex[] | null;

  constructor(
    readonly hre: HardhatRuntimeEnvironment,
    opts: WorkloadOptions,
  ) {
    this.opts = { minRevealDelay: 1, maxRevealDelay: 4, ...opts };
    this.refs = opts.refPool ? [`0x${"00".repeat(32)}`, ...Array.from({ length: opts.refPool }, () => toHex(randomBytes(32)))] : null;
    const transport = custom(hre.network.provider);
    this.pub = createPublicClient({ transport }) as PublicClient;
    this.wallet = createWalletClient({ transport });
  }

  async rpc<T = unknown>(method: string, params: unknown[] = []): Promise<T> {
    return (await this.hre.network.provider.request({ method, params })) as T;
  }

  async mine(blocks = 1): Promise<void> {
    for (let i = 0; i < blocks; i++) await this.rpc("evm_mine");
  }

  /** Sends without waiting; an explicit gas limit keeps many transactions fitting in one block. */
  async send(data: Hex, from: Address, gas = 1_000_000n): Promise<Hex> {
    return this.wallet.sendTransaction({ account: from, to: this.address, data, chain: null, gas });
  }

  private async call(from: Address, fn: string, args: unknown[]): Promise<Hex> {
    const data = encodeFunctionData({ abi: usageMeterAbi, functionName: fn, args } as Parameters<typeof encodeFunctionData>[0]);
    const hash = await this.send(data, from);
    const receipt = await this.pub.waitForTransactionReceipt({ hash, pollingInterval: 5 });
    if (receipt.status !== "success") throw new Error(`${fn} reverted`);
    return hash;
  }

  async deploy(): Promise<void> {
    const accounts = await this.wallet.getAddresses();
    this.admin = accounts[0]!;
    this.reporters = accounts.slice(1, 1 + this.opts.tenants * this.opts.reportersPerTenant);
    this.chainId = await this.pub.getChainId();
    const artifact = await this.hre.artifacts.readArtifact("UsageMeter");
    const hash = await this.wallet.deployContract({
      abi: usageMeterAbi,
      bytecode: artifact.bytecode as Hex,
      args: [0, this.admin, this.opts.minRevealDelay, this.opts.maxRevealDelay],
      account: this.admin,
      chain: null,
    });
    const receipt = await this.pub.waitForTransactionReceipt({ hash, pollingInterval: 5 });
    this.address = receipt.contractAddress!;
    this.deployBlock = receipt.blockNumber;
    await this.call(this.admin, "grantRole", [TENANT_MANAGER_ROLE, this.admin]);
    for (let t = 1; t <= this.opts.tenants; t++) await this.registerTenant(t);
  }

  async registerTenant(t: number): Promise<void> {
    await this.call(this.admin, "registerTenant", [stringToHex(`tenant-${t}`, { size: 32 })]);
    for (let m = 1; m <= this.opts.metersPerTenant; m++) {
      await this.call(this.admin, "registerMeter", [t, stringToHex(`meter-${m}`, { size: 32 })]);
    }
    this.meters.set(t, this.opts.metersPerTenant);
    const reps = this.reporters.slice((t - 1) * this.opts.reportersPerTenant, t * this.opts.reportersPerTenant);
    for (const r of reps) await this.call(this.admin, "authorizeReporter", [t, r]);
    this.tenantReporters.set(t, reps);
  }

  async lastSequence(tenantId: number, reporter: Address): Promise<bigint> {
    const [, last] = (await this.pub.readContract({
      address: this.address,
      abi: usageMeterAbi,
      functionName: "getReporter",
      args: [tenantId, reporter],
    })) as [boolean, bigint];
    return last;
  }

  /** Random records for a reporter, sequences continuing from the chain's high-water mark. */
  async makeRecords(tenantId: number, reporter: Address, count: number, nowSeconds: number, nextSequence?: bigint): Promise<PackedRecord[]> {
    let seq = nextSequence ?? (await this.lastSequence(tenantId, reporter)) + 1n;
    const meters = this.meters.get(tenantId) ?? 1;
    const out: PackedRecord[] = [];
    for (let i = 0; i < count; i++) {
      const start = nowSeconds - 3 * 3600 + Math.floor(Math.random() * 3 * 3600 - 120);
      out.push({
        packed: encodeRecordWord({
          meterId: 1 + Math.floor(Math.random() * meters),
          periodStart: start,
          periodEnd: start + 60,
          sequence: seq++,
          quantity: BigInt(1 + Math.floor(Math.random() * 1_000_000)),
        }),
        ref: this.refs ? this.refs[Math.floor(Math.random() * this.refs.length)]! : toHex(randomBytes(32)),
      });
    }
    return out;
  }

  commitData(tenantId: number, reporter: Address, records: PackedRecord[]): { salt: Hex; commitment: Hex; data: Hex } {
    const salt = toHex(randomBytes(32));
    const commitment = commitmentHash({ chainId: this.chainId, meter: this.address, reporter, tenantId, salt, records });
    return { salt, commitment, data: encodeFunctionData({ abi: usageMeterAbi, functionName: "commit", args: [tenantId, commitment] }) };
  }

  revealData(tenantId: number, reporter: Address, salt: Hex, records: PackedRecord[]): Hex {
    return encodeFunctionData({ abi: usageMeterAbi, functionName: "reveal", args: [tenantId, reporter, salt, records] });
  }

  async latestTimestamp(): Promise<number> {
    const b = await this.pub.getBlock({ blockTag: "latest" });
    return Number(b.timestamp);
  }

  /**
   * One commit-reveal round per (tenant, reporter) picked at random: commits in one block, reveals
   * `minRevealDelay` blocks later. Some commitments are left unrevealed and expired later by
   * `expirePending`. Automine is on; returns the number of records revealed.
   */
  async round(opts: { reveals: number; recordsPerReveal: number; withhold?: number }): Promise<number> {
    const now = await this.latestTimestamp();
    const pending: { t: number; r: Address; salt: Hex; records: PackedRecord[] }[] = [];
    const used = new Set<string>();
    await this.rpc("evm_setAutomine", [false]);
    try {
      for (let i = 0; i < opts.reveals + (opts.withhold ?? 0); i++) {
        const t = 1 + Math.floor(Math.random() * this.opts.tenants);
        const reps = this.tenantReporters.get(t)!;
        const r = reps[Math.floor(Math.random() * reps.length)]!;
        const key = `${t}:${r}`;
        if (used.has(key)) continue; // one open batch per (tenant, reporter) keeps sequences simple
        used.add(key);
        const n = 1 + Math.floor(Math.random() * opts.recordsPerReveal);
        const records = await this.makeRecords(t, r, n, now);
        const c = this.commitData(t, r, records);
        await this.send(c.data, r, COMMIT_GAS);
        if (i < opts.reveals) pending.push({ t, r, salt: c.salt, records });
        else this.withheld.push({ reporter: r, commitment: c.commitment });
      }
      await this.mine(this.opts.minRevealDelay);
      let total = 0;
      for (const p of pending) {
        await this.send(this.revealData(p.t, p.r, p.salt, p.records), p.r, revealGas(p.records.length));
        total += p.records.length;
      }
      await this.mine(1);
      return total;
    } finally {
      await this.rpc("evm_setAutomine", [true]);
    }
  }

  /** Commitments left unrevealed; `expirePending` marks the lapsed ones expired. */
  withheld: { reporter: Address; commitment: Hex }[] = [];

  async expirePending(): Promise<number> {
    if (this.withheld.length === 0) return 0;
    await this.mine(this.opts.maxRevealDelay + 1);
    let n = 0;
    for (const w of this.withheld.splice(0)) {
      const [status] = (await this.pub.readContract({
        address: this.address,
        abi: usageMeterAbi,
        functionName: "getCommitment",
        args: [w.reporter, w.commitment],
      })) as [number, number, bigint];
      if (status !== 1) continue; // reverted away by a reorg
      await this.call(this.admin, "expire", [w.reporter, w.commitment]);
      n++;
    }
    return n;
  }

  async snapshot(): Promise<Hex> {
    return this.rpc<Hex>("evm_snapshot");
  }

  async revert(id: Hex): Promise<void> {
    const ok = await this.rpc<boolean>("evm_revert", [id]);
    if (!ok) throw new Error(`evm_revert ${id} failed`);
    // Commitments made after the snapshot no longer exist.
    this.withheld = [];
  }

  async head(): Promise<{ number: bigint; hash: Hex }> {
    const b = await this.pub.getBlock({ blockTag: "latest" });
    return { number: b.number, hash: b.hash };
  }
}

/** A fresh chain served over HTTP with a deployed workload: what every indexer test starts from. */
export async function freshChain(hre: HardhatRuntimeEnvironment, opts: WorkloadOptions): Promise<{ server: ChainServer; w: Workload }> {
  await hre.network.provider.request({ method: "hardhat_reset", params: [] });
  const server = await serveChain(hre);
  const w = new Workload(hre, opts);
  await w.deploy();
  return { server, w };
}
