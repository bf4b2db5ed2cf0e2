import { createHash } from "node:crypto";
import type pg from "pg";
import { BillingError } from "./errors";
import { canonicalJson, compareRecordRefs, invoiceContentHash, type InvoiceContent, type InvoiceLineContent } from "../rating/content-hash";
import { fromHex, toHex } from "../chain/hex";
import { INVOICE_COLUMNS, loadInvoiceContent, toRef, type InvoiceRow, type RecordRow } from "./store/invoice-store";
import { buildLines } from "../rating/lines";
import { enqueueEvent } from "../webhooks/outbox";
import { aggregate, combineAggregates, type Aggregation } from "../rating/aggregation";
import { adjustmentAmountMinor } from "../rating/pricing";
import { invoiceSnapshotSchema, type PlanSnapshot } from "../rating/snapshot";
import { loadPlanSnapshot, planVersionFor } from "./store/plans";

type Client = pg.PoolClient;

/** Records not yet on any finalized invoice (the SQL fragment is reused by several queries). */
const NOT_BILLED = `NOT EXISTS (
  SELECT 1 FROM invoice_line_records lr
    JOIN invoice_lines l ON l.id = lr.line_id
    JOIN invoices i ON i.id = l.invoice_id AND i.status = 'finalized'
   WHERE lr.chain_id = r.chain_id AND lr.tx_hash = r.tx_hash AND lr.log_index = r.log_index
     AND lr.record_index = r.record_index)`;

/** Unbilled records of a tenant in [from, to) by usage time, at or below `maxBlock` when given. */
async function unbilledRecords(client: Client, tenantId: string, from: Date, to: Date, maxBlock: bigint | null): Promise<RecordRow[]> {
  const { rows } = await client.query<RecordRow>(
    `SELECT r.chain_id, r.tx_hash, r.log_index, r.record_index, r.commitment, r.block_number, r.meter_id,
            r.period_start, r.period_end, r.quantity
       FROM usage_records r
      WHERE r.tenant_id = $1 AND r.period_start >= $2 AND r.period_start < $3
        AND ($4::bigint IS NULL OR r.block_number <= $4) AND ${NOT_BILLED}`,
    [tenantId, from, to, maxBlock === null ? null : maxBlock.toString()],
  );
  return rows;
}

function groupByMeter(records: RecordRow[]): Map<number, RecordRow[]> {
  const m = new Map<number, RecordRow[]>();
  for (const r of records) m.set(r.meter_id, [...(m.get(r.meter_id) ?? []), r]);
  return new Map([...m.entries()].sort(([a], [b]) => a - b));
}

function meterInfo(plan: PlanSnapshot, meterId: number): { aggregation: Aggregation; label: string } {
  const m = plan.meters.find((x) => x.meterId === meterId);
  return { aggregation: m?.aggregation ?? "SUM", label: m ? `${m.displayName} (${m.unit})` : `meter ${meterId}` };
}

/** Finalized invoices whose late usage goes on `draft`: the first draft starting at or after their end. */
async function adjustmentSources(client: Client, draft: InvoiceRow): Promise<InvoiceRow[]> {
  const { rows } = await client.query<InvoiceRow>(
    `SELECT ${INVOICE_COLUMNS} FROM invoices f
      WHERE f.tenant_id = $1 AND f.status = 'finalized' AND f.period_end <= $2
        AND NOT EXISTS (SELECT 1 FROM invoices d WHERE d.tenant_id = f.tenant_id AND d.status = 'draft'
                         AND d.period_start >= f.period_end AND d.period_start < $2)
      ORDER BY f.period_start`,
    [draft.tenant_id, draft.period_start],
  );
  return rows;
}

/** Aggregate already billed (on finalized invoices) for a meter's usage in [from, to). */
async function billedBase(client: Client, tenantId: string, meterId: number, from: Date, to: Date, aggregation: Aggregation): Promise<bigint> {
  const { rows } = await client.query<{ quantity: string }>(
    `SELECT lr.quantity FROM invoice_line_records lr
       JOIN invoice_lines l ON l.id = lr.line_id
       JOIN invoices i ON i.id = l.invoice_id AND i.status = 'finalized'
      WHERE lr.tenant_id = $1 AND lr.meter_id = $2 AND lr.period_start >= $3 AND lr.period_start < $4`,
    [tenantId, meterId, from, to],
  );
  return aggregate(aggregation, rows.map((r) => BigInt(r.quantity)));
}

