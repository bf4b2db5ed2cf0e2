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
import { NamingError, plainNaming, type ChainNaming } from "../chain/naming";
import { commitmentHash, packRecord } from "../chain/record";
import { COMMIT_TYPES, commitDomain } from "../chain/eip712";
import { decodeRevert } from "../chain/revert";
import { describeSkipped, skipSubmittedKeys } from "./dedupe";
import { InputValidationError, ReporterError, TransactionError, type LineIssue } from "./errors";
import { finalizedBlockNumber } from "./finality";
import type { UsageInput } from "./input";
import { Journal, type BatchState, type Job, type PlannedBatch } from "./journal";
import { batchId, replanBatch } from "./replan";
import { ZERO_REF } from "./revealed-refs";
import { SubmittedKeys, scanStartBlock } from "./submitted-keys";

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
  /**
   * First block to scan for the tenants' submitted refs: the contract's deploy block. Default:
   * from deployments/<chainId>.json when it names this contract, else 0.
   */
  fromBlock?: bigint;
  /**
   * How the input's tenant and meter names are found on chain: keyed with the tenant's name key
   * (what the platform registers), else plain text (local development, older deployments).
   */
  naming?: ChainNaming;
}

export interface SubmitSummary {
  job: Hex;
  /** Usage lines in the input. */
  records: number;
  /** Of those, lines not sent because their ref was already submitted for the tenant or repeated. */
  skipped: number;
  batches: number;
  /** True when this exact input had been journaled before (the call only resumed it). */
  resumed: boolean;
}

export interface RunSummary {
  revealed: number;
  alreadyRevealed: number;
  revealedRecords: number;
  /** Batches planned again: renumbered after their sequences were passed, or without refs that landed meanwhile. */
  replanned: number;
}

type ChainView =
  | { kind: "revealed" }
  | { kind: "committed"; committedAt: bigint; state: BatchState }
  | { kind: "none"; state: BatchState }
  /**
   * The reporter's high-water mark already reached the batch's first sequence while the batch is
   * not revealed (someone revealed a later batch first): this plan can never land. `final` when
   * that holds at the finalized block too, i.e. no reorg can make the plan revealable again.
   */
  | { kind: "passed"; state: BatchState; final: boolean };

/**
 * Nobody outside this process can know a batch that was never sent, signed for a relayer or
 * expired: its plan may change freely. Any other batch may still be committed or revealed by
 * someone holding its salt, so only the chain may retire it.
 */
function isUnreleased(state: BatchState): boolean {
  return state.status === "planned" && !state.commitTx && state.expiredSalts.length === 0 && !state.signedForRelay;
}

