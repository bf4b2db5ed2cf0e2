/**
 * One billing pass over every tenant: quota alerts, reconciliation of invoiced usage with the
 * indexed chain (reorgs), drafts for the current period and for every period with billable usage,
 * and finalization of drafts whose period ended more than the grace ago. Each tenant runs in its
 * own transaction under an advisory lock, so concurrent workers never interleave and a crash leaves
 * each tenant either before or after its pass.
 */
import type pg from "pg";
import { withTransaction } from "../db/connection";
import { periodContaining, type BillingPeriod } from "../rating/periods";
import { finalizeDraft, rebuildDraft } from "./invoices";
import { evaluateQuotas, type QuotaAlert } from "./store/quotas";
import { creditReorgedRecords, type ReorgCredit } from "./reorgs";
import { draftsOf, hasInvoiceFor, insertDraft, type Tx } from "./store/invoice-store";
import { loadPlanSnapshot, planVersionFor } from "./store/plans";
import { periodsWithBillableUsage } from "./store/records";
import { chainProgress, listTenantIds, loadTenantParties } from "./store/tenants";
import { lockTenantBilling } from "./store/documents";
import { refreshBillingStatistics } from "./store/statistics";

export interface BillingRunOptions {
  /** Blocks below the indexer checkpoint after which usage counts as final. */
  confirmations: number;
  /** How long after a period ends its invoice stays a draft (late reveals still land on it). */
  graceMs: number;
}

export const DEFAULT_BILLING_OPTIONS: BillingRunOptions = { confirmations: 12, graceMs: 24 * 3_600_000 };

export interface BillingRunResult {
  tenants: number;
  draftsUpdated: number;
  finalized: Array<{ tenantId: string; invoiceId: string; number: number }>;
  alerts: QuotaAlert[];
  reorgCredits: Array<ReorgCredit & { tenantId: string }>;
}

export async function runBillingOnce(db: { pool: pg.Pool }, now: Date, options: Partial<BillingRunOptions> = {}): Promise<BillingRunResult> {
  const opts = { ...DEFAULT_BILLING_OPTIONS, ...options };
  const tenants = await listTenantIds(db.pool);
  const result: BillingRunResult = { tenants: tenants.length, draftsUpdated: 0, finalized: [], alerts: [], reorgCredits: [] };
  for (const tenantId of tenants) {
    await withTransaction(db.pool, async (client) => {
      await lockTenantBilling(client, tenantId);
      result.alerts.push(...(await evaluateQuotas(client, tenantId, now)));
      const r = await billTenant(client, tenantId, now, opts);
      result.draftsUpdated += r.drafts;
      result.finalized.push(...r.finalized.map((f) => ({ tenantId, ...f })));
      result.reorgCredits.push(...r.reorgCredits.map((c) => ({ tenantId, ...c })));
    });
  }
  return result;
}

async function ensureDraft(client: Tx, tenantId: string, timeZone: string, period: BillingPeriod): Promise<void> {
  const versionId = await planVersionFor(client, tenantId, period);
  if (versionId === null) return; // not subscribed for this period: nothing to bill
  if (await hasInvoiceFor(client, tenantId, period.start)) return;
  const plan = await loadPlanSnapshot(client, tenantId, versionId);
  await insertDraft(client, {
    tenantId,
    start: period.start,
    end: period.end,
    timeZone,
    currency: plan.currency,
    exponent: plan.currencyExponent,
    planVersionId: versionId,
    snapshot: { plan, adjustmentPlans: [] },
  });
}

async function billTenant(
  client: Tx,
  tenantId: string,
  now: Date,
  opts: BillingRunOptions,
): Promise<{ drafts: number; finalized: Array<{ invoiceId: string; number: number }>; reorgCredits: ReorgCredit[] }> {
  const parties = await loadTenantParties(client, tenantId);
  if (!parties) return { drafts: 0, finalized: [], reorgCredits: [] };
  const progress = await chainProgress(client, tenantId, opts.confirmations);
  // Before drafts are rebuilt: a record credited here becomes billable again if it came back.
  const reorgCredits = progress ? (await creditReorgedRecords(client, tenantId, progress, opts.confirmations, now)).credits : [];

  const usagePeriods = await periodsWithBillableUsage(client, tenantId, parties.timeZone);
  const periods = [periodContaining(now, parties.timeZone), ...usagePeriods.map((p) => periodContaining(p, parties.timeZone))];
  for (const p of periods) await ensureDraft(client, tenantId, parties.timeZone, p);

  const drafts = await draftsOf(client, tenantId);
  const finalized: Array<{ invoiceId: string; number: number }> = [];
  // In period order, so numbers follow periods and a finalized period's late usage lands on the
  // next draft processed after it.
  for (const draft of drafts) {
    // Due once the grace after the period has passed both on the clock and on the indexed chain:
    // an indexer still backfilling must not get periods finalized before their usage is indexed.
    const closesAt = draft.period_end.getTime() + opts.graceMs;
    const due = progress !== null && closesAt <= now.getTime() && closesAt <= progress.indexedTime.getTime();
    if (due) {
      const content = await finalizeDraft(client, draft, parties, progress.confirmedBlock, now);
      finalized.push({ invoiceId: draft.id, number: content.number ?? 0 });
      // The next drafts' queries join the citations just written: plan them on statistics that
      // count them (ANALYZE inside the transaction samples its own uncommitted rows).
      await refreshBillingStatistics(client);
    } else {
      await rebuildDraft(client, draft, parties, null);
    }
  }
  return { drafts: drafts.length, finalized, reorgCredits };
}
