import { randomBytes } from "node:crypto";
import {
  encodeFunctionData,
  keccak256,
  stringToHex,
  toHex,
  type Account,
  type Address,
  type Chain,
  type Hex,
  type PublicClient,
  type Transport,
  type WalletClient,
} from "viem";
import { usageMeterAbi } from "../chain/abi.generated";
import { commitmentHash, packRecord } from "../chain/record";
import { COMMIT_TYPES, commitDomain } from "../chain/eip712";
import { decodeRevert } from "../chain/revert";
import { InputValidationError, JournalError, ReporterError, TransactionError, type LineIssue } from "./errors";
import type { UsageInput } from "./input";
import { Journal, type BatchState, type Job, type PlannedBatch } from "./journal";

/** Minimal structured logger (pino satisfies it). */
export interface Logger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
}

/** On-chain `CommitmentStatus`. */
export const CommitmentStatus = { None: 0, Committed: 1, Revealed: 2, Expired: 3 } as const;

export const MAX_BATCH_SIZE = 500;

export interface ReporterOptions {
  publicClient: PublicClient<Transport, Chain | undefined>;
  /** Sends the reporter's own transactions; absent in relay mode, where nothing is sent. */
  walletClient?: WalletClient<Transport, Chain | undefined, Account>;
  /** The reporter's account (signs commits, or EIP-712 payloads in relay mode). */
  account: Account & { signTransaction: NonNullable<Account["signTransaction"]>; signTypedData: NonNullable<Account["signTypedData"]> };
  meter: Address;
  journal: Journal;
  logger: Logger;
  batchSize?: number;
  /**
   * Resolves once the chain head is at least `block`. Defaults to polling; on an automining
   * development chain pass one that mines (see {@link mineUntil}).
   */
  waitForBlock?: (block: bigint) => Promise<void>;
  pollIntervalMs?: number;
  /** Called after each commit is mined; tests use it to crash at the worst moment. */
  afterCommitMined?: (batch: PlannedBatch) => Promise<void>;
}

export interface SubmitSummary {
  job: Hex;
  records: number;
  batches: number;
  /** True when this exact input had been journaled before (the call only resumed it). */
  resumed: boolean;
}

export interface RunSummary {
  revealed: number;
  alreadyRevealed: number;
  revealedRecords: number;
}

type ChainView =
  | { kind: "revealed" }
  | { kind: "committed"; committedAt: bigint; state: BatchState }
  | { kind: "none"; state: BatchState };

export function randomSalt(): Hex {
  return toHex(randomBytes(32));
}

/** A `waitForBlock` for automining development chains: mines empty blocks until `block`. */
export function mineUntil(client: PublicClient<Transport, Chain | undefined>): (block: bigint) => Promise<void> {
  return async (block) => {
    while ((await client.getBlockNumber({ cacheTime: 0 })) < block) {
      await client.request({ method: "evm_mine" as never, params: [] as never });
    }
  };
}


/**
 * The reporter client: plans usage into journaled batches, then commits and reveals them,
 * pipelining `reveal(k)` with `commit(k+1)` in one multicall. Every step first reads the
 * chain, so running it again after a crash at any point finishes the work exactly once.
 */
export class Reporter {
  readonly address: Address;
  private readonly batchSize: number;
  private readonly waitForBlock: (block: bigint) => Promise<void>;
  private chainId?: number;
  private delays?: { min: bigint; max: bigint };

  constructor(private readonly o: ReporterOptions) {
    this.address = o.account.address;
    this.batchSize = o.batchSize ?? MAX_BATCH_SIZE;
    if (this.batchSize < 1 || this.batchSize > MAX_BATCH_SIZE) {
      throw new ReporterError(`batch size must be 1..${MAX_BATCH_SIZE}`);
    }
    const poll = o.pollIntervalMs ?? 1000;
    this.waitForBlock =
      o.waitForBlock ??
      (async (block) => {
        while ((await o.publicClient.getBlockNumber({ cacheTime: 0 })) < block) {
          await new Promise((r) => setTimeout(r, poll));
        }
      });
  }

  /** Validated input in, durable job out; then commits and reveals everything pending. */
  async submit(inputs: readonly UsageInput[], source = "input"): Promise<SubmitSummary & RunSummary> {
    const { job, resumed } = await this.plan(inputs, source);
    const run = await this.run();
    return { job: job.id, records: inputs.length, batches: job.batches.length, resumed, ...run };
  }