/**
 * Recomputes a draft from the records: usage lines, adjustment lines for late usage of finalized
 * periods, and the minimum line. With `maxBlock` only records at or below it count (finalization).
 * Returns the content (number/finalizedAt unset); the rows are rewritten only when it changed.
 */
export async function rebuildDraft(client: Client, draft: InvoiceRow, maxBlock: bigint | null): Promise<InvoiceContent | null> {
  const period = { start: draft.period_start, end: draft.period_end };
  const planVersionId = (await planVersionFor(client, draft.tenant_id, period)) ?? draft.plan_version_id;
  const plan = await loadPlanSnapshot(client, draft.tenant_id, planVersionId);
  const exponent = plan.currencyExponent;
  const sources = await adjustmentSources(client, draft);
  const fingerprint = await sourceFingerprint(client, draft, plan, sources, maxBlock);
  // Unchanged inputs give unchanged content: skip the expensive part (most passes, most drafts).
  if (maxBlock === null && draft.source_fingerprint === fingerprint) return null;

  const usageRecords = groupByMeter(await unbilledRecords(client, draft.tenant_id, period.start, period.end, maxBlock));
  const usage = [...usageRecords.entries()].map(([meterId, rs]) => ({
    meterId,
    quantity: aggregate(meterInfo(plan, meterId).aggregation, rs.map((r) => BigInt(r.quantity))),
  }));
  const built = buildLines({ prices: plan.prices, usage, minimumMinor: BigInt(plan.minimumMinor), currencyExponent: exponent });

  const lines: InvoiceLineContent[] = [];
  for (const l of built.lines) {
    if (l.kind !== "usage" || l.meterId === null) continue;
    const info = meterInfo(plan, l.meterId);
    lines.push({
      lineNo: lines.length + 1,
      kind: "usage",
      meterId: l.meterId,
      description: info.label,
      aggregation: info.aggregation,
      quantity: l.quantity.toString(),
      baseQuantity: null,
      amountMinor: l.amountMinor.toString(),
      adjustsPeriodStart: null,
      adjustsPeriodEnd: null,
      planVersionId: plan.versionId,
      records: (usageRecords.get(l.meterId) ?? []).map(toRef).sort(compareRecordRefs),
    });
  }

  const adjustmentPlans = new Map<string, PlanSnapshot>();
  for (const source of sources) {
    const sourcePlan = invoiceSnapshotSchema.parse(source.plan_snapshot).plan;
    const late = groupByMeter(await unbilledRecords(client, draft.tenant_id, source.period_start, source.period_end, maxBlock));
    for (const [meterId, rs] of late) {
      const info = meterInfo(sourcePlan, meterId);
      const base = await billedBase(client, draft.tenant_id, meterId, source.period_start, source.period_end, info.aggregation);
      const total = combineAggregates(info.aggregation, base, aggregate(info.aggregation, rs.map((r) => BigInt(r.quantity))));
      const price = sourcePlan.prices.find((p) => p.meterId === meterId);
      if (sourcePlan.versionId !== plan.versionId) adjustmentPlans.set(sourcePlan.versionId, sourcePlan);
      lines.push({
        lineNo: lines.length + 1,
        kind: "adjustment",
        meterId,
        description: `Late usage: ${info.label}, ${source.period_start.toISOString()} to ${source.period_end.toISOString()}`,
        aggregation: info.aggregation,
        quantity: total.toString(),
        baseQuantity: base.toString(),
        amountMinor: (price ? adjustmentAmountMinor(price, base, total, sourcePlan.currencyExponent) : 0n).toString(),
        adjustsPeriodStart: source.period_start.toISOString(),
        adjustsPeriodEnd: source.period_end.toISOString(),
        planVersionId: sourcePlan.versionId,
        records: rs.map(toRef).sort(compareRecordRefs),
      });
    }
  }

  const minimum = built.lines.find((l) => l.kind === "minimum");
  if (minimum) {
    lines.push({
      lineNo: lines.length + 1,
      kind: "minimum",
      meterId: null,
      description: "Minimum charge",
      aggregation: null,
      quantity: "0",
      baseQuantity: null,
      amountMinor: minimum.amountMinor.toString(),
      adjustsPeriodStart: null,
      adjustsPeriodEnd: null,
      planVersionId: plan.versionId,
      records: [],
    });
  }

  const content: InvoiceContent = {
    tenantId: draft.tenant_id,
    invoiceId: draft.id,
    number: null,
    periodStart: draft.period_start.toISOString(),
    periodEnd: draft.period_end.toISOString(),
    timeZone: draft.time_zone,
    currency: plan.currency,
    currencyExponent: exponent,
    totalMinor: lines.reduce((a, l) => a + BigInt(l.amountMinor), 0n).toString(),
    confirmedBlock: maxBlock === null ? null : maxBlock.toString(),
    finalizedAt: null,
    planSnapshot: { plan, adjustmentPlans: [...adjustmentPlans.values()] },
    lines,
  };
  const draftHash = invoiceContentHash(content);
  if (draft.content_hash && toHex(draft.content_hash) === draftHash) {
    await client.query("UPDATE invoices SET source_fingerprint = $2 WHERE id = $1 AND status = 'draft'", [draft.id, fingerprint]);
    return content;
  }
  await writeDraft(client, draft.id, content, draftHash, fingerprint);
  return content;
}

