/**
 * anchor_jobs: one job per plan assignment and per chained billing document, for billing's
 * anchoring on InvoiceAnchor (billing/anchoring/). A job moves pending → sent (its signed raw
 * transaction journaled) → anchored (its event seen in a block) → confirmed (deep enough), or
 * pending → unanchorable (with a reason) when it can never land. A reorg moves anchored back to sent.
 */
import { fromHex, toHex } from "../../chain/hex";
import type { Queryable } from "./records";

export type AnchorJobStatus = "pending" | "sent" | "anchored" | "unanchorable";

export interface AnchorJob {
  id: string;
  tenantId: string;
  onchainTenantId: number;
  kind: "plan" | "document";
  status: AnchorJobStatus;
  /** planHash or contentHash. */
  hash: `0x${string}`;
  /** plan: when the version takes effect. */
  effectiveFrom: Date | null;
  /** document: its place in the tenant's chain, and what anchorDocument needs. */
  document: {
    seq: number;
    kind: "invoice" | "credit_note";
    number: number;
    periodStart: Date;
    periodEnd: Date;
    previousHash: `0x${string}`;
  } | null;
  nonce: bigint | null;
  rawTx: `0x${string}` | null;
  txHash: `0x${string}` | null;
  blockNumber: bigint | null;
  blockHash: `0x${string}` | null;
  confirmed: boolean;
  attempts: number;
}

/**
 * Creates the jobs of plan assignments and documents that have none yet, for tenants of the
 * UsageMeter at `meterAddress` (the anchor's). Idempotent; returns how many are new.
 */
export async function enqueueAnchorJobs(db: Queryable, chainId: number, meterAddress: string): Promise<number> {
  const meter = [chainId, fromHex(meterAddress)];
  const plans = await db.query(
    `INSERT INTO anchor_jobs (tenant_id, kind, plan_version_id, effective_from, hash)
     SELECT a.tenant_id, 'plan', a.plan_version_id, a.effective_from, a.plan_hash
       FROM plan_assignments a
       JOIN tenants t ON t.id = a.tenant_id JOIN contracts c ON c.id = t.contract_id AND c.chain_id = $1 AND c.address = $2
     ON CONFLICT (tenant_id, effective_from, plan_version_id) WHERE kind = 'plan' DO NOTHING`,
    meter,
  );
  const documents = await db.query(
    `INSERT INTO anchor_jobs (tenant_id, kind, document_seq, hash)
     SELECT d.tenant_id, 'document', d.seq, d.content_hash
       FROM billing_documents d
       JOIN tenants t ON t.id = d.tenant_id JOIN contracts c ON c.id = t.contract_id AND c.chain_id = $1 AND c.address = $2
     ON CONFLICT (tenant_id, document_seq) WHERE kind = 'document' DO NOTHING`,
    meter,
  );
  return (plans.rowCount ?? 0) + (documents.rowCount ?? 0);
}

interface JobRow {
  id: string;
  tenant_id: string;
  onchain_id: number;
  kind: "plan" | "document";
  status: AnchorJobStatus;
  hash: Buffer;
  effective_from: Date | null;
  document_seq: number | null;
  doc_kind: "invoice" | "credit_note" | null;
  number: number | null;
  period_start: Date | null;
  period_end: Date | null;
  previous_hash: Buffer | null;
  nonce: string | null;
  raw_tx: Buffer | null;
  tx_hash: Buffer | null;
  block_number: string | null;
  block_hash: Buffer | null;
  confirmed: boolean;
  attempts: number;
}

function toJob(r: JobRow): AnchorJob {
  return {
    id: r.id,
    tenantId: r.tenant_id,
    onchainTenantId: r.onchain_id,
    kind: r.kind,
    status: r.status,
    hash: toHex(r.hash),
    effectiveFrom: r.effective_from,
    document:
      r.kind === "document"
        ? { seq: r.document_seq!, kind: r.doc_kind!, number: r.number!, periodStart: r.period_start!, periodEnd: r.period_end!, previousHash: toHex(r.previous_hash!) }
        : null,
    nonce: r.nonce === null ? null : BigInt(r.nonce),
    rawTx: r.raw_tx ? toHex(r.raw_tx) : null,
    txHash: r.tx_hash ? toHex(r.tx_hash) : null,
    blockNumber: r.block_number === null ? null : BigInt(r.block_number),
    blockHash: r.block_hash ? toHex(r.block_hash) : null,
    confirmed: r.confirmed,
    attempts: r.attempts,
  };
}

/**
 * Jobs with work left: pending, sent, or anchored but not yet confirmed. Plans first (a plan must
 * be public before it prices anything), then each tenant's documents in chain order.
 */
