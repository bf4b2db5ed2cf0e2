import type pg from "pg";
import { withTransaction } from "../db/connection";
import { finalizeDraft, rebuildDraft } from "./invoices";
import { INVOICE_COLUMNS, type InvoiceRow } from "./store/invoice-store";
import { periodContaining, type BillingPeriod } from "../rating/periods";
import { evaluateQuotas, type QuotaAlert } from "./quotas";
import { loadPlanSnapshot, planVersionFor } from "./store/plans";

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
}

/** Arbitrary constant: namespaces the per-tenant advisory locks of the billing worker. */
const BILLING_LOCK_SPACE = 7_216_310;

/**
 * One pass over every tenant: quota alerts, draft invoices for the current period and for any
 * period with unbilled usage, and finalization of drafts whose period ended more than the grace
 * ago. Each tenant is processed in its own transaction under an advisory lock, so concurrent
 * workers never interleave and a crash leaves each tenant either before or after its pass.
 */
export async function runBillingOnce(
  db: { pool: pg.Pool },
  now: Date,
  options: Partial<BillingRunOptions> = {},
): Promise<BillingRunResult> {
  const opts = { ...DEFAULT_BILLING_OPTIONS, ...options };
  const { rows: tenants } = await db.pool.query<{ id: string }>("SELECT id FROM tenants ORDER BY id");
  const result: BillingRunResult = { tenants: tenants.length, draftsUpdated: 0, finalized: [], alerts: [] };
  for (const t of tenants) {
    await withTransaction(db.pool, async (client) => {
      await client.query("SELECT pg_advisory_xact_lock($1, $2::int)", [BILLING_LOCK_SPACE, Number(t.id) | 0]);
      result.alerts.push(...(await evaluateQuotas(client, t.id, now)));
      const r = await billTenant(client, t.id, now, opts);
      result.draftsUpdated += r.drafts;
      result.finalized.push(...r.finalized.map((f) => ({ tenantId: t.id, ...f })));
    });
  }
  return result;
}

interface ChainProgress {
  /** Highest block whose usage counts as final (checkpoint - confirmations). */
  confirmedBlock: bigint;
  /** Time of the indexer's checkpoint block: how far the indexed chain has advanced. */
  indexedTime: Date;
}

async function chainProgressOf(client: pg.PoolClient, tenantId: string, confirmations: number): Promise<ChainProgress | null> {
  const { rows } = await client.query<{ block_number: string; block_time: Date }>(
    "SELECT c.block_number, c.block_time FROM checkpoints c JOIN tenants t ON t.contract_id = c.contract_id WHERE t.id = $1",
    [tenantId],
  );
  const head = rows[0];
  if (head === undefined) return null;
  const confirmed = BigInt(head.block_number) - BigInt(confirmations);
  return confirmed >= 0n ? { confirmedBlock: confirmed, indexedTime: head.block_time } : null;
}

async function ensureDraft(client: pg.PoolClient, tenantId: string, timeZone: string, period: BillingPeriod): Promise<void> {
  const versionId = await planVersionFor(client, tenantId, period);
  if (versionId === null) return; // not subscribed for this period: nothing to bill
  const { rows } = await client.query("SELECT 1 FROM invoices WHERE tenant_id = $1 AND period_start = $2", [tenantId, period.start]);
  if (rows.length > 0) return;
  const plan = await loadPlanSnapshot(client, tenantId, versionId);
  await client.query(
    `INSERT INTO invoices (tenant_id, period_start, period_end, time_zone, currency, currency_exponent, plan_version_id, plan_snapshot)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (tenant_id, period_start) DO NOTHING`,
    [tenantId, period.start, period.end, timeZone, plan.currency, plan.currencyExponent, versionId, JSON.stringify({ plan, adjustmentPlans: [] })],
  );
}

async function billTenant(
  client: pg.PoolClient,
  tenantId: string,
  now: Date,
  opts: BillingRunOptions,
): Promise<{ drafts: number; finalized: Array<{ invoiceId: string; number: number }> }> {
  const { rows: tz } = await client.query<{ time_zone: string }>("SELECT time_zone FROM tenants WHERE id = $1", [tenantId]);
  const timeZone = tz[0]?.time_zone ?? "UTC";

  // Periods that need a draft: the current one, and every period with usage on no finalized invoice
  // (a finalized period's late usage goes on the next draft instead).
  const { rows: usagePeriods } = await client.query<{ first: Date }>(
    `SELECT DISTINCT billing_period_start($2, r.period_start) AS first
       FROM usage_records r
      WHERE r.tenant_id = $1
        AND NOT EXISTS (SELECT 1 FROM invoices i WHERE i.tenant_id = r.tenant_id AND i.status = 'finalized'
                         AND r.period_start >= i.period_start AND r.period_start < i.period_end)`,
    [tenantId, timeZone],
  );
  const periods = [periodContaining(now, timeZone), ...usagePeriods.map((p) => periodContaining(p.first, timeZone))];
  for (const p of periods) await ensureDraft(client, tenantId, timeZone, p);

  const progress = await chainProgressOf(client, tenantId, opts.confirmations);
  const { rows: drafts } = await client.query<InvoiceRow>(
    `SELECT ${INVOICE_COLUMNS} FROM invoices WHERE tenant_id = $1 AND status = 'draft' ORDER BY period_start`,
    [tenantId],
  );
  const finalized: Array<{ invoiceId: string; number: number }> = [];
  // In period order, so numbers follow periods and a finalized period's late usage lands on the
  // next draft processed after it.
  for (const draft of drafts) {
    // Due once the grace after the period has passed both on the clock and on the indexed chain:
    // an indexer still backfilling must not get periods finalized before their usage is indexed.
    const closesAt = draft.period_end.getTime() + opts.graceMs;
    const due = progress !== null && closesAt <= now.getTime() && closesAt <= progress.indexedTime.getTime();
    if (due) {
      const content = await finalizeDraft(client, draft, progress.confirmedBlock, now);
      finalized.push({ invoiceId: draft.id, number: content.number ?? 0 });
    } else {
      await rebuildDraft(client, draft, null);
    }
  }
  return { drafts: drafts.length, finalized };
}
