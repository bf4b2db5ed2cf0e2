/**
 * One anchoring pass: publish every plan assignment on InvoiceAnchor before it takes effect, and
 * every finalized invoice and credit note in its tenant's chain order.
 *
 * Crash safety: a job's transaction is signed and journaled (anchor_jobs.raw_tx) BEFORE it is
 * broadcast. A journaled job is only ever completed by that same transaction (re-broadcast after a
 * crash: same nonce, same hash) or by an anchor event already on chain; it is signed anew only when
 * its nonce went to another transaction or it reverted. Anchors stay under watch until
 * `confirmations` blocks deep: a block that left the chain sends the journaled transaction again.
 * A plan version whose effective time has passed can never be anchored (the contract refuses it):
 * it is marked unanchorable with the reason, logged and counted, and not retried.
 */
import type pg from "pg";
import type { Hex } from "viem";
import type { BillingLogger } from "../index";
import {
  anchorJobCounts,
  enqueueAnchorJobs,
  highestJournaledNonce,
  journalAnchorTx,
  markAnchored,
  markConfirmed,
  markReorged,
  markUnanchorable,
  openAnchorJobs,
  recordAnchorError,
  releaseAnchorTx,
  type AnchorJob,
} from "../store/anchor-jobs";
import { AnchorRevertError, broadcast, estimateAnchorGas, findAnchorEvent, receiptOf, waitForReceipt, type AnchorCall, type AnchorChain } from "./chain";

/** Why a job did not progress, from a fixed set (metric label). */
export type AnchorFailureReason = "paused" | "unauthorized" | "rejected" | "reverted" | "rpc";

export interface AnchoringOptions {
  /** Blocks under an anchor before its job is final. */
  confirmations: number;
  /** How long to wait for a just-sent transaction's receipt. */
  receiptTimeoutMs: number;
  logger?: BillingLogger;
  /** Fault injection for crash tests: runs right after the journal commits / the broadcast returns. */
  hooks?: { afterJournal?: (job: AnchorJob) => void | Promise<void>; afterBroadcast?: (job: AnchorJob) => void | Promise<void> };
}

export interface AnchoringResult {
  enqueued: number;
  sent: number;
  resent: number;
  anchored: Array<{ tenantId: string; kind: "plan" | "document"; hash: Hex; txHash: Hex | null }>;
  reorged: number;
  unanchorable: Array<{ tenantId: string; kind: "plan"; reason: string }>;
  failures: Array<{ jobId: string; tenantId: string; reason: AnchorFailureReason; message: string }>;
  /** Jobs not yet anchored (pending or sent) after the pass. */
  pending: number;
}

const SEC = (d: Date) => BigInt(Math.floor(d.getTime() / 1000));

function callOf(job: AnchorJob): AnchorCall {
  if (job.kind === "plan") return { functionName: "anchorPlan", args: [job.onchainTenantId, job.hash, SEC(job.effectiveFrom!)] };
  const d = job.document!;
  return {
    functionName: "anchorDocument",
    args: [job.onchainTenantId, d.kind === "invoice" ? 0 : 1, BigInt(d.number), SEC(d.periodStart), SEC(d.periodEnd), job.hash, d.previousHash],
  };
}

function eventQuery(job: AnchorJob) {
  return job.kind === "plan"
    ? { kind: "plan" as const, tenantId: job.onchainTenantId, hash: job.hash, effectiveFrom: SEC(job.effectiveFrom!) }
    : { kind: "document" as const, tenantId: job.onchainTenantId, hash: job.hash, previousHash: job.document!.previousHash };
}

const FAILURE_OF: Record<string, AnchorFailureReason> = {
  EnforcedPause: "paused",
  AccessControlUnauthorizedAccount: "unauthorized",
};

