import type { RequestContext } from "../context";
import { badInput, notFound } from "../errors";
import { emptyConnection, meterIdOf, onchainRef, requireMeterId } from "./chain";
import { toGlobalId } from "./ids";
import { afterKey, connection, pageSize } from "./pagination";
import { hex, parseHex } from "./scalars";

type Granularity = "HOUR" | "DAY" | "MONTH";

// Longest ranges per granularity, so one request cannot ask for an unbounded series.
const MAX_RANGE_MS: Record<Granularity, number> = {
  HOUR: 93 * 86_400_000,
  DAY: 3 * 366 * 86_400_000,
  MONTH: 20 * 366 * 86_400_000,
};

// Hourly rollups; day and month buckets are cut in the tenant's time zone. The tenant filter is
// explicit as well as enforced by row-level security.
const HOURLY = `SELECT bucket_start, quantity_sum::text AS quantity, quantity_max::text AS max, record_count::text AS records
  FROM usage_rollups
  WHERE tenant_id = $1 AND meter_id = $2 AND bucket_start >= $3 AND bucket_start < $4
  ORDER BY bucket_start`;

const BUCKETED = `SELECT date_trunc($5, r.bucket_start AT TIME ZONE t.time_zone) AT TIME ZONE t.time_zone AS bucket_start,
    sum(r.quantity_sum)::text AS quantity, max(r.quantity_max)::text AS max, sum(r.record_count)::text AS records
  FROM usage_rollups r JOIN tenants t ON t.id = r.tenant_id
  WHERE r.tenant_id = $1 AND r.meter_id = $2 AND r.bucket_start >= $3 AND r.bucket_start < $4
  GROUP BY 1 ORDER BY 1`;

/** The dashboard query's SQL, exported for the benchmark's direct-pg baseline. */
export const USAGE_SQL = { HOURLY, BUCKETED };

interface UsageRow {
  bucket_start: Date;
  quantity: string;
  max: string;
  records: string;
}

interface RecordRow {
  tenant_id: string;
  meter_id: number;
  period_start: Date;
  period_end: Date;
  quantity: string;
  sequence: string;
  ref: Buffer;
  reporter: Buffer;
  commitment: Buffer;
  chain_id: string;
  tx_hash: Buffer;
  log_index: number;
  record_index: number;
  block_number: string;
  block_hash: Buffer;
  block_time: Date;
}

const recordNode = (r: RecordRow) => ({
  id: toGlobalId("UsageRecord", r.chain_id, r.tx_hash.toString("hex"), r.log_index, r.record_index),
  meterId: r.meter_id,
  periodStart: r.period_start,
  periodEnd: r.period_end,
  quantity: r.quantity,
  sequence: r.sequence,
  ref: hex(r.ref),
  reporter: hex(r.reporter),
  commitment: hex(r.commitment),
  recordIndex: r.record_index,
  blockTime: r.block_time,
  onchain: onchainRef(r),
});

interface RecordFilter {
  meter?: string | null;
  from?: Date | null;
  to?: Date | null;
  reporter?: string | null;
  commitment?: string | null;
}

export const usageResolvers = {
  Query: {
    usage: (
      _: unknown,
      args: { meter: string; from: Date; to: Date; granularity: Granularity },
      ctx: RequestContext,
    ) => {
      const span = args.to.getTime() - args.from.getTime();
      if (span <= 0) throw badInput("to must be after from");
      if (span > MAX_RANGE_MS[args.granularity]) throw badInput("range too long for this granularity");
      return ctx.db.run(ctx.principal, async (c, tenantId) => {
        const meterId = requireMeterId(args.meter, tenantId);
        const { rows } =
          args.granularity === "HOUR"
            ? await c.query<UsageRow>(HOURLY, [tenantId, meterId, args.from, args.to])
            : await c.query<UsageRow>(BUCKETED, [tenantId, meterId, args.from, args.to, args.granularity.toLowerCase()]);
        if (rows.length === 0) {
          // An empty series and an unknown meter must not look alike.
          const exists = await c.query("SELECT 1 FROM meters WHERE tenant_id = $1 AND meter_id = $2", [tenantId, meterId]);
          if (exists.rowCount === 0) throw notFound();
        }
        return rows.map((r) => ({ bucketStart: r.bucket_start, quantity: r.quantity, max: r.max, records: r.records }));
      });
    },
    usageRecords: (
      _: unknown,
      args: { first?: number | null; after?: string | null; filter?: RecordFilter | null },
      ctx: RequestContext,
    ) => {
      const first = pageSize(args.first);
      const after = afterKey(args.after, 5);
      const f = args.filter ?? {};
      const reporter = f.reporter ? parseHex(f.reporter, 20, "reporter") : null;
      const commitment = f.commitment ? parseHex(f.commitment, 32, "commitment") : null;
      return ctx.db.run(ctx.principal, async (c, tenantId) => {
        const where = ["tenant_id = $1"];
        const params: unknown[] = [tenantId];
        const add = (sql: (n: number) => string, value: unknown) => {
          params.push(value);
          where.push(sql(params.length));
        };
        if (f.meter) {
          const meterId = meterIdOf(f.meter, tenantId);
          if (meterId === null) return emptyConnection();
          add((n) => `meter_id = $${n}`, meterId);
        }
        if (f.from) add((n) => `period_start >= $${n}`, f.from);
        if (f.to) add((n) => `period_start < $${n}`, f.to);
        if (reporter) add((n) => `reporter = $${n}`, reporter);
        if (commitment) add((n) => `commitment = $${n}`, commitment);
        const countWhere = [...where];
        const countParams = [...params];
        if (after) {
          const [block, chain, tx, log, idx] = after;
          if (![block, chain, log, idx].every((v) => /^\d{1,20}$/.test(v!)) || !/^[0-9a-f]{64}$/.test(tx!)) throw badInput("invalid cursor");
          params.push(block, chain, Buffer.from(tx!, "hex"), log, idx);
          const n = params.length;
          where.push(`(block_number, chain_id, tx_hash, log_index, record_index) < ($${n - 4}, $${n - 3}, $${n - 2}, $${n - 1}, $${n})`);
        }
        params.push(first + 1);
        const { rows } = await c.query<RecordRow>(
          `SELECT tenant_id, meter_id, period_start, period_end, quantity::text, sequence::text, ref, reporter, commitment,
             chain_id, tx_hash, log_index, record_index, block_number, block_hash, block_time
           FROM usage_records WHERE ${where.join(" AND ")}
           ORDER BY block_number DESC, chain_id DESC, tx_hash DESC, log_index DESC, record_index DESC
           LIMIT $${params.length}`,
          params,
        );
        return connection(
          rows,
          first,
          recordNode,
          (r) => [r.block_number, r.chain_id, r.tx_hash.toString("hex"), r.log_index, r.record_index],
          () =>
            ctx.db.run(ctx.principal, async (c2) => {
              const res = await c2.query<{ n: number }>(
                `SELECT count(*)::int AS n FROM usage_records WHERE ${countWhere.join(" AND ")}`,
                countParams,
              );
              return res.rows[0]!.n;
            }),
        );
      });
    },
  },
};
