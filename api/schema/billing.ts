import type pg from "pg";
import { exportInvoice } from "../../billing/export";
import { recordAudit } from "../audit";
import type { RequestContext } from "../context";
import { badInput, notFound } from "../errors";
import { loadMeter, requireMeterId } from "./chain";
import { fromGlobalId, toGlobalId } from "./ids";
import { afterKey, connection, pageSize } from "./pagination";
import { hex } from "./scalars";

interface QuotaRow {
  tenant_id: string;
  meter_id: number;
  soft_limit: string | null;
  hard_limit: string | null;
  thresholds: number[];
  usage: string;
  status: string;
  period_start: Date;
  period_end: Date;
}

const QUOTAS = `SELECT q.tenant_id, q.meter_id, q.soft_limit::text, q.hard_limit::text, q.thresholds,
    s.usage::text, s.status, s.period_start, s.period_end
  FROM quotas q JOIN quota_status s ON s.tenant_id = q.tenant_id AND s.meter_id = q.meter_id
  WHERE q.tenant_id = $1`;

const quotaNode = (r: QuotaRow) => ({
  id: toGlobalId("Quota", r.tenant_id, r.meter_id),
  meterId: r.meter_id,
  softLimit: r.soft_limit,
  hardLimit: r.hard_limit,
  thresholds: r.thresholds,
  usage: r.usage,
  status: r.status.toUpperCase(),
  periodStart: r.period_start,
  periodEnd: r.period_end,
});

interface InvoiceRow {
  tenant_id: string;
  id: string;
  number: number | null;
  status: string;
  period_start: Date;
  period_end: Date;
  time_zone: string;
  currency: string;
  currency_exponent: number;
  total_minor: string;
  confirmed_block: string | null;
  content_hash: Buffer | null;
  finalized_at: Date | null;
}

const INVOICE_COLUMNS = `tenant_id, id::text, number, status, period_start, period_end, time_zone, currency, currency_exponent,
  total_minor::text, confirmed_block::text, content_hash, finalized_at`;

interface LineRow {
  id: string;
  line_no: number;
  kind: string;
  meter_id: number | null;
  description: string;
  aggregation: string | null;
  quantity: string;
  amount_minor: string;
}

function invoiceNode(r: InvoiceRow, ctx: RequestContext) {
  return {
    id: toGlobalId("Invoice", r.id),
    number: r.number,
    status: r.status.toUpperCase(),
    periodStart: r.period_start,
    periodEnd: r.period_end,
    timeZone: r.time_zone,
    currency: r.currency,
    currencyExponent: r.currency_exponent,
    totalMinor: r.total_minor,
    confirmedBlock: r.confirmed_block,
    contentHash: hex(r.content_hash),
    finalizedAt: r.finalized_at,
    lines: () =>
      ctx.db.run(ctx.principal, async (c, tenantId) => {
        const { rows } = await c.query<LineRow>(
          `SELECT id::text, line_no, kind, meter_id, description, aggregation, quantity::text, amount_minor::text
           FROM invoice_lines WHERE tenant_id = $1 AND invoice_id = $2 ORDER BY line_no`,
          [tenantId, r.id],
        );
        return rows.map((l) => lineNode(l, ctx));
      }),
    export: () => invoiceExport(ctx, r.id),
  };
}

function lineNode(l: LineRow, ctx: RequestContext) {
  return {
    lineNo: l.line_no,
    kind: l.kind,
    meterId: l.meter_id,
    description: l.description,
    aggregation: l.aggregation,
    quantity: l.quantity,
    amountMinor: l.amount_minor,
    records: (args: { first?: number | null }) => {
      const first = pageSize(args.first ?? 100);
      return ctx.db.run(ctx.principal, async (c, tenantId) => {
        const { rows } = await c.query<{
          chain_id: string;
          tx_hash: Buffer;
          log_index: number;
          block_number: string;
          commitment: Buffer;
        }>(
          `SELECT chain_id::text, tx_hash, log_index, block_number::text, commitment FROM invoice_line_records
           WHERE tenant_id = $1 AND line_id = $2 ORDER BY block_number, chain_id, tx_hash, log_index, record_index LIMIT $3`,
          [tenantId, l.id, first],
        );
        return rows.map((x) => ({
          chainId: x.chain_id,
          txHash: hex(x.tx_hash),
          logIndex: x.log_index,
          blockNumber: x.block_number,
          blockHash: null,
          commitment: hex(x.commitment),
        }));
      });
    },
  };
}