export async function runAnchoringOnce(db: { pool: pg.Pool }, chain: AnchorChain, options: AnchoringOptions): Promise<AnchoringResult> {
  const { logger } = options;
  const result: AnchoringResult = { enqueued: 0, sent: 0, resent: 0, anchored: [], reorged: 0, unanchorable: [], failures: [], pending: 0 };
  result.enqueued = await enqueueAnchorJobs(db.pool, chain.chainId, chain.usageMeter);
  const jobs = await openAnchorJobs(db.pool);
  const head = await chain.client.getBlock({ blockTag: "latest" });

  const anchored = async (job: AnchorJob, at: { blockNumber: bigint; blockHash: Hex; txHash: Hex }) => {
    await markAnchored(db.pool, job.id, { number: at.blockNumber, hash: at.blockHash, txHash: at.txHash });
    job.status = "anchored";
    job.blockNumber = at.blockNumber;
    job.blockHash = at.blockHash;
    result.anchored.push({ tenantId: job.tenantId, kind: job.kind, hash: job.hash, txHash: at.txHash });
    if (options.confirmations === 0 || head.number - at.blockNumber >= BigInt(options.confirmations)) await markConfirmed(db.pool, job.id);
  };
  const fail = async (job: AnchorJob, reason: AnchorFailureReason, message: string) => {
    await recordAnchorError(db.pool, job.id, message);
    result.failures.push({ jobId: job.id, tenantId: job.tenantId, reason, message });
    logger?.warn({ tenantId: job.tenantId, kind: job.kind, hash: job.hash, reason, error: message }, "anchoring did not progress");
  };

  // 1. Anchors not yet final: still in the chain at the same block?
  for (const job of jobs.filter((j) => j.status === "anchored")) {
    const block = await chain.client.getBlock({ blockNumber: job.blockNumber! }).catch(() => null);
    if (block && block.hash === job.blockHash) {
      if (head.number - job.blockNumber! >= BigInt(options.confirmations)) await markConfirmed(db.pool, job.id);
      continue;
    }
    const moved = job.txHash && job.rawTx ? await receiptOf(chain, job.txHash) : null;
    if (moved?.status === "success") {
      await markAnchored(db.pool, job.id, { number: moved.blockNumber, hash: moved.blockHash, txHash: job.txHash! });
      continue;
    }
    await markReorged(db.pool, job.id);
    result.reorged += 1;
    logger?.warn({ tenantId: job.tenantId, kind: job.kind, hash: job.hash, block: job.blockNumber?.toString() }, "anchor block left the chain: sending the journaled transaction again");
    job.status = job.rawTx ? "sent" : "pending";
  }

  // 2. Journaled transactions: completed by their receipt, or sent again (same nonce, same hash).
  const sent = jobs.filter((j) => j.status === "sent").sort((a, b) => Number(a.nonce! - b.nonce!));
  for (const job of sent) {
    const receipt = await receiptOf(chain, job.txHash!);
    if (receipt?.status === "success") {
      await anchored(job, { blockNumber: receipt.blockNumber, blockHash: receipt.blockHash, txHash: job.txHash! });
      continue;
    }
    let outcome: "sent" | "known" | "nonce-used" | "reverted" = "reverted";
    if (!receipt) {
      outcome = await broadcast(chain, job.rawTx!);
      if (outcome !== "nonce-used") {
        result.resent += 1;
        const r = await waitForReceipt(chain, job.txHash!, options.receiptTimeoutMs);
        if (r?.status === "success") await anchored(job, { blockNumber: r.blockNumber, blockHash: r.blockHash, txHash: job.txHash! });
        else if (r?.status === "reverted") outcome = "reverted";
        if (r?.status !== "reverted") continue;
      }
    }
    // Reverted, or its nonce went to another transaction: done if the anchor is on chain anyway.
    const existing = await findAnchorEvent(chain, eventQuery(job));
    if (existing) {
      await anchored(job, existing);
      continue;
    }
    await releaseAnchorTx(db.pool, job.id, outcome === "reverted" ? "transaction reverted" : "nonce taken by another transaction");
    job.status = "pending";
    job.rawTx = job.txHash = null;
    job.nonce = null;
    if (outcome === "reverted") await fail(job, "reverted", `transaction ${job.id} reverted; it is signed anew`);
  }

  // 3. New transactions: plans first, then each tenant's documents in chain order.
  let nextNonce: bigint | null = null;
  const blockedTenants = new Set<string>();
  let stop = false;
  for (const job of jobs) {
    if (stop) break;
    if (job.kind === "document") {
      if (blockedTenants.has(job.tenantId)) continue;
      if (job.status === "sent") {
        blockedTenants.add(job.tenantId); // the next document must wait for this one's block
        continue;
      }
    }
    if (job.status !== "pending") continue;
    const block = () => job.kind === "document" && blockedTenants.add(job.tenantId);

    const existing = await findAnchorEvent(chain, eventQuery(job));
    if (existing) {
      await anchored(job, existing);
      continue;
    }
    if (job.kind === "plan" && SEC(job.effectiveFrom!) <= head.timestamp) {
      const reason = `plan version takes effect at ${job.effectiveFrom!.toISOString()}, before the chain's time ${new Date(Number(head.timestamp) * 1000).toISOString()}: it can no longer be published before it prices usage`;
      await markUnanchorable(db.pool, job.id, reason);
      result.unanchorable.push({ tenantId: job.tenantId, kind: "plan", reason });
      logger?.error({ tenantId: job.tenantId, planHash: job.hash, effectiveFrom: job.effectiveFrom!.toISOString() }, `plan version unanchorable: ${reason}`);
      continue;
    }
    const call = callOf(job);
    let gas: bigint;
    try {
      gas = await estimateAnchorGas(chain, call);
    } catch (err) {
      if (!(err instanceof AnchorRevertError)) {
        await fail(job, "rpc", (err as Error).message.split("\n")[0] ?? "RPC error");
        stop = true;
        continue;
      }
      if (err.errorName === "PlanNotInFuture") {
        await markUnanchorable(db.pool, job.id, err.message);
        result.unanchorable.push({ tenantId: job.tenantId, kind: "plan", reason: err.message });
        logger?.error({ tenantId: job.tenantId, planHash: job.hash }, `plan version unanchorable: ${err.message}`);
        continue;
      }
      const reason = FAILURE_OF[err.errorName] ?? "rejected";
      await fail(job, reason, err.message);
      // A paused anchor or a missing role stops every job alike: no point in trying the rest.
      if (reason !== "rejected") stop = true;
      block();
      continue;
    }
    if (nextNonce === null) {
      const [onChain, journaled] = await Promise.all([
        chain.client.getTransactionCount({ address: chain.biller, blockTag: "pending" }),
        highestJournaledNonce(db.pool, chain.biller),
      ]);
      nextNonce = journaled !== null && journaled + 1n > BigInt(onChain) ? journaled + 1n : BigInt(onChain);
    }
    const tx = await chain.sign(call, nextNonce, gas);
    if (!(await journalAnchorTx(db.pool, job.id, { anchor: chain.anchor, signer: chain.biller, nonce: tx.nonce, rawTx: tx.rawTx, txHash: tx.txHash }))) {
      // Another pass (a second worker, or the stack's own) journaled it meanwhile: never send ours.
      nextNonce = null;
      block();
      continue;
    }
    nextNonce += 1n;
    Object.assign(job, { status: "sent", nonce: tx.nonce, rawTx: tx.rawTx, txHash: tx.txHash });
    await options.hooks?.afterJournal?.(job);
    const outcome = await broadcast(chain, tx.rawTx);
    await options.hooks?.afterBroadcast?.(job);
    if (outcome === "nonce-used") {
      // Someone else used the biller's key: the next pass finds out what landed and re-signs.
      await fail(job, "rpc", `nonce ${tx.nonce} was already used by another transaction of ${chain.biller}`);
      stop = true;
      continue;
    }
    result.sent += 1;
    const r = await waitForReceipt(chain, tx.txHash, options.receiptTimeoutMs);
    if (r?.status === "success") await anchored(job, { blockNumber: r.blockNumber, blockHash: r.blockHash, txHash: tx.txHash });
    else block(); // not mined yet (or reverted: the next pass re-checks it)
  }

  const counts = await anchorJobCounts(db.pool);
  result.pending = counts.filter((c) => c.status === "pending" || c.status === "sent").reduce((n, c) => n + c.count, 0);
  if (result.anchored.length > 0) logger?.info({ anchored: result.anchored.length, sent: result.sent, resent: result.resent }, "anchoring pass");
  return result;
}