function sortBySequence(batches: PlannedBatch[], from = 0): void {
  const tail = batches.splice(from).sort((a, b) => (BigInt(a.firstSequence) < BigInt(b.firstSequence) ? -1 : 1));
  batches.push(...tail);
}

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
  private submittedKeys?: SubmittedKeys;

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
    return { job: job.id, records: inputs.length, skipped: job.skippedLines?.length ?? 0, batches: job.batches.length, resumed, ...run };
  }

  /**
   * Resolves names, checks every record against the chain, leaves out records whose ref (the
   * idempotency key) is already submitted for the tenant, assigns sequence numbers above both
   * the on-chain high-water mark and everything this journal ever planned, splits into batches
   * and writes the job durably. The same input planned twice yields the same job.
   *
   * "Already submitted" means revealed on chain by any reporter of the tenant (so it holds
   * after the journal is lost) or pending in this journal. Another reporter's committed but
   * unrevealed batch cannot be seen (a commitment hides its records); each batch is checked
   * again just before its first commit, which narrows that window to one reveal delay.
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
    const submitted = new Map<number, ReadonlySet<Hex>>();
    for (const tenantId of new Set(resolved.map((r) => r.tenantId))) submitted.set(tenantId, await this.submittedKeysOf(tenantId));
    const { kept, skipped } = skipSubmittedKeys(resolved, (tenantId, ref) => submitted.get(tenantId)!.has(ref));
    if (skipped.length > 0) this.o.logger.warn({ skipped: skipped.length }, describeSkipped(skipped));
    const byTenant = new Map<number, { input: UsageInput; meterId: number }[]>();
    for (const r of kept) {
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
          id: batchId(tenantId, first),
          tenantId,
          firstSequence: first.toString(),
          lastSequence: sequence.toString(),
          records,
          lines: chunk.map((c) => c.input.line),
          salt: randomSalt(),
        });
      }
    }
    const job: Job = {
      id,
      createdAt: new Date().toISOString(),
      source,
      batches,
      ...(skipped.length > 0 ? { skippedLines: skipped.map((s) => s.line) } : {}),
    };
    // Written even when every line was skipped, so a rerun of the file resumes without a scan.
    await this.o.journal.writeJob(job);
    this.o.logger.info({ job: id, batches: batches.length, records: kept.length, skipped: skipped.length }, "usage journaled");
    return { job, resumed: false };
  }

  /**
   * Finishes every journaled batch that is not revealed yet, tenant by tenant, in sequence order.
   * A batch whose sequences were passed (a relayer revealed a later batch first) is renumbered
   * above the mark and submitted again under a new salt; see {@link Reporter.replan}.
   */
  async run(): Promise<RunSummary> {
    const summary: RunSummary = { revealed: 0, alreadyRevealed: 0, revealedRecords: 0, replanned: 0 };
    const waiting = new Set<string>();
    for (const queue of (await this.pendingByTenant()).values()) {
      for (let i = 0; i < queue.length; ) {
        const batch = queue[i]!;
        const view = await this.reconcile(batch);
        if (view.kind === "revealed") {
          summary.alreadyRevealed += 1;
          i += 1;
          continue;
        }
        if (view.kind === "passed") {
          if (!view.final) {
            // Renumbering before finality could let a reorg land both plans.
            if (!waiting.has(batch.id)) this.o.logger.info({ batch: batch.id }, "batch passed by a later reveal; renumbering it once that is final");
            waiting.add(batch.id);
            await this.waitForNextBlock();
            continue;
          }
          this.replace(queue, i, await this.replan(batch, "renumber"));
          summary.replanned += 1;
          continue;
        }
        if (view.kind === "none") {
          const checked = await this.dropLandedKeys(batch, view.state);
          if (checked.replaced) {
            this.replace(queue, i, checked.by);
            summary.replanned += 1;
            continue;
          }
          await this.sendCommit(batch, view.state);
          continue; // reconcile again: the chain now says committed
        }
        await this.waitRevealable(view.committedAt);
        const next = queue[i + 1];
        const nextView = next ? await this.reconcile(next) : undefined;
        if (next && nextView?.kind === "none") {
          const checked = await this.dropLandedKeys(next, nextView.state);
          if (checked.replaced) {
            this.replace(queue, i + 1, checked.by);
            summary.replanned += 1;
            continue;
          }
        }
        try {
          await this.sendReveal(batch, view.state, next && nextView?.kind === "none" ? { batch: next, state: nextView.state } : undefined);
        } catch (err) {
          // The mark moved past this batch since reconcile read it (a reveal raced ours):
          // reconciling again after a block finds the batch passed and renumbers it.
          if (!(err instanceof TransactionError && err.sequenceNotIncreasing)) throw err;
          await this.waitForNextBlock();
          continue;
        }
        summary.revealed += 1;
        summary.revealedRecords += batch.records.length;
        i += 1;
      }
    }
    return summary;
  }

  /**
   * EIP-712 payloads for a relayer: one signed commit per batch that still needs a commit, and
   * the salt and records of every unrevealed batch. A relayer may reveal them in any order: a
   * batch it makes unrevealable (by revealing a later one first) is renumbered here on the next
   * call and travels in the next payload, so every record still lands once.
   */
  async signRelayPayload(deadline: bigint): Promise<RelayPayload> {
    const chainId = await this.getChainId();
    let nonce = await this.read("nonces", [this.address]);
    const items: RelayItem[] = [];
    for (const queue of (await this.pendingByTenant()).values()) {
      for (let i = 0; i < queue.length; ) {
        const batch = queue[i]!;
        const view = await this.reconcile(batch);
        if (view.kind === "revealed") {
          i += 1;
          continue;
        }
        if (view.kind === "passed") {
          if (view.final) this.replace(queue, i, await this.replan(batch, "renumber"));
          else {
            // Renumbering before finality could let a reorg land both plans; the next payload carries it.
            this.o.logger.warn({ batch: batch.id }, "batch was passed by a later reveal that is not final yet; run again to renumber it");
            i += 1;
          }
          continue;
        }
        let state = view.state;
        if (view.kind === "none") {
          const checked = await this.dropLandedKeys(batch, state);
          if (checked.replaced) {
            this.replace(queue, i, checked.by);
            continue;
          }
        }
        const item: RelayItem = {
          batchId: batch.id,
          tenantId: batch.tenantId,
          salt: state.salt,
          commitment: state.commitment,
          records: batch.records,
        };
        if (view.kind === "none") {
          // Written down before the signature exists: from here on the plan is someone else's too.
          if (!state.signedForRelay) {
            state = { ...state, signedForRelay: true };
            await this.o.journal.writeState(state);
          }
          item.nonce = nonce.toString();
          item.deadline = deadline.toString();
          item.signature = await this.o.account.signTypedData({
            domain: commitDomain(chainId, this.o.meter),
            types: COMMIT_TYPES,
            primaryType: "Commit",
            message: { reporter: this.address, tenantId: batch.tenantId, commitment: state.commitment, nonce, deadline },
          });
          nonce += 1n;
        }
        items.push(item);
        i += 1;
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
    blockNumber?: bigint,
  ) {
    return this.o.publicClient.readContract({
      address: this.o.meter,
      abi: usageMeterAbi,
      functionName,
      args: args as never,
      ...(blockNumber === undefined ? {} : { blockNumber }),
    }) as Promise<ReadResult[F]>;
  }

  private async keys(): Promise<SubmittedKeys> {
    this.submittedKeys ??= new SubmittedKeys({
      publicClient: this.o.publicClient,
      meter: this.o.meter,
      journal: this.o.journal,
      fromBlock: this.o.fromBlock ?? scanStartBlock(await this.getChainId(), this.o.meter),
    });
    return this.submittedKeys;
  }

  /** Refs that must not be planned again for `tenantId`: revealed on chain, or pending in this journal. */
  private async submittedKeysOf(tenantId: number): Promise<ReadonlySet<Hex>> {
    const keys = new Set(await (await this.keys()).revealed(tenantId));
    for (const batch of (await this.pendingByTenant()).get(tenantId) ?? []) {
      for (const r of batch.records) if (r.ref.toLowerCase() !== ZERO_REF) keys.add(r.ref.toLowerCase() as Hex);
    }
    return keys;
  }

  /**
   * Before a batch's first commit: drops records whose ref landed since the batch was planned
   * (another reporter of the tenant submitted the same event meanwhile). Only for a batch nobody
   * else can know ({@link isUnreleased}); a released one goes out as planned.
   */
  private async dropLandedKeys(batch: PlannedBatch, state: BatchState): Promise<{ replaced: false } | { replaced: true; by: PlannedBatch | undefined }> {
    if (!isUnreleased(state)) return { replaced: false };
    const landed = await (await this.keys()).revealed(batch.tenantId);
    if (!batch.records.some((r) => landed.has(r.ref.toLowerCase() as Hex))) return { replaced: false };
    return { replaced: true, by: await this.replan(batch, "drop-landed") };
  }

  /**
   * Writes a new plan for `batch` (one atomic job file that also retires the old plan) and
   * returns it, or undefined when all its records turned out to be on chain already.
   *
   * Relay safety (why renumbering): anyone holding a batch's salt may reveal it, and the
   * contract takes sequences only upwards, so a relayer that reveals batch k+1 before batch k
   * makes k's commitment unrevealable forever. The alternatives were worse: commit-only payloads
   * make the reporter pay for every reveal (the point of relaying is that it holds no gas); an
   * enforced order binds only relayers that choose to obey it; handing out one batch at a time
   * costs a round trip per batch. Renumbering needs nothing from the relayer: once the mark has
   * passed the batch's first sequence at a finalized block, the old plan can never land, so its
   * records are planned again under fresh sequences above the mark with a new salt and
   * commitment and the same refs. Records whose ref is on chain by then are dropped, so even a
   * batch revealed through another journal is not counted twice.
   *
   * "drop-landed" keeps the surviving records' sequences: the batch was never released, and
   * shared sequences would let at most one of the two plans land in any case.
   */
  private async replan(batch: PlannedBatch, mode: "renumber" | "drop-landed"): Promise<PlannedBatch | undefined> {
    const landed = await (await this.keys()).revealed(batch.tenantId);
    let renumberAfter: bigint | undefined;
    if (mode === "renumber") {
      const [, mark] = await this.read("getReporter", [batch.tenantId, this.address]);
      const journaled = await this.o.journal.maxPlannedSequence(batch.tenantId);
      renumberAfter = mark > journaled ? mark : journaled;
    }
    const tag = toHex(randomBytes(4)).slice(2);
    const next = replanBatch(batch, { isSubmitted: (ref) => landed.has(ref), salt: randomSalt(), tag, ...(renumberAfter === undefined ? {} : { renumberAfter }) });
    const job: Job = {
      id: keccak256(stringToHex(`replan:${batch.id}:${tag}`)),
      createdAt: new Date().toISOString(),
      source: `${mode} of batch ${batch.id}`,
      batches: next ? [next] : [],
      replaces: [batch.id],
    };
    await this.o.journal.writeJob(job);
    this.o.logger.warn(
      { batch: batch.id, as: next?.id ?? null, dropped: batch.records.length - (next?.records.length ?? 0), firstSequence: next?.firstSequence ?? null },
      mode === "renumber" ? "batch passed by a later reveal; re-planned under new sequence numbers" : "refs of an unsent batch landed meanwhile; re-planned without them",
    );
    return next;
  }

  /** Puts `by` (or nothing) where `queue[i]` was, keeping the rest of the queue in sequence order. */
  private replace(queue: PlannedBatch[], i: number, by: PlannedBatch | undefined): void {
    queue.splice(i, 1, ...(by ? [by] : []));
    sortBySequence(queue, i);
  }

  private async waitForNextBlock(): Promise<void> {
    await this.waitForBlock((await this.o.publicClient.getBlockNumber({ cacheTime: 0 })) + 1n);
  }

  private get naming(): ChainNaming {
    return this.o.naming ?? plainNaming;
  }

  /** A name the naming refuses (too long to be plain text) is the line's problem, not a crash. */
  private onchainName(run: () => Hex): Hex | NamingError {
    try {
      return run();
    } catch (err) {
      if (err instanceof NamingError) return err;
      throw err;
    }
  }

  /** Why a name may not resolve: the usual cause is the naming, so say which one was used. */
  private namingHint(): string {
    return this.naming.keyed
      ? " under the configured name key (check it is your tenant's key)"
      : " in plain text (set METERLINE_NAME_KEY or --name-key if your platform registered your names pseudonymously)";
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
        const onchainName = this.onchainName(() => this.naming.onchainName(name));
        if (onchainName instanceof Error) {
          issues.push({ line: input.line, message: `tenant: ${onchainName.message}` });
          continue;
        }
        if (!tenantIds.has(name)) tenantIds.set(name, await this.read("tenantIdByName", [onchainName]));
        tenantId = tenantIds.get(name)!;
        if (tenantId === 0) {
          issues.push({ line: input.line, message: `tenant: no tenant named "${name}"${this.namingHint()}` });
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
        const name = input.meter.name;
        const onchainName = this.onchainName(() => this.naming.onchainMeterName(name));
        if (onchainName instanceof Error) {
          issues.push({ line: input.line, message: `meter: ${onchainName.message}` });
          continue;
        }
        const key = `${tenantId}/${name}`;
        if (!meterIds.has(key)) meterIds.set(key, await this.read("meterIdByName", [tenantId, onchainName]));
        meterId = meterIds.get(key)!;
      }
      if (meterId === 0 || meterId > meterCounts.get(tenantId)!) {
        const hint = "name" in input.meter ? this.namingHint() : "";
        issues.push({ line: input.line, message: `meter: tenant ${tenantId} has no meter ${JSON.stringify(input.meter)}${hint}` });
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
    const jobs = await this.o.journal.jobs();
    const replaced = new Set(jobs.flatMap((j) => j.replaces ?? []));
    for (const job of jobs) {
      for (const batch of job.batches) {
        if (replaced.has(batch.id)) continue;
        const state = await this.o.journal.state(batch.id);
        if (state?.status === "revealed") continue;
        const list = byTenant.get(batch.tenantId) ?? [];
        list.push(batch);
        byTenant.set(batch.tenantId, list);
      }
    }
    for (const list of byTenant.values()) sortBySequence(list);
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

    // Every read at one block, so the commitment's status and the mark cannot disagree.
    const head = await this.o.publicClient.getBlockNumber({ cacheTime: 0 });
    const revealed = async () => {
      if (state.status !== "revealed") await this.o.journal.writeState({ ...state, status: "revealed" });
      return { kind: "revealed" } as const;
    };
    const [status, , committedAt] = await this.read("getCommitment", [this.address, state.commitment], head);
    if (status === CommitmentStatus.Revealed) return revealed();
    const [, hwm] = await this.read("getReporter", [batch.tenantId, this.address], head);
    if (hwm >= BigInt(batch.firstSequence)) {
      // The batch can never land under this plan. Before anyone renumbers it, make sure it did
      // not land under a salt given up earlier.
      for (const salt of state.expiredSalts) {
        const [old] = await this.read("getCommitment", [this.address, await this.commitmentOf(batch, salt)], head);
        if (old === CommitmentStatus.Revealed) return revealed();
      }
      return { kind: "passed", state, final: await this.passedAtFinalizedBlock(batch) };
    }
    const { max } = await this.getDelays();
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

  /** Whether the mark had passed the batch's first sequence already at the finalized block. */
  private async passedAtFinalizedBlock(batch: PlannedBatch): Promise<boolean> {
    const finalized = await finalizedBlockNumber(this.o.publicClient);
    try {
      const [, mark] = await this.read("getReporter", [batch.tenantId, this.address], finalized);
      return mark >= BigInt(batch.firstSequence);
    } catch {
      // No state at that block (before the deployment, or pruned): not provably final yet.
      return false;
    }
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
