import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type pg from "pg";
import { from as copyFrom } from "pg-copy-streams";
import { hexDigits } from "../../chain/hex";
import { blockTimeColumn, positionColumns, type EventOf } from "./columns";
import type { ContractRef } from "./contract";
import { bucketOf, type RollupBucket, type RollupDelta } from "./rollups";

type Reveal = EventOf<"UsageRevealed">;

/**
 * Per-connection staging table for the COPY path. Temporary (never WAL-logged, invisible to other
 * sessions) and emptied at the end of every transaction, so rows staged by a batch that failed or
 * rolled back can never leak into the next one.
 */
const STAGE = "pg_temp.usage_records_stage";
export const STAGE_DDL = `CREATE TEMP TABLE IF NOT EXISTS usage_records_stage (
  log integer NOT NULL, meter_id integer NOT NULL, ps bigint NOT NULL, pe bigint NOT NULL,
  qty numeric NOT NULL, seq numeric NOT NULL, ref bytea NOT NULL, ri integer NOT NULL
) ON COMMIT DELETE ROWS`;

/** COPY text-format lines for the reveals' records, in chunks of a few hundred KiB. */
function* copyRows(reveals: readonly Reveal[]): Generator<string> {
  let chunk = "";
  for (let li = 0; li < reveals.length; li++) {
    const log = li + 1;
    const records = reveals[li]!.records;
    for (let ri = 0; ri < records.length; ri++) {
      const r = records[ri]!;
      chunk += `${log}\t${r.meterId}\t${r.periodStart}\t${r.periodEnd}\t${r.quantity}\t${r.sequence}\t\\\\x${hexDigits(r.ref)}\t${ri}\n`;
    }
    if (chunk.length > 256 * 1024) {
      yield chunk;
      chunk = "";
    }
  }
  if (chunk.length > 0) yield chunk;
}

/** The records as unnest arrays (PGlite has no COPY FROM STDIN over the socket), each row naming its log by ordinal. */
function recordColumns(reveals: readonly Reveal[]): unknown[] {
  const n = reveals.reduce((s, e) => s + e.records.length, 0);
  const rec = {
    log: new Array<number>(n),
    meter: new Array<number>(n),
    ps: new Array<number>(n),
    pe: new Array<number>(n),
    qty: new Array<string>(n),
    seq: new Array<string>(n),
    ref: new Array<string>(n),
    ri: new Array<number>(n),
  };
  let i = 0;
  reveals.forEach((e, li) => {
    e.records.forEach((r, ri) => {
      rec.log[i] = li + 1;
      rec.meter[i] = r.meterId;
      rec.ps[i] = r.periodStart;
      rec.pe[i] = r.periodEnd;
      rec.qty[i] = r.quantity.toString();
      rec.seq[i] = r.sequence.toString();
      rec.ref[i] = hexDigits(r.ref);
      rec.ri[i] = ri;
      i++;
    });
  });
  return [rec.log, rec.meter, rec.ps, rec.pe, rec.qty, rec.seq, rec.ref, rec.ri];
}

/**
 * Inserts the reveals' records and returns what they add to each hourly rollup bucket (the rows
 * the insert actually wrote, so a replay returns nothing). Tenants and meters must be written
 * first: the tenant is resolved in SQL with a LEFT JOIN so an unknown one fails the NOT NULL
 * constraint loudly instead of dropping rows, and the meter is a foreign key.
 *
 * Per-log values (tenant, reporter, commitment, tx, block) travel once per log; the records carry
 * only their own fields and their log's ordinal. On a PostgreSQL server (`copy`) they stream
 * into the staging table with COPY (no array literals to build and parse); on PGlite they go as
 * unnest arrays.
 *
 * No ON CONFLICT (its speculative insertion cost ~25% of the insert): a log's records are always
 * written and reverted together (same transaction, same block), so one primary-key probe per log
 * (`written`) decides whether its records are already stored. The primary key still guards them,
 * so anything that broke that assumption would fail the batch, never duplicate a row.
 */
