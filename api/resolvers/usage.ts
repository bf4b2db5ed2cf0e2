import { toHex } from "../../chain/hex";
import { citationKey } from "../../rating/citation";
import type { RequestContext } from "../context";
import { BadInputError, NotFoundError } from "../errors";
import { meterExists } from "../read/meters";
import {
  countUsageRecords,
  pageUsageRecords,
  usageSeries,
  type Granularity,
  type UsageRecordFilter,
  type UsageRecordRow,
} from "../read/usage";
import { hexArg, meterIdOf, requireMeterId } from "./args";
import { hashKey, hashOfKey, toGlobalId } from "./ids";
import { onchainRef } from "./nodes";
import { afterKey, connection, emptyConnection, pageSize } from "./pagination";

// Longest ranges per granularity, so one request cannot ask for an unbounded series.
const MAX_RANGE_MS: Record<Granularity, number> = {
  HOUR: 93 * 86_400_000,
  DAY: 3 * 366 * 86_400_000,
  MONTH: 20 * 366 * 86_400_000,
};

const recordNode = (r: UsageRecordRow) => ({
  id: toGlobalId("UsageRecord", r.chain_id, hashKey(r.tx_hash), r.log_index, r.record_index),
  meterId: r.meter_id,
  periodStart: r.period_start,
  periodEnd: r.period_end,
  quantity: r.quantity,
  sequence: r.sequence,
  identity: citationKey({ reporter: toHex(r.reporter), sequence: r.sequence }),
  duplicate: r.is_duplicate,
  ref: toHex(r.ref),
  reporter: toHex(r.reporter),
  commitment: toHex(r.commitment),
  recordIndex: r.record_index,
  blockTime: r.block_time,
  onchain: onchainRef(r),
});

interface RecordFilterArg {
  meter?: string | null;
  from?: Date | null;
  to?: Date | null;
  reporter?: string | null;
  commitment?: string | null;
  duplicate?: boolean | null;
}

export const usageResolvers = {
  Query: {
    usage: (_: unknown, args: { meter: string; from: Date; to: Date; granularity: Granularity }, ctx: RequestContext) => {
      const span = args.to.getTime() - args.from.getTime();
      if (span <= 0) throw new BadInputError("to must be after from");
      if (span > MAX_RANGE_MS[args.granularity]) throw new BadInputError("range too long for this granularity");
      // One round trip per statement (TenantDb.read): the dashboard's hot path.
      return ctx.db.read(ctx.principal, async (c, tenantId) => {
        const meterId = requireMeterId(args.meter, tenantId);
        const rows = await usageSeries(c, tenantId, meterId, args);
        // An empty series and an unknown meter must not look alike.
        if (rows.length === 0 && !(await meterExists(c, tenantId, meterId))) throw new NotFoundError();
        return rows.map((r) => ({ bucketStart: r.bucket_start, quantity: r.quantity, max: r.max, records: r.records }));
      });
    },
    usageRecords: (
      _: unknown,
      args: { first?: number | null; after?: string | null; filter?: RecordFilterArg | null },
      ctx: RequestContext,
    ) => {
      const first = pageSize(args.first);
      const after = afterKey(args.after, 5);
      let key = null;
      if (after) {
        const [blockNumber, chainId, tx, logIndex, recordIndex] = after as [string, string, string, string, string];
        const txHash = hashOfKey(tx);
        if (![blockNumber, chainId, logIndex, recordIndex].every((v) => /^\d{1,20}$/.test(v)) || txHash === null) {
          throw new BadInputError("invalid cursor");
        }
        key = { blockNumber, chainId, txHash, logIndex, recordIndex };
      }
      const f = args.filter ?? {};
      const filter: UsageRecordFilter = {
        duplicate: f.duplicate ?? false,
        ...(f.from ? { from: f.from } : {}),
        ...(f.to ? { to: f.to } : {}),
        ...(f.reporter ? { reporter: hexArg(f.reporter, 20, "reporter") } : {}),
        ...(f.commitment ? { commitment: hexArg(f.commitment, 32, "commitment") } : {}),
      };
      return ctx.db.read(ctx.principal, async (c, tenantId) => {
        if (f.meter) {
          const meterId = meterIdOf(f.meter, tenantId);
          if (meterId === null) return emptyConnection();
          filter.meterId = meterId;
        }
        const rows = await pageUsageRecords(c, tenantId, filter, key, first + 1);
        return connection(
          rows,
          first,
          recordNode,
          (r) => [r.block_number, r.chain_id, hashKey(r.tx_hash), r.log_index, r.record_index],
          () => ctx.db.read(ctx.principal, (c2, t) => countUsageRecords(c2, t, filter)),
        );
      });
    },
  },
};
