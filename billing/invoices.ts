/**
 * Draft invoices and their finalization. A draft is recomputed from billable records whenever its
 * inputs change; finalization recomputes it once more from confirmed usage only, numbers it, hashes
 * it and freezes it. Billable means: on the indexed chain, not a duplicate, not excluded, and not
 * charged by a finalized invoice (net of credit notes), all keyed on record identity.
 */
import { createHash } from "node:crypto";
import { aggregate, combineAggregates, DEFAULT_AGGREGATION, type Aggregation } from "../rating/aggregation";
import { compareCitations } from "../rating/citation";
import { canonicalJson } from "../rating/document-hash";
import { invoiceContentHash, type InvoiceContent, type InvoiceLineContent } from "../rating/invoice";
import { buildLines } from "../rating/lines";
import { adjustmentAmountMinor } from "../rating/pricing";
import { invoiceSnapshotSchema, type PlanSnapshot } from "../rating/snapshot";
import { enqueueEvent } from "../webhooks/outbox";
import { BillingError } from "./errors";
import {
  adjustmentSources,
  loadInvoiceContent,
  markFinalized,
  nextInvoiceNumber,
  setFingerprint,
  writeDraftContent,
  type InvoiceRow,
  type Tx,
} from "./store/invoice-store";
import { loadPlanSnapshot, planVersionFor } from "./store/plans";
import { billableDigest, billableRecords, chargedQuantities, chargeMarker, toCitation, type RecordRow } from "./store/records";
import { appendDocument, chainHead, lockTenantBilling } from "./store/documents";
import type { TenantParties } from "./store/tenants";

function groupByMeter(records: RecordRow[]): Map<number, RecordRow[]> {
  const m = new Map<number, RecordRow[]>();
  for (const r of records) m.set(r.meter_id, [...(m.get(r.meter_id) ?? []), r]);
  return new Map([...m.entries()].sort(([a], [b]) => a - b));
}

function meterInfo(plan: PlanSnapshot, meterId: number): { aggregation: Aggregation; label: string } {
  const m = plan.meters.find((x) => x.meterId === meterId);
  return { aggregation: m?.aggregation ?? DEFAULT_AGGREGATION, label: m ? `${m.displayName} (${m.unit})` : `meter ${meterId}` };
}

const quantities = (rs: readonly RecordRow[]) => rs.map((r) => BigInt(r.quantity));
const citations = (rs: readonly RecordRow[]) => rs.map(toCitation).sort(compareCitations);

/**
 * Recomputes a draft: usage lines for the period, adjustment lines for late usage of finalized
 * periods (priced on top of what those periods charge now, with their own plan), and the minimum
 * line. With `maxBlock` only records at or below it count (finalization). Returns the content, or
 * null when the inputs did not change since the last rebuild (most passes, most drafts).
 */