export async function writeUsageRecords(
  client: pg.PoolClient,
  contract: ContractRef,
  reveals: readonly Reveal[],
  blockTimes: ReadonlyMap<bigint, bigint>,
  opts: { copy: boolean },
): Promise<RollupDelta[]> {
  if (reveals.length === 0) return [];
  const logParams = [
    contract.id,
    contract.chainId,
    reveals.map((e) => e.tenantId),
    reveals.map((e) => hexDigits(e.reporter)),
    reveals.map((e) => hexDigits(e.commitment)),
    ...positionColumns(reveals),
    blockTimeColumn(reveals, blockTimes),
  ];
  let source: string;
  let params: unknown[];
  if (opts.copy) {
    await client.query(STAGE_DDL);
    await pipeline(Readable.from(copyRows(reveals)), client.query(copyFrom(`COPY ${STAGE} (log, meter_id, ps, pe, qty, seq, ref, ri) FROM STDIN`)));
    source = `${STAGE} AS u`;
    params = logParams;
  } else {
    source = `(SELECT x.log, x.meter_id, x.ps, x.pe, x.qty, x.seq, decode(x.ref, 'hex') AS ref, x.ri
         FROM unnest($11::int[], $12::int[], $13::bigint[], $14::bigint[], $15::numeric[], $16::numeric[], $17::text[], $18::int[])
           AS x(log, meter_id, ps, pe, qty, seq, ref, ri)) AS u`;
    params = [...logParams, ...recordColumns(reveals)];
  }
  const { rows } = await client.query<{ tenant_id: string; meter_id: number; bucket: string; sum: string; max: string; count: number }>(
    `WITH logs AS (
       SELECT l.*, t.id AS tenant_id,
              EXISTS (SELECT 1 FROM usage_records r
                      WHERE r.chain_id = $2 AND r.tx_hash = decode(l.tx, 'hex') AND r.log_index = l.li) AS written
       FROM unnest($3::int[], $4::text[], $5::text[], $6::text[], $7::int[], $8::bigint[], $9::text[], $10::bigint[])
         WITH ORDINALITY AS l(onchain_tenant, reporter, commitment, tx, li, bn, bh, bt, ord)
       LEFT JOIN tenants t ON t.contract_id = $1 AND t.onchain_id = l.onchain_tenant
     ), ins AS (
       INSERT INTO usage_records (tenant_id, meter_id, period_start, period_end, quantity, sequence, ref, reporter,
                                  commitment, contract_id, chain_id, tx_hash, log_index, record_index,
                                  block_number, block_hash, block_time)
       SELECT l.tenant_id, u.meter_id, to_timestamp(u.ps), to_timestamp(u.pe), u.qty, u.seq, u.ref,
              decode(l.reporter, 'hex'), decode(l.commitment, 'hex'), $1, $2, decode(l.tx, 'hex'), l.li, u.ri,
              l.bn, decode(l.bh, 'hex'), to_timestamp(l.bt)
       FROM ${source}
       JOIN logs l ON l.ord = u.log AND NOT l.written
       RETURNING tenant_id, meter_id, period_start, quantity
     )
     SELECT tenant_id::text AS tenant_id, meter_id, extract(epoch FROM ${bucketOf("period_start")})::bigint AS bucket,
            sum(quantity)::text AS sum, max(quantity)::text AS max, count(*)::int AS count
     FROM ins GROUP BY ins.tenant_id, meter_id, ${bucketOf("period_start")} ORDER BY ins.tenant_id, meter_id, 3`,
    params,
  );
  return rows.map((r) => ({ tenantId: r.tenant_id, meterId: r.meter_id, bucket: Number(r.bucket), sum: r.sum, max: r.max, count: r.count }));
}

/**
 * Deletes the records above `block` (a reorg) and returns the rollup buckets they were in, with
 * how many records each lost.
 */
export async function deleteUsageRecordsAbove(
  client: pg.PoolClient,
  contractId: number,
  block: bigint,
): Promise<(RollupBucket & { count: number })[]> {
  const { rows } = await client.query<{ tenant_id: string; meter_id: number; bucket: string; count: number }>(
    `WITH del AS (
       -- Through the contract's tenants, so each is an index range on (tenant_id, block_number).
       DELETE FROM usage_records
       WHERE tenant_id IN (SELECT id FROM tenants WHERE contract_id = $1) AND contract_id = $1 AND block_number > $2
       RETURNING tenant_id, meter_id, ${bucketOf("period_start")} AS bucket
     )
     SELECT tenant_id::text AS tenant_id, meter_id, extract(epoch FROM bucket)::bigint AS bucket, count(*)::int AS count
     FROM del GROUP BY del.tenant_id, meter_id, del.bucket`,
    [contractId, block.toString()],
  );
  return rows.map((r) => ({ tenantId: r.tenant_id, meterId: r.meter_id, bucket: Number(r.bucket), count: r.count }));
}