  /**
   * Resolves names, checks every record against the chain, assigns sequence numbers above both
   * the on-chain high-water mark and everything this journal ever planned, splits into batches
   * and writes the job durably. The same input planned twice yields the same job.
   */
  async plan(inputs: readonly UsageInput[], source = "input"): Promise<{ job: Job; resumed: boolean }> {
    const chainId = await this.getChainId();
    const id = keccak256(
      stringToHex(
        JSON.stringify([chainId, this.o.meter.toLowerCase(), this.address.toLowerCase(), inputs], (_k, v: unknown) =>
          typeof v === "bigint" ? v.toString() : v,
        ),
      ),
    );
    const existing = await this.o.journal.job(id);
    if (existing) return { job: existing, resumed: true };

    const resolved = await this.resolve(inputs);
    const byTenant = new Map<number, { input: UsageInput; meterId: number }[]>();
    for (const r of resolved) {
      const list = byTenant.get(r.tenantId) ?? [];
      list.push(r);
      byTenant.set(r.tenantId, list);
    }
    const batches: PlannedBatch[] = [];
    for (const [tenantId, list] of byTenant) {
      const [, hwm] = await this.read("getReporter", [tenantId, this.address]);
      const journaled = await this.o.journal.maxPlannedSequence(tenantId);
      let sequence = hwm > journaled ? hwm : journaled;
      for (let i = 0; i < list.length; i += this.batchSize) {
        const chunk = list.slice(i, i + this.batchSize);
        const first = sequence + 1n;
        const records = chunk.map(({ input, meterId }) => {
          sequence += 1n;
          const p = packRecord({
            meterId,
            periodStart: input.periodStart,
            periodEnd: input.periodEnd,
            sequence,
            quantity: input.quantity,
            ref: input.ref,
          });
          return { packed: p.packed.toString(), ref: p.ref };
        });
        batches.push({
          id: `${tenantId}-${first.toString().padStart(20, "0")}`,
          tenantId,
          firstSequence: first.toString(),
          lastSequence: sequence.toString(),
          records,
          lines: chunk.map((c) => c.input.line),
          salt: randomSalt(),
        });
      }
    }
    const job: Job = { id, createdAt: new Date().toISOString(), source, batches };
    await this.o.journal.writeJob(job);
    this.o.logger.info({ job: id, batches: batches.length, records: inputs.length }, "usage journaled");
    return { job, resumed: false };
  }

  /** Finishes every journaled batch that is not revealed yet, tenant by tenant, in sequence order. */
  async run(): Promise<RunSummary> {
    const summary: RunSummary = { revealed: 0, alreadyRevealed: 0, revealedRecords: 0 };
    for (const queue of (await this.pendingByTenant()).values()) {
      for (let i = 0; i < queue.length; ) {
        const batch = queue[i]!;
        const view = await this.reconcile(batch);
        if (view.kind === "revealed") {
          summary.alreadyRevealed += 1;
          i += 1;
          continue;
        }
        if (view.kind === "none") {
          await this.sendCommit(batch, view.state);
          continue; // reconcile again: the chain now says committed
        }
        await this.waitRevealable(view.committedAt);
        const next = queue[i + 1];
        const nextView = next ? await this.reconcile(next) : undefined;
        await this.sendReveal(batch, view.state, next && nextView?.kind === "none" ? { batch: next, state: nextView.state } : undefined);
        summary.revealed += 1;
        summary.revealedRecords += batch.records.length;
        i += 1;
      }
    }
    return summary;
  }

  /** EIP-712 payloads for a relayer: one signed commit per batch that still needs a commit. */
  async signRelayPayload(deadline: bigint): Promise<RelayPayload> {
    const chainId = await this.getChainId();
    let nonce = await this.read("nonces", [this.address]);
    const items: RelayItem[] = [];
    for (const queue of (await this.pendingByTenant()).values()) {
      for (const batch of queue) {
        const view = await this.reconcile(batch);
        if (view.kind === "revealed") continue;
        const item: RelayItem = {
          batchId: batch.id,
          tenantId: batch.tenantId,
          salt: view.state.salt,
          commitment: view.state.commitment,
          records: batch.records,
        };
        if (view.kind === "none") {
          item.nonce = nonce.toString();
          item.deadline = deadline.toString();
          item.signature = await this.o.account.signTypedData({
            domain: commitDomain(chainId, this.o.meter),
            types: COMMIT_TYPES,
            primaryType: "Commit",
            message: { reporter: this.address, tenantId: batch.tenantId, commitment: view.state.commitment, nonce, deadline },
          });
          nonce += 1n;
        }
        items.push(item);
      }
    }
    return { version: 1, chainId, meter: this.o.meter, reporter: this.address, items };
  }