export async function rebuildDraft(client: Tx, draft: InvoiceRow, parties: TenantParties, maxBlock: bigint | null): Promise<InvoiceContent | null> {
  const tenantId = draft.tenant_id;
  const period = { start: draft.period_start, end: draft.period_end };
  const planVersionId = (await planVersionFor(client, tenantId, period)) ?? draft.plan_version_id;
  const plan = await loadPlanSnapshot(client, tenantId, planVersionId);
  const sources = await adjustmentSources(client, draft);
  const periods = [period, ...sources.map((s) => ({ start: s.period_start, end: s.period_end }))];
  const fingerprint = createHash("sha256")
    .update(
      canonicalJson({
        plan: plan.versionId,
        sources: sources.map((s) => s.id),
        maxBlock: maxBlock?.toString() ?? null,
        records: await billableDigest(client, tenantId, periods, maxBlock),
        charged: await chargeMarker(client, tenantId),
      }),
    )
    .digest("hex");
  if (maxBlock === null && draft.source_fingerprint === fingerprint) return null;

  const usageRecords = groupByMeter(await billableRecords(client, tenantId, period.start, period.end, maxBlock));
  const usage = [...usageRecords.entries()].map(([meterId, rs]) => ({ meterId, quantity: aggregate(meterInfo(plan, meterId).aggregation, quantities(rs)) }));
  const built = buildLines({ prices: plan.prices, usage, minimumMinor: BigInt(plan.minimumMinor), currencyExponent: plan.currencyExponent });

  const lines: InvoiceLineContent[] = [];
  const line = (l: Omit<InvoiceLineContent, "lineNo">) => lines.push({ lineNo: lines.length + 1, ...l });
  for (const l of built.lines) {
    if (l.kind !== "usage" || l.meterId === null) continue;
    const info = meterInfo(plan, l.meterId);
    line({
      kind: "usage",
      meterId: l.meterId,
      description: info.label,
      aggregation: info.aggregation,
      quantity: l.quantity.toString(),
      baseQuantity: null,
      amountMinor: l.amountMinor.toString(),
      adjustsPeriodStart: null,
      adjustsPeriodEnd: null,
      adjustsInvoiceNumber: null,
      planVersionId: plan.versionId,
      records: citations(usageRecords.get(l.meterId) ?? []),
    });
  }

  const adjustmentPlans = new Map<string, PlanSnapshot>();
  for (const source of sources) {
    const sourcePlan = invoiceSnapshotSchema.parse(source.plan_snapshot).plan;
    const late = groupByMeter(await billableRecords(client, tenantId, source.period_start, source.period_end, maxBlock));
    for (const [meterId, rs] of late) {
      const info = meterInfo(sourcePlan, meterId);
      const base = aggregate(info.aggregation, await chargedQuantities(client, tenantId, meterId, source.period_start, source.period_end));
      const total = combineAggregates(info.aggregation, base, aggregate(info.aggregation, quantities(rs)));
      const price = sourcePlan.prices.find((p) => p.meterId === meterId);
      if (sourcePlan.versionId !== plan.versionId) adjustmentPlans.set(sourcePlan.versionId, sourcePlan);
      line({
        kind: "adjustment",
        meterId,
        description: `Late usage: ${info.label}, ${source.period_start.toISOString()} to ${source.period_end.toISOString()}`,
        aggregation: info.aggregation,
        quantity: total.toString(),
        baseQuantity: base.toString(),
        amountMinor: (price ? adjustmentAmountMinor(price, base, total, sourcePlan.currencyExponent) : 0n).toString(),
        adjustsPeriodStart: source.period_start.toISOString(),
        adjustsPeriodEnd: source.period_end.toISOString(),
        adjustsInvoiceNumber: source.number,
        planVersionId: sourcePlan.versionId,
        records: citations(rs),
      });
    }
  }

  const minimum = built.lines.find((l) => l.kind === "minimum");
  if (minimum) {
    line({
      kind: "minimum",
      meterId: null,
      description: "Minimum charge",
      aggregation: null,
      quantity: "0",
      baseQuantity: null,
      amountMinor: minimum.amountMinor.toString(),
      adjustsPeriodStart: null,
      adjustsPeriodEnd: null,
      adjustsInvoiceNumber: null,
      planVersionId: plan.versionId,
      records: [],
    });
  }

  const content: InvoiceContent = {
    deployment: parties.deployment,
    tenant: parties.tenant,
    invoiceId: draft.id,
    number: null,
    replacesInvoiceNumber: null,
    previousDocumentHash: null,
    periodStart: draft.period_start.toISOString(),
    periodEnd: draft.period_end.toISOString(),
    timeZone: draft.time_zone,
    currency: plan.currency,
    currencyExponent: plan.currencyExponent,
    totalMinor: lines.reduce((a, l) => a + BigInt(l.amountMinor), 0n).toString(),
    confirmedBlock: maxBlock === null ? null : maxBlock.toString(),
    finalizedAt: null,
    planSnapshot: { plan, adjustmentPlans: [...adjustmentPlans.values()] },
    lines,
  };
  const draftHash = invoiceContentHash(content);
  if (draft.content_hash && `0x${draft.content_hash.toString("hex")}` === draftHash) {
    await setFingerprint(client, draft.id, fingerprint);
    return content;
  }
  await writeDraftContent(client, tenantId, content, draftHash, fingerprint);
  return content;
}

/**
 * Finalizes a draft in the caller's transaction: recomputes it from confirmed usage only, takes the
 * tenant's next invoice number (gap-free: the counter rolls back with the transaction), stores the
 * content hash and records invoice.finalized in the outbox.
 */
export async function finalizeDraft(client: Tx, draft: InvoiceRow, parties: TenantParties, confirmedBlock: bigint, now: Date): Promise<InvoiceContent> {
  await lockTenantBilling(client, draft.tenant_id);
  await rebuildDraft(client, draft, parties, confirmedBlock);
  const number = await nextInvoiceNumber(client, draft.tenant_id);
  const loaded = await loadInvoiceContent(client, draft.id, parties);
  if (!loaded) throw new BillingError(`invoice ${draft.id} vanished`);
  const head = await chainHead(client, draft.tenant_id);
  const content: InvoiceContent = { ...loaded.content, number, finalizedAt: now.toISOString(), confirmedBlock: confirmedBlock.toString(), previousDocumentHash: head.hash };
  const contentHash = invoiceContentHash(content);
  await markFinalized(client, draft.id, { number, at: now, confirmedBlock, contentHash });
  await appendDocument(client, draft.tenant_id, {
    kind: "invoice",
    documentId: draft.id,
    number,
    periodStart: draft.period_start,
    periodEnd: draft.period_end,
    contentHash,
    previousHash: head.hash,
  });
  await enqueueEvent(client, draft.tenant_id, "invoice.finalized", `invoice.finalized:${draft.id}`, {
    tenantId: draft.tenant_id,
    invoiceId: draft.id,
    number,
    replacesInvoiceNumber: content.replacesInvoiceNumber,
    periodStart: content.periodStart,
    periodEnd: content.periodEnd,
    currency: content.currency,
    totalMinor: content.totalMinor,
    contentHash,
  });
  return content;
}