/**
 * The invoice in the billing module's export format (what meter:verify-invoice reads), from the
 * same stored content the billing module hashes.
 */
async function invoiceExport(ctx: RequestContext, invoiceId: string): Promise<string | null> {
  return ctx.db.run(ctx.principal, async (c, tenantId) => {
    if (tenantId === null) return null;
    // The billing module's document (format meterline.invoice.v1); its queries run in this
    // transaction, under row-level security.
    return JSON.stringify(await exportInvoice(c, tenantId, invoiceId));
  });
}

function invoiceIdOf(id: string): string | null {
  const key = fromGlobalId(id, "Invoice", 1);
  return key && /^\d{1,18}$/.test(key[0]!) ? key[0]! : null;
}

const INVOICE_STATUS: Record<string, string> = { DRAFT: "draft", FINALIZED: "finalized" };

async function quotaFor(c: pg.PoolClient, tenantId: string, meterId: number) {
  const { rows } = await c.query<QuotaRow>(`${QUOTAS} AND q.meter_id = $2`, [tenantId, meterId]);
  return rows[0] ? quotaNode(rows[0]) : null;
}

export const billingResolvers = {
  Query: {
    quotas: (_: unknown, __: unknown, ctx: RequestContext) =>
      ctx.db.run(ctx.principal, async (c, tenantId) => {
        if (tenantId === null) return [];
        const { rows } = await c.query<QuotaRow>(`${QUOTAS} ORDER BY q.meter_id`, [tenantId]);
        return rows.map(quotaNode);
      }),
    invoices: (
      _: unknown,
      args: { status?: string | null; first?: number | null; after?: string | null },
      ctx: RequestContext,
    ) => {
      const first = pageSize(args.first);
      const after = afterKey(args.after, 1);
      if (after && !/^\d{1,18}$/.test(after[0]!)) throw badInput("invalid cursor");
      return ctx.db.run(ctx.principal, async (c, tenantId) => {
        const where = ["tenant_id = $1"];
        const params: unknown[] = [tenantId];
        if (args.status) {
          params.push(INVOICE_STATUS[args.status]);
          where.push(`status = $${params.length}`);
        }
        const countWhere = [...where];
        const countParams = [...params];
        if (after) {
          params.push(after[0]);
          where.push(`id < $${params.length}`);
        }
        params.push(first + 1);
        const { rows } = await c.query<InvoiceRow>(
          `SELECT ${INVOICE_COLUMNS} FROM invoices WHERE ${where.join(" AND ")} ORDER BY id DESC LIMIT $${params.length}`,
          params,
        );
        return connection(
          rows,
          first,
          (r) => invoiceNode(r, ctx),
          (r) => [r.id],
          () =>
            ctx.db.run(ctx.principal, async (c2) => {
              const res = await c2.query<{ n: number }>(`SELECT count(*)::int AS n FROM invoices WHERE ${countWhere.join(" AND ")}`, countParams);
              return res.rows[0]!.n;
            }),
        );
      });
    },
    invoice: (_: unknown, args: { id: string }, ctx: RequestContext) => {
      const invoiceId = invoiceIdOf(args.id);
      if (invoiceId === null) return null;
      return ctx.db.run(ctx.principal, async (c, tenantId) => {
        const { rows } = await c.query<InvoiceRow>(`SELECT ${INVOICE_COLUMNS} FROM invoices WHERE tenant_id = $1 AND id = $2`, [
          tenantId,
          invoiceId,
        ]);
        return rows[0] ? invoiceNode(rows[0], ctx) : null;
      });
    },
    ratePlans: (_: unknown, __: unknown, ctx: RequestContext) =>
      ctx.db.run(ctx.principal, async (c, tenantId) => {
        const { rows } = await c.query<{ id: string; name: string; created_at: Date }>(
          "SELECT id::text, name, created_at FROM rate_plans WHERE tenant_id = $1 ORDER BY id",
          [tenantId],
        );
        return rows.map((r) => ({ id: toGlobalId("RatePlan", r.id), name: r.name, createdAt: r.created_at }));
      }),
  },
  Mutation: {
    configureMeter: (
      _: unknown,
      args: { input: { meter: string; aggregation: string; unit?: string | null; displayName: string } },
      ctx: RequestContext,
    ) => {
      const { input } = args;
      if (input.displayName.length < 1 || input.displayName.length > 200) throw badInput("displayName must be 1-200 characters");
      if (input.unit !== undefined && input.unit !== null && (input.unit.length < 1 || input.unit.length > 50)) {
        throw badInput("unit must be 1-50 characters");
      }
      return ctx.db.run(ctx.principal, async (c, tenantId) => {
        const meterId = requireMeterId(input.meter, tenantId);
        const exists = await c.query("SELECT 1 FROM meters WHERE tenant_id = $1 AND meter_id = $2", [tenantId, meterId]);
        if (exists.rowCount === 0) throw notFound();
        await c.query(
          `INSERT INTO meter_configs (tenant_id, meter_id, aggregation, unit, display_name) VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (tenant_id, meter_id) DO UPDATE
             SET aggregation = EXCLUDED.aggregation, unit = EXCLUDED.unit, display_name = EXCLUDED.display_name, updated_at = now()`,
          [tenantId, meterId, input.aggregation, input.unit ?? "unit", input.displayName],
        );
        await recordAudit(c, tenantId!, ctx, {
          action: "meter.configure",
          entityType: "meter",
          entityId: String(meterId),
          changes: { aggregation: input.aggregation, unit: input.unit ?? "unit", displayName: input.displayName },
        });
        return loadMeter(c, tenantId!, meterId);
      });
    },
    setQuota: (
      _: unknown,
      args: { input: { meter: string; softLimit?: string | null; hardLimit?: string | null; thresholds?: number[] | null } },
      ctx: RequestContext,
    ) => {
      const { input } = args;
      const soft = input.softLimit ?? null;
      const hard = input.hardLimit ?? null;
      if (soft === null && hard === null) throw badInput("softLimit or hardLimit is required");
      for (const v of [soft, hard]) if (v !== null && BigInt(v) <= 0n) throw badInput("limits must be positive");
      if (soft !== null && hard !== null && BigInt(soft) > BigInt(hard)) throw badInput("softLimit must not exceed hardLimit");
      const thresholds = input.thresholds ?? [50, 80, 100];
      if (thresholds.length > 20 || thresholds.some((t) => t <= 0 || t > 1000)) throw badInput("thresholds must be 1-1000, at most 20");
      return ctx.db.run(ctx.principal, async (c, tenantId) => {
        const meterId = requireMeterId(input.meter, tenantId);
        const exists = await c.query("SELECT 1 FROM meters WHERE tenant_id = $1 AND meter_id = $2", [tenantId, meterId]);
        if (exists.rowCount === 0) throw notFound();
        await c.query(
          `INSERT INTO quotas (tenant_id, meter_id, soft_limit, hard_limit, thresholds) VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (tenant_id, meter_id) DO UPDATE
             SET soft_limit = EXCLUDED.soft_limit, hard_limit = EXCLUDED.hard_limit, thresholds = EXCLUDED.thresholds, updated_at = now()`,
          [tenantId, meterId, soft, hard, thresholds],
        );
        await recordAudit(c, tenantId!, ctx, {
          action: "quota.set",
          entityType: "quota",
          entityId: String(meterId),
          changes: { softLimit: soft, hardLimit: hard, thresholds },
        });
        return (await quotaFor(c, tenantId!, meterId))!;
      });
    },
    deleteQuota: (_: unknown, args: { meter: string }, ctx: RequestContext) =>
      ctx.db.run(ctx.principal, async (c, tenantId) => {
        const meterId = requireMeterId(args.meter, tenantId);
        const res = await c.query("DELETE FROM quotas WHERE tenant_id = $1 AND meter_id = $2", [tenantId, meterId]);
        if (res.rowCount === 0) throw notFound();
        await recordAudit(c, tenantId!, ctx, { action: "quota.delete", entityType: "quota", entityId: String(meterId) });
        return true;
      }),
    createRatePlan: (_: unknown, args: { name: string }, ctx: RequestContext) => {
      if (args.name.length < 1 || args.name.length > 200) throw badInput("name must be 1-200 characters");
      return ctx.db.run(ctx.principal, async (c, tenantId) => {
        if (tenantId === null) throw notFound();
        const { rows } = await c.query<{ id: string; created_at: Date }>(
          `INSERT INTO rate_plans (tenant_id, name) VALUES ($1, $2) ON CONFLICT (tenant_id, name) DO NOTHING RETURNING id::text, created_at`,
          [tenantId, args.name],
        );
        if (!rows[0]) throw badInput("a rate plan with this name exists");
        await recordAudit(c, tenantId, ctx, { action: "rate_plan.create", entityType: "rate_plan", entityId: rows[0].id, changes: { name: args.name } });
        return { id: toGlobalId("RatePlan", rows[0].id), name: args.name, createdAt: rows[0].created_at };
      });
    },
  },
};