  // ------------------------------------------------------------------ internals

  private async getChainId(): Promise<number> {
    this.chainId ??= await this.o.publicClient.getChainId();
    return this.chainId;
  }

  private async getDelays(): Promise<{ min: bigint; max: bigint }> {
    if (!this.delays) {
      const [min, max] = await Promise.all([this.read("MIN_REVEAL_DELAY", []), this.read("MAX_REVEAL_DELAY", [])]);
      this.delays = { min: BigInt(min), max: BigInt(max) };
    }
    return this.delays;
  }

  // Typed wrapper over readContract for the handful of views the reporter needs.
  private async read<F extends "getReporter" | "getCommitment" | "nonces" | "MIN_REVEAL_DELAY" | "MAX_REVEAL_DELAY" | "tenantIdByName" | "meterIdByName" | "getTenant">(
    functionName: F,
    args: readonly unknown[],
  ) {
    return this.o.publicClient.readContract({
      address: this.o.meter,
      abi: usageMeterAbi,
      functionName,
      args: args as never,
    }) as Promise<ReadResult[F]>;
  }

  private async resolve(inputs: readonly UsageInput[]): Promise<{ input: UsageInput; tenantId: number; meterId: number }[]> {
    const issues: LineIssue[] = [];
    const tenantIds = new Map<string, number>();
    const meterCounts = new Map<number, number>();
    const meterIds = new Map<string, number>();
    const authorized = new Map<number, boolean>();
    const block = await this.o.publicClient.getBlock({ blockTag: "latest" });
    const out: { input: UsageInput; tenantId: number; meterId: number }[] = [];
    for (const input of inputs) {
      let tenantId: number;
      if ("id" in input.tenant) tenantId = input.tenant.id;
      else {
        const name = input.tenant.name;
        if (!tenantIds.has(name)) tenantIds.set(name, await this.read("tenantIdByName", [stringToHex(name, { size: 32 })]));
        tenantId = tenantIds.get(name)!;
        if (tenantId === 0) {
          issues.push({ line: input.line, message: `tenant: no tenant named "${name}"` });
          continue;
        }
      }
      if (!meterCounts.has(tenantId)) {
        const [, count] = await this.read("getTenant", [tenantId]);
        meterCounts.set(tenantId, count);
        const [ok] = await this.read("getReporter", [tenantId, this.address]);
        authorized.set(tenantId, ok);
      }
      if (!authorized.get(tenantId)) {
        issues.push({ line: input.line, message: `tenant: reporter ${this.address} is not authorized for tenant ${tenantId}` });
        continue;
      }
      let meterId: number;
      if ("id" in input.meter) meterId = input.meter.id;
      else {
        const key = `${tenantId}/${input.meter.name}`;
        if (!meterIds.has(key)) {
          meterIds.set(key, await this.read("meterIdByName", [tenantId, stringToHex(input.meter.name, { size: 32 })]));
        }
        meterId = meterIds.get(key)!;
      }
      if (meterId === 0 || meterId > meterCounts.get(tenantId)!) {
        issues.push({ line: input.line, message: `meter: tenant ${tenantId} has no meter ${JSON.stringify(input.meter)}` });
        continue;
      }
      if (BigInt(input.periodEnd) > block.timestamp) {
        issues.push({ line: input.line, message: `periodEnd: ${input.periodEnd} is after the chain's time ${block.timestamp}` });
        continue;
      }
      out.push({ input, tenantId, meterId });
    }
    if (issues.length > 0) throw new InputValidationError(issues);
    return out;
  }

