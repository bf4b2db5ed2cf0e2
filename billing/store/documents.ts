/**
 * billing_documents and plan_assignments: each tenant's chain of issued documents and the plan
 * versions it is billed under, in the order the platform must anchor them on chain.
 */
import { fromHex, toHex } from "../../chain/hex";
import type { Queryable } from "./records";

export const ZERO_HASH = `0x${"00".repeat(32)}`;

/** Serializes everything that extends a tenant's document chain (billing passes, corrections). */
export async function lockTenantBilling(db: Queryable, tenantId: string): Promise<void> {
  await db.query("SELECT pg_advisory_xact_lock(7216310, $1::int)", [Number(tenantId) | 0]);
}

/** The tenant's last document (its content hash and sequence), or the zero hash before the first. */
export async function chainHead(db: Queryable, tenantId: string): Promise<{ seq: number; hash: string }> {
  const { rows } = await db.query<{ seq: number; content_hash: Buffer }>(
    "SELECT seq, content_hash FROM billing_documents WHERE tenant_id = $1 ORDER BY seq DESC LIMIT 1",
    [tenantId],
  );
  return rows[0] ? { seq: rows[0].seq, hash: toHex(rows[0].content_hash) } : { seq: 0, hash: ZERO_HASH };
}

export interface ChainedDocument {
  kind: "invoice" | "credit_note";
  documentId: string;
  number: number;
  periodStart: Date;
  periodEnd: Date;
  contentHash: string;
  previousHash: string;
}

/** Appends a document after `previousHash`, which must be the head (the caller holds the tenant's lock). */
export async function appendDocument(db: Queryable, tenantId: string, d: ChainedDocument): Promise<void> {
  await db.query(
    `INSERT INTO billing_documents (tenant_id, seq, kind, invoice_id, credit_note_id, number, period_start, period_end, content_hash, previous_hash)
     SELECT $1, coalesce(max(seq), 0) + 1, $2, $3, $4, $5, $6, $7, $8, $9 FROM billing_documents WHERE tenant_id = $1`,
    [tenantId, d.kind, d.kind === "invoice" ? d.documentId : null, d.kind === "credit_note" ? d.documentId : null, d.number, d.periodStart, d.periodEnd,
      fromHex(d.contentHash), fromHex(d.previousHash)],
  );
}

/** The previous-document hash a finalized invoice was chained with (null for a draft). */
export async function previousHashOfInvoice(db: Queryable, invoiceId: string): Promise<string | null> {
  const { rows } = await db.query<{ previous_hash: Buffer }>("SELECT previous_hash FROM billing_documents WHERE invoice_id = $1", [invoiceId]);
  return rows[0] ? toHex(rows[0].previous_hash) : null;
}

/** The tenant's documents before a finalized invoice in its chain, oldest first (none when it is not in the chain). */
export async function documentsBefore(db: Queryable, tenantId: string, invoiceId: string): Promise<Array<{ kind: "invoice" | "credit_note"; documentId: string; contentHash: string }>> {
  const { rows } = await db.query<{ kind: "invoice" | "credit_note"; document_id: string; content_hash: Buffer }>(
    `SELECT d.kind, coalesce(d.invoice_id, d.credit_note_id)::text AS document_id, d.content_hash
       FROM billing_documents d
      WHERE d.tenant_id = $1 AND d.seq < (SELECT seq FROM billing_documents WHERE tenant_id = $1 AND invoice_id = $2)
      ORDER BY d.seq`,
    [tenantId, invoiceId],
  );
  return rows.map((r) => ({ kind: r.kind, documentId: r.document_id, contentHash: toHex(r.content_hash) }));
}

/**
 * Records which plan version prices the tenant from when: the version in force at each
 * subscription's start, and every later version of a subscribed plan from its own effective
 * time, within the subscription. Idempotent; returns how many assignments are new.
 */
export async function recordPlanAssignments(db: Queryable, tenantId: string): Promise<number> {
  const { rowCount } = await db.query(
    `INSERT INTO plan_assignments (tenant_id, plan_version_id, effective_from, plan_hash)
     SELECT s.tenant_id, v.id, greatest(v.effective_from, s.starts_at), v.snapshot_hash
       FROM subscriptions s
       JOIN rate_plan_versions v ON v.plan_id = s.plan_id AND v.snapshot_hash IS NOT NULL
      WHERE s.tenant_id = $1
        AND (s.ends_at IS NULL OR greatest(v.effective_from, s.starts_at) < s.ends_at)
        -- the version in force at the subscription's start, and every later one
        AND (v.effective_from > s.starts_at OR v.effective_from = (SELECT max(w.effective_from) FROM rate_plan_versions w
                                                                  WHERE w.plan_id = s.plan_id AND w.effective_from <= s.starts_at))
     ON CONFLICT DO NOTHING`,
    [tenantId],
  );
  return rowCount ?? 0;
}