/**
 * A digest of everything a draft is computed from: the plan snapshot, the adjustment sources, the
 * latest finalized invoice (billed bases change only when one is finalized), the block filter,
 * and an order-independent hash of the unbilled records in the draft's and the sources' periods,
 * aggregated in SQL so no record leaves the database.
 */
async function sourceFingerprint(client: Client, draft: InvoiceRow, plan: PlanSnapshot, sources: InvoiceRow[], maxBlock: bigint | null): Promise<string> {
  const periods = [draft, ...sources];
  const { rows } = await client.query<{ n: string; h: string; f: string }>(
    `SELECT count(*)::text AS n,
            coalesce(sum(hashtextextended(
              encode(r.tx_hash, 'hex') || ':' || r.log_index || ':' || r.record_index || ':' || r.meter_id || ':' || r.quantity
              || ':' || extract(epoch FROM r.period_start) || ':' || extract(epoch FROM r.period_end) || ':' || r.block_number
              || ':' || encode(r.commitment, 'hex') || ':' || r.chain_id, 0)::numeric), 0)::text AS h,
            (SELECT coalesce(max(id), 0) FROM invoices WHERE tenant_id = $1 AND status = 'finalized')::text AS f
       FROM usage_records r
      WHERE r.tenant_id = $1
        AND EXISTS (SELECT 1 FROM unnest($2::timestamptz[], $3::timestamptz[]) AS p(s, e) WHERE r.period_start >= p.s AND r.period_start < p.e)
        AND ($4::bigint IS NULL OR r.block_number <= $4) AND ${NOT_BILLED}`,
    [draft.tenant_id, periods.map((p) => p.period_start), periods.map((p) => p.period_end), maxBlock === null ? null : maxBlock.toString()],
  );
  return createHash("sha256")
    .update(canonicalJson({ plan, sources: sources.map((s) => s.id), maxBlock: maxBlock?.toString() ?? null, records: rows[0] }))
    .digest("hex");
}