  private async pendingByTenant(): Promise<Map<number, PlannedBatch[]>> {
    const byTenant = new Map<number, PlannedBatch[]>();
    for (const job of await this.o.journal.jobs()) {
      for (const batch of job.batches) {
        const state = await this.o.journal.state(batch.id);
        if (state?.status === "revealed") continue;
        const list = byTenant.get(batch.tenantId) ?? [];
        list.push(batch);
        byTenant.set(batch.tenantId, list);
      }
    }
    for (const list of byTenant.values()) list.sort((a, b) => (BigInt(a.firstSequence) < BigInt(b.firstSequence) ? -1 : 1));
    return byTenant;
  }

  private async commitmentOf(batch: PlannedBatch, salt: Hex): Promise<Hex> {
    return commitmentHash({
      chainId: await this.getChainId(),
      meter: this.o.meter,
      reporter: this.address,
      tenantId: batch.tenantId,
      salt,
      records: batch.records.map((r) => ({ packed: BigInt(r.packed), ref: r.ref })),
    });
  }

  /** Waits out any transaction that may still be in flight, then reads what the chain says. */
  private async reconcile(batch: PlannedBatch): Promise<ChainView> {
    const state: BatchState = (await this.o.journal.state(batch.id)) ?? {
      id: batch.id,
      status: "planned",
      salt: batch.salt,
      commitment: await this.commitmentOf(batch, batch.salt),
      expiredSalts: [],
      updatedAt: new Date().toISOString(),
    };
    if (state.status === "commit-sent" && state.commitTx) await this.settle(state.commitTx);
    if (state.status === "reveal-sent" && state.revealTx) await this.settle(state.revealTx);

    const [status, , committedAt] = await this.read("getCommitment", [this.address, state.commitment]);
    if (status === CommitmentStatus.Revealed) {
      if (state.status !== "revealed") await this.o.journal.writeState({ ...state, status: "revealed" });
      return { kind: "revealed" };
    }
    const [, hwm] = await this.read("getReporter", [batch.tenantId, this.address]);
    if (hwm >= BigInt(batch.firstSequence)) {
      throw new JournalError(
        `batch ${batch.id} is not revealed but the reporter's on-chain sequence is already ${hwm}: ` +
          `another process or journal used these sequence numbers (journal ${this.o.journal.dir})`,
      );
    }
    const { max } = await this.getDelays();
    const head = await this.o.publicClient.getBlockNumber({ cacheTime: 0 });
    // The reveal lands in block head+1 at the earliest; past the window it can never land.
    if (status === CommitmentStatus.Committed && head + 1n <= committedAt + max) {
      if (state.status !== "committed") {
        await this.o.journal.writeState({ ...state, status: "committed", committedAt: committedAt.toString() });
      }
      return { kind: "committed", committedAt, state };
    }
    if (status === CommitmentStatus.Committed || status === CommitmentStatus.Expired) {
      // The old commitment can never be revealed now; a fresh salt gives a fresh commitment,
      // while the records and their sequence numbers stay as planned.
      const salt = randomSalt();
      const next: BatchState = {
        ...state,
        status: "planned",
        expiredSalts: [...state.expiredSalts, state.salt],
        salt,
        commitment: await this.commitmentOf(batch, salt),
      };
      delete next.commitTx;
      delete next.committedAt;
      await this.o.journal.writeState(next);
      this.o.logger.warn({ batch: batch.id }, "commitment expired unrevealed; re-committing under a new salt");
      return { kind: "none", state: next };
    }
    return { kind: "none", state };
  }

  private async settle(hash: Hex): Promise<void> {
    const receipt = await this.o.publicClient.getTransactionReceipt({ hash }).catch(() => undefined);
    if (receipt) return;
    const tx = await this.o.publicClient.getTransaction({ hash }).catch(() => undefined);
    if (tx) await this.o.publicClient.waitForTransactionReceipt({ hash });
  }

  private async waitRevealable(committedAt: bigint): Promise<void> {
    const { min } = await this.getDelays();
    // The reveal lands in the block after the current head at the earliest.
    await this.waitForBlock(committedAt + min - 1n);
  }

  private wallet(): NonNullable<ReporterOptions["walletClient"]> {
    if (!this.o.walletClient) throw new ReporterError("this reporter has no wallet (relay mode): it cannot send transactions");
    return this.o.walletClient;
  }