export async function openAnchorJobs(db: Queryable): Promise<AnchorJob[]> {
  const { rows } = await db.query<JobRow>(
    `SELECT j.id::text AS id, j.tenant_id::text AS tenant_id, t.onchain_id, j.kind, j.status, j.hash, j.effective_from, j.document_seq,
            d.kind AS doc_kind, d.number, d.period_start, d.period_end, d.previous_hash,
            j.nonce::text AS nonce, j.raw_tx, j.tx_hash, j.block_number::text AS block_number, j.block_hash, j.confirmed, j.attempts
       FROM anchor_jobs j
       JOIN tenants t ON t.id = j.tenant_id
       LEFT JOIN billing_documents d ON d.tenant_id = j.tenant_id AND d.seq = j.document_seq
      WHERE j.status IN ('pending', 'sent') OR (j.status = 'anchored' AND NOT j.confirmed)
      ORDER BY j.kind DESC, j.tenant_id, j.effective_from, j.document_seq`,
  );
  return rows.map(toJob);
}

/** Journals the signed transaction: after this commits, only this transaction may anchor the job. False when already journaled. */
export async function journalAnchorTx(
  db: Queryable,
  jobId: string,
  tx: { anchor: string; signer: string; nonce: bigint; rawTx: string; txHash: string },
): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE anchor_jobs SET status = 'sent', anchor_address = $2, signer = $3, nonce = $4, raw_tx = $5, tx_hash = $6,
            block_number = NULL, block_hash = NULL, confirmed = false, attempts = attempts + 1, last_error = NULL, updated_at = now()
      WHERE id = $1 AND status = 'pending'`,
    [jobId, fromHex(tx.anchor), fromHex(tx.signer), tx.nonce.toString(), fromHex(tx.rawTx), fromHex(tx.txHash)],
  );
  // False: another pass journaled this job first (its transaction, not this one, is the job's).
  return rowCount === 1;
}

/** The anchor event of the job is in `block` (from its own transaction or, after a crash, found on chain). */
export async function markAnchored(db: Queryable, jobId: string, block: { number: bigint; hash: string; txHash: string }): Promise<void> {
  await db.query(
    `UPDATE anchor_jobs SET status = 'anchored', block_number = $2, block_hash = $3,
            tx_hash = CASE WHEN raw_tx IS NULL THEN $4 ELSE tx_hash END, last_error = NULL, updated_at = now()
      WHERE id = $1`,
    [jobId, block.number.toString(), fromHex(block.hash), fromHex(block.txHash)],
  );
}

export async function markConfirmed(db: Queryable, jobId: string): Promise<void> {
  await db.query("UPDATE anchor_jobs SET confirmed = true, updated_at = now() WHERE id = $1 AND status = 'anchored'", [jobId]);
}

/** The block that held the anchor left the chain: the journaled transaction is to be sent again. */
export async function markReorged(db: Queryable, jobId: string): Promise<void> {
  await db.query(
    `UPDATE anchor_jobs SET status = CASE WHEN raw_tx IS NULL THEN 'pending' ELSE 'sent' END, block_number = NULL, block_hash = NULL,
            tx_hash = CASE WHEN raw_tx IS NULL THEN NULL ELSE tx_hash END, confirmed = false, last_error = 'anchor block left the chain', updated_at = now()
      WHERE id = $1`,
    [jobId],
  );
}

/** The journaled transaction can never land (its nonce went to another, or it reverted): sign anew. */
export async function releaseAnchorTx(db: Queryable, jobId: string, error: string): Promise<void> {
  await db.query(
    `UPDATE anchor_jobs SET status = 'pending', anchor_address = NULL, signer = NULL, nonce = NULL, raw_tx = NULL, tx_hash = NULL,
            block_number = NULL, block_hash = NULL, confirmed = false, last_error = $2, updated_at = now()
      WHERE id = $1`,
    [jobId, error],
  );
}

export async function markUnanchorable(db: Queryable, jobId: string, reason: string): Promise<void> {
  await db.query("UPDATE anchor_jobs SET status = 'unanchorable', reason = $2, updated_at = now() WHERE id = $1 AND status = 'pending'", [jobId, reason]);
}

export async function recordAnchorError(db: Queryable, jobId: string, error: string): Promise<void> {
  await db.query("UPDATE anchor_jobs SET last_error = $2, updated_at = now() WHERE id = $1", [jobId, error]);
}

/** The highest nonce journaled by `signer` for a transaction not known to be mined (next nonce floor). */
export async function highestJournaledNonce(db: Queryable, signer: string): Promise<bigint | null> {
  const { rows } = await db.query<{ nonce: string | null }>("SELECT max(nonce)::text AS nonce FROM anchor_jobs WHERE signer = $1 AND status = 'sent'", [fromHex(signer)]);
  return rows[0]?.nonce ? BigInt(rows[0].nonce) : null;
}

/** Jobs by kind and status, for metrics. */
export async function anchorJobCounts(db: Queryable): Promise<Array<{ kind: "plan" | "document"; status: AnchorJobStatus; count: number }>> {
  const { rows } = await db.query<{ kind: "plan" | "document"; status: AnchorJobStatus; count: number }>(
    "SELECT kind, status, count(*)::int AS count FROM anchor_jobs GROUP BY kind, status",
  );
  return rows;
}