async function writeDraft(client: Client, invoiceId: string, content: InvoiceContent, draftHash: string, fingerprint: string): Promise<void> {
  await client.query("DELETE FROM invoice_lines WHERE invoice_id = $1", [invoiceId]);
  for (const l of content.lines) {
    const { rows } = await client.query<{ id: string }>(
      `INSERT INTO invoice_lines (tenant_id, invoice_id, line_no, kind, meter_id, description, aggregation, quantity,
                                  base_quantity, amount_minor, adjusts_period_start, adjusts_period_end, plan_version_id)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id`,
      [content.tenantId, invoiceId, l.lineNo, l.kind, l.meterId, l.description, l.aggregation, l.quantity, l.baseQuantity,
        l.amountMinor, l.adjustsPeriodStart, l.adjustsPeriodEnd, l.planVersionId],
    );
    const lineId = rows[0]?.id;
    if (l.records.length === 0 || lineId === undefined) continue;
    await client.query(
      `INSERT INTO invoice_line_records (tenant_id, line_id, chain_id, tx_hash, log_index, record_index, commitment,
                                         block_number, meter_id, period_start, period_end, quantity)
       SELECT $1, $2, * FROM unnest($3::bigint[], $4::bytea[], $5::int[], $6::int[], $7::bytea[], $8::bigint[],
                                    $9::int[], $10::timestamptz[], $11::timestamptz[], $12::numeric[])`,
      [
        content.tenantId,
        lineId,
        l.records.map((r) => r.chainId),
        l.records.map((r) => fromHex(r.txHash)),
        l.records.map((r) => r.logIndex),
        l.records.map((r) => r.recordIndex),
        l.records.map((r) => fromHex(r.commitment)),
        l.records.map((r) => r.blockNumber),
        l.records.map((r) => r.meterId),
        l.records.map((r) => r.periodStart),
        l.records.map((r) => r.periodEnd),
        l.records.map((r) => r.quantity),
      ],
    );
  }
  await client.query(
    `UPDATE invoices SET plan_version_id = $2, plan_snapshot = $3, currency = $4, currency_exponent = $5,
            total_minor = $6, content_hash = $7, confirmed_block = $8, source_fingerprint = $9, updated_at = now()
      WHERE id = $1 AND status = 'draft'`,
    [invoiceId, content.planSnapshot.plan.versionId, JSON.stringify(content.planSnapshot), content.currency, content.currencyExponent,
      content.totalMinor, fromHex(draftHash), content.confirmedBlock, fingerprint],
  );
}

/**
 * Finalizes a draft in the caller's transaction: recomputes it from confirmed usage only, takes the
 * tenant's next invoice number (gap-free: the counter rolls back with the transaction), stores the
 * content hash and records invoice.finalized in the outbox.
 */
export async function finalizeDraft(client: Client, draft: InvoiceRow, confirmedBlock: bigint, now: Date): Promise<InvoiceContent> {
  await rebuildDraft(client, draft, confirmedBlock);
  const { rows } = await client.query<{ last_number: number }>(
    `INSERT INTO invoice_counters (tenant_id, last_number) VALUES ($1, 1)
     ON CONFLICT (tenant_id) DO UPDATE SET last_number = invoice_counters.last_number + 1
     RETURNING last_number`,
    [draft.tenant_id],
  );
  const number = rows[0]?.last_number;
  if (number === undefined) throw new BillingError("invoice counter did not return a number");
  const loaded = await loadInvoiceContent(client, draft.id);
  if (!loaded) throw new BillingError(`invoice ${draft.id} vanished`);
  const content: InvoiceContent = { ...loaded.content, number, finalizedAt: now.toISOString(), confirmedBlock: confirmedBlock.toString() };
  const contentHash = invoiceContentHash(content);
  await client.query(
    `UPDATE invoices SET status = 'finalized', number = $2, finalized_at = $3, confirmed_block = $4, content_hash = $5, updated_at = $3
      WHERE id = $1 AND status = 'draft'`,
    [draft.id, number, now, confirmedBlock.toString(), fromHex(contentHash)],
  );
  await enqueueEvent(client, draft.tenant_id, "invoice.finalized", `invoice.finalized:${draft.id}`, {
    tenantId: draft.tenant_id,
    invoiceId: draft.id,
    number,
    periodStart: content.periodStart,
    periodEnd: content.periodEnd,
    currency: content.currency,
    totalMinor: content.totalMinor,
    contentHash,
  });
  return { ...content };
}