  /** Simulates (for a decoded revert reason), signs, and returns the raw tx and its hash. */
  private async prepare(data: Hex, what: string): Promise<{ raw: Hex; hash: Hex }> {
    const wallet = this.wallet();
    try {
      // "pending": the transaction executes in the next block, which is what the reveal delay counts.
      await this.o.publicClient.call({ account: this.o.account, to: this.o.meter, data, blockTag: "pending" });
    } catch (err) {
      const reason = decodeRevert(err);
      throw new TransactionError(`${what} would revert: ${reason ?? (err as Error).message}`, reason);
    }
    const request = await wallet.prepareTransactionRequest({
      account: this.o.account,
      to: this.o.meter,
      data,
      chain: wallet.chain ?? null,
    } as never);
    const raw = await this.o.account.signTransaction(request as never);
    return { raw, hash: keccak256(raw) };
  }

  private async send(raw: Hex, hash: Hex, what: string): Promise<bigint> {
    await this.wallet().sendRawTransaction({ serializedTransaction: raw });
    const receipt = await this.o.publicClient.waitForTransactionReceipt({ hash });
    if (receipt.status !== "success") throw new TransactionError(`${what} reverted in tx ${hash}`, undefined);
    return receipt.blockNumber;
  }

  private async sendCommit(batch: PlannedBatch, state: BatchState): Promise<void> {
    const data = encodeFunctionData({ abi: usageMeterAbi, functionName: "commit", args: [batch.tenantId, state.commitment] });
    const { raw, hash } = await this.prepare(data, `commit of batch ${batch.id}`);
    await this.o.journal.writeState({ ...state, status: "commit-sent", commitTx: hash });
    const block = await this.send(raw, hash, `commit of batch ${batch.id}`);
    await this.o.journal.writeState({ ...state, status: "committed", commitTx: hash, committedAt: block.toString() });
    this.o.logger.info({ batch: batch.id, tx: hash, block: block.toString() }, "committed");
    await this.o.afterCommitMined?.(batch);
  }

  private async sendReveal(batch: PlannedBatch, state: BatchState, next?: { batch: PlannedBatch; state: BatchState }): Promise<void> {
    const reveal = encodeFunctionData({
      abi: usageMeterAbi,
      functionName: "reveal",
      args: [batch.tenantId, this.address, state.salt, batch.records.map((r) => ({ packed: BigInt(r.packed), ref: r.ref }))],
    });
    const data = next
      ? encodeFunctionData({
          abi: usageMeterAbi,
          functionName: "multicall",
          args: [[reveal, encodeFunctionData({ abi: usageMeterAbi, functionName: "commit", args: [next.batch.tenantId, next.state.commitment] })]],
        })
      : reveal;
    const what = next ? `reveal of batch ${batch.id} + commit of batch ${next.batch.id}` : `reveal of batch ${batch.id}`;
    const { raw, hash } = await this.prepare(data, what);
    if (next) await this.o.journal.writeState({ ...next.state, status: "commit-sent", commitTx: hash });
    await this.o.journal.writeState({ ...state, status: "reveal-sent", revealTx: hash });
    const block = await this.send(raw, hash, what);
    await this.o.journal.writeState({ ...state, status: "revealed", revealTx: hash, revealedAt: block.toString() });
    this.o.logger.info({ batch: batch.id, records: batch.records.length, tx: hash, block: block.toString() }, "revealed");
    if (next) {
      await this.o.journal.writeState({ ...next.state, status: "committed", commitTx: hash, committedAt: block.toString() });
      this.o.logger.info({ batch: next.batch.id, tx: hash }, "committed (pipelined)");
      await this.o.afterCommitMined?.(next.batch);
    }
  }
}



/** One batch for a relayer: a signed commit (when still needed) plus what the reveal needs. */
export interface RelayItem {
  batchId: string;
  tenantId: number;
  salt: Hex;
  commitment: Hex;
  records: { packed: string; ref: Hex }[];
  nonce?: string;
  deadline?: string;
  signature?: Hex;
}

export interface RelayPayload {
  version: 1;
  chainId: number;
  meter: Address;
  reporter: Address;
  items: RelayItem[];
}

interface ReadResult {
  getReporter: readonly [boolean, bigint];
  getCommitment: readonly [number, number, bigint];
  nonces: bigint;
  MIN_REVEAL_DELAY: number;
  MAX_REVEAL_DELAY: number;
  tenantIdByName: number;
  meterIdByName: number;
  getTenant: readonly [Hex, number];
}
