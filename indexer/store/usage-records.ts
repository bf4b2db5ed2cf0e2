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
  qty numeric NOT NULL, seq numeric NOT NULL, ref bytea NOT NULL, ri integer NOT NULL, later boolean NOT NULL
) ON COMMIT DELETE ROWS`;

/** The all-zero ref: "no idempotency key". Written exactly as in the partial indexes of 036, so they apply. */
export const ZERO_REF_SQL = `'\\x${"00".repeat(32)}'::bytea`;
const ZERO_REF = `0x${"00".repeat(32)}`;

/**
 * For each record of the reveals, in chain order: whether an earlier record of the same batch and
 * on-chain tenant already carries its non-zero ref (its idempotency key). Earlier batches are
 * checked in SQL; every stored record precedes the batch in chain order.
 */
function laterInBatch(reveals: readonly Reveal[]): boolean[][] {
  const seen = new Set<string>();
  return reveals.map((e) =>
    e.records.map((r) => {
      const ref = r.ref.toLowerCase();
      if (ref === ZERO_REF) return false;
      const key = `${e.tenantId}:${ref}`;
      if (seen.has(key)) return true;
      seen.add(key);
      return false;
    }),
  );
}

/** COPY text-format lines for the reveals' records, in chunks of a few hundred KiB. */
function* copyRows(reveals: readonly Reveal[], later: readonly boolean[][]): Generator<string> {
  let chunk = "";
  for (let li = 0; li < reveals.length; li++) {
    const log = li + 1;
    const records = reveals[li]!.records;
    for (let ri = 0; ri < records.length; ri++) {
      const r = records[ri]!;
      chunk += `${log}\t${r.meterId}\t${r.periodStart}\t${r.periodEnd}\t${r.quantity}\t${r.sequence}\t\\\\x${hexDigits(r.ref)}\t${ri}\t${later[li]![ri] ? "t" : "f"}\n`;
    }
    if (chunk.length > 256 * 1024) {
      yield chunk;
      chunk = "";
    }
  }
  if (chunk.length > 0) yield chunk;
}

/** The records as unnest arrays (PGlite has no COPY FROM STDIN over the socket), each row naming its log by ordinal. */
function recordColumns(reveals: readonly Reveal[], later: readonly boolean[][]): unknown[] {
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
    later: new Array<boolean>(n),
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
      rec.later[i] = later[li]![ri]!;
      i++;
    });
  });
  return [rec.log, rec.meter, rec.ps, rec.pe, rec.qty, rec.seq, rec.ref, rec.ri, rec.later];
}

/** What a batch's records changed: rollup deltas (first occurrences only) and new records per tenant (all). */
export interface WrittenRecords {
  /** Per hourly bucket, the aggregates of the inserted records that count (not duplicates). */
  rollups: RollupDelta[];
  /** Internal tenant id -> records inserted, duplicates included. */
  inserted: Map<string, number>;
}

/**
 * Inserts the reveals' records, marks duplicates, and returns what they add to each hourly rollup
 * bucket (the rows the insert actually wrote, so a replay returns nothing). Tenants and meters
 * must be written first: the tenant is resolved in SQL with a LEFT JOIN so an unknown one fails
 * the NOT NULL constraint loudly instead of dropping rows, and the meter is a foreign key.
 *
 * Per-log values (tenant, reporter, commitment, tx, block) travel once per log; the records carry
 * only their own fields and their log's ordinal. On a PostgreSQL server (`copy`) they stream
 * into the staging table with COPY (no array literals to build and parse); on PGlite they go as
 * unnest arrays.
 *
 * Exactly once, by identity: no ON CONFLICT (its speculative insertion cost ~25% of the insert).
 * A log's records are always written and reverted together (same transaction, same block), so one
 * primary-key probe per log (`written`: its first record's identity, seen at this position) decides
 * whether its records are already stored. The identity key still guards them: a record stored at
 * another position (which no reorg leaves behind) fails the batch, never duplicates a row.
 *
 * Duplicates: a record whose non-zero ref an earlier record of the tenant carries (chain order) is
 * written with is_duplicate. Every stored record precedes the batch, so "earlier" is a stored first
 * occurrence (the partial unique index 036 makes that one probe) or an earlier record of the batch.
 */
export async function writeUsageRecords(
  client: pg.PoolClient,
  contract: ContractRef,
  reveals: readonly Reveal[],
  blockTimes: ReadonlyMap<bigint, bigint>,
  opts: { copy: boolean },
): Promise<WrittenRecords> {
  if (reveals.length === 0) return { rollups: [], inserted: new Map() };
  const later = laterInBatch(reveals);
  const logParams = [
    contract.id,
    contract.chainId,
    reveals.map((e) => e.tenantId),
    reveals.map((e) => hexDigits(e.reporter)),
    reveals.map((e) => hexDigits(e.commitment)),
    ...positionColumns(reveals),
    blockTimeColumn(reveals, blockTimes),
    reveals.map((e) => (e.records.length > 0 ? e.records[0]!.sequence.toString() : null)),
  ];
  let source: string;
  let params: unknown[];
  if (opts.copy) {
    await client.query(STAGE_DDL);
    await pipeline(
      Readable.from(copyRows(reveals, later)),
      client.query(copyFrom(`COPY ${STAGE} (log, meter_id, ps, pe, qty, seq, ref, ri, later) FROM STDIN`)),
    );
    source = `${STAGE} AS u`;
    params = logParams;
  } else {
    source = `(SELECT x.log, x.meter_id, x.ps, x.pe, x.qty, x.seq, decode(x.ref, 'hex') AS ref, x.ri, x.later
         FROM unnest($12::int[], $13::int[], $14::bigint[], $15::bigint[], $16::numeric[], $17::numeric[], $18::text[], $19::int[], $20::bool[])
           AS x(log, meter_id, ps, pe, qty, seq, ref, ri, later)) AS u`;
    params = [...logParams, ...recordColumns(reveals, later)];
  }
  const { rows } = await client.query<{ tenant_id: string; meter_id: number; bucket: string; dup: boolean; sum: string; max: string; count: number }>(
    `WITH logs AS MATERIALIZED (
       -- Per-log values decoded here, once per log (a few hundred), not once per record.
       SELECT l.ord, t.id AS tenant_id, decode(l.reporter, 'hex') AS reporter_b, decode(l.commitment, 'hex') AS commitment_b,
              decode(l.tx, 'hex') AS tx_b, l.li, l.bn, decode(l.bh, 'hex') AS bh_b, to_timestamp(l.bt) AS bt_ts,
              EXISTS (SELECT 1 FROM usage_records r
                      WHERE r.tenant_id = t.id AND r.reporter = decode(l.reporter, 'hex') AND r.sequence = l.first_seq
                        AND r.tx_hash = decode(l.tx, 'hex') AND r.log_index = l.li) AS written
       FROM unnest($3::int[], $4::text[], $5::text[], $6::text[], $7::int[], $8::bigint[], $9::text[], $10::bigint[], $11::numeric[])
         WITH ORDINALITY AS l(onchain_tenant, reporter, commitment, tx, li, bn, bh, bt, first_seq, ord)
       LEFT JOIN tenants t ON t.contract_id = $1 AND t.onchain_id = l.onchain_tenant
     ), ins AS (
       INSERT INTO usage_records (tenant_id, meter_id, period_start, period_end, quantity, sequence, ref, reporter,
                                  commitment, contract_id, chain_id, tx_hash, log_index, record_index,
                                  block_number, block_hash, block_time, is_duplicate)
       SELECT l.tenant_id, u.meter_id, to_timestamp(u.ps), to_timestamp(u.pe), u.qty, u.seq, u.ref,
              l.reporter_b, l.commitment_b, $1, $2, l.tx_b, l.li, u.ri,
              l.bn, l.bh_b, l.bt_ts,
              u.ref <> ${ZERO_REF_SQL} AND (u.later OR EXISTS (
                SELECT 1 FROM usage_records e
                WHERE e.tenant_id = l.tenant_id AND e.ref = u.ref AND NOT e.is_duplicate AND e.ref <> ${ZERO_REF_SQL}))
       FROM ${source}
       JOIN logs l ON l.ord = u.log AND NOT l.written
       RETURNING tenant_id, meter_id, period_start, quantity, is_duplicate
     )
     SELECT tenant_id::text AS tenant_id, meter_id, extract(epoch FROM ${bucketOf("period_start")})::bigint AS bucket, is_duplicate AS dup,
            sum(quantity)::text AS sum, max(quantity)::text AS max, count(*)::int AS count
     FROM ins GROUP BY ins.tenant_id, meter_id, ${bucketOf("period_start")}, is_duplicate ORDER BY ins.tenant_id, meter_id, 3`,
    params,
  );
  const inserted = new Map<string, number>();
  for (const r of rows) inserted.set(r.tenant_id, (inserted.get(r.tenant_id) ?? 0) + r.count);
  return {
    rollups: rows
      .filter((r) => !r.dup)
      .map((r) => ({ tenantId: r.tenant_id, meterId: r.meter_id, bucket: Number(r.bucket), sum: r.sum, max: r.max, count: r.count })),
    inserted,
  };
}

/**
 * The role that may COPY into usage_records (migration 048): INSERT on that table only, and
 * BYPASSRLS, which PostgreSQL requires of COPY FROM into a table with row-level security.
 */
export const USAGE_LOADER_ROLE = "meterline_usage_loader";

/** How a writer switches to the loader role for one COPY and back. */
export interface UsageLoader {
  role: string;
  /** The role the writer's statements run as otherwise (current_user when the loader was found). */
  restore: string;
}

/**
 * The loader, if this connection may use it: the role exists with BYPASSRLS and the session user
 * may SET ROLE to it. Absent where migration 048 could not create it (migrations not run as a
 * superuser); the writer then keeps the staging path.
 */
export async function findUsageLoader(db: pg.Pool | pg.PoolClient): Promise<UsageLoader | null> {
  const { rows } = await db.query<{ restore: string; usable: boolean }>(
    `SELECT current_user::text AS restore,
            coalesce((SELECT rolbypassrls AND pg_has_role(session_user, oid, 'MEMBER') FROM pg_roles WHERE rolname = $1), false) AS usable`,
    [USAGE_LOADER_ROLE],
  );
  const row = rows[0];
  return row?.usable ? { role: USAGE_LOADER_ROLE, restore: row.restore } : null;
}

/** Errors of the straight COPY that send the batch to the careful path (unique_violation, insufficient_privilege). */
const STRAIGHT_FALLBACK_CODES = new Set(["23505", "42501"]);

// The columns in the order copyStraightRows writes them: the record's own, then its log's.
const COPY_COLUMNS = `tenant_id, meter_id, period_start, period_end, quantity, sequence, ref, record_index, is_duplicate,
  reporter, commitment, contract_id, chain_id, tx_hash, log_index, block_number, block_hash, block_time`;

/** COPY text lines with every column of usage_records; each log's columns are formatted once. */
function* copyStraightRows(
  contract: ContractRef,
  reveals: readonly Reveal[],
  tenantIds: readonly string[],
  later: readonly boolean[][],
  blockTimes: ReadonlyMap<bigint, bigint>,
): Generator<string> {
  // Periods repeat across records (a reporter's window); toISOString is most of a row's cost.
  const times = new Map<number, string>();
  const iso = (s: number): string => {
    let t = times.get(s);
    if (t === undefined) {
      t = new Date(s * 1000).toISOString();
      times.set(s, t);
    }
    return t;
  };
  let chunk = "";
  for (let li = 0; li < reveals.length; li++) {
    const e = reveals[li]!;
    const tail =
      `\t\\\\x${hexDigits(e.reporter)}\t\\\\x${hexDigits(e.commitment)}\t${contract.id}\t${contract.chainId}` +
      `\t\\\\x${hexDigits(e.txHash)}\t${e.logIndex}\t${e.blockNumber}\t\\\\x${hexDigits(e.blockHash)}` +
      `\t${iso(Number(blockTimes.get(e.blockNumber) ?? 0n))}\n`;
    const head = `${tenantIds[li]}\t`;
    const flags = later[li]!;
    for (let ri = 0; ri < e.records.length; ri++) {
      const r = e.records[ri]!;
      chunk += `${head}${r.meterId}\t${iso(r.periodStart)}\t${iso(r.periodEnd)}\t${r.quantity}\t${r.sequence}\t\\\\x${hexDigits(r.ref)}\t${ri}\t${flags[ri] ? "t" : "f"}${tail}`;
    }
    if (chunk.length > 256 * 1024) {
      yield chunk;
      chunk = "";
    }
  }
  if (chunk.length > 0) yield chunk;
}

const byTenantMeterBucket = (a: RollupDelta, b: RollupDelta): number => {
  const ta = BigInt(a.tenantId);
  const tb = BigInt(b.tenantId);
  return ta < tb ? -1 : ta > tb ? 1 : a.meterId - b.meterId || a.bucket - b.bucket;
};

/** What the records add, computed from the batch itself (every record was inserted). */
function writtenFromBatch(reveals: readonly Reveal[], tenantIds: readonly string[], later: readonly boolean[][]): WrittenRecords {
  const inserted = new Map<string, number>();
  const buckets = new Map<string, { tenantId: string; meterId: number; bucket: number; sum: bigint; max: bigint; count: number }>();
  reveals.forEach((e, li) => {
    const tenantId = tenantIds[li]!;
    inserted.set(tenantId, (inserted.get(tenantId) ?? 0) + e.records.length);
    e.records.forEach((r, ri) => {
      if (later[li]![ri]) return; // marked is_duplicate: not usage
      const bucket = r.periodStart - (r.periodStart % 3600); // bucketOf: the UTC hour of period_start
      const key = `${tenantId}:${r.meterId}:${bucket}`;
      const b = buckets.get(key);
      if (b === undefined) {
        buckets.set(key, { tenantId, meterId: r.meterId, bucket, sum: r.quantity, max: r.quantity, count: 1 });
      } else {
        b.sum += r.quantity;
        if (r.quantity > b.max) b.max = r.quantity;
        b.count++;
      }
    });
  });
  const rollups = [...buckets.values()].map((b) => ({ ...b, sum: b.sum.toString(), max: b.max.toString() })).sort(byTenantMeterBucket);
  return { rollups, inserted };
}

/**
 * The fast path: one COPY of the reveals' records straight into usage_records, as the loader role.
 * It assumes the common case and lets the table's unique indexes check it:
 *   - no log of the batch is stored yet (not a replay): the primary key (identity) refuses any
 *     record already stored;
 *   - no record's non-zero ref has a stored first occurrence: usage_records_first_ref (at most one
 *     first occurrence per tenant and key) refuses a record marked first whose key is stored as a
 *     first occurrence already. Later occurrences within the batch are marked before the COPY.
 * When either does not hold, the COPY fails with a unique violation, is rolled back to its
 * savepoint, and this returns null: the caller takes the careful path, which probes both. So a
 * successful COPY wrote exactly what the careful path would have, and the rollup deltas and counts
 * follow from the batch itself. Also null when a tenant is not known (the careful path then fails
 * loudly on it), and when the loader may no longer insert (its grant revoked while running).
 */
export async function copyUsageRecordsStraight(
  client: pg.PoolClient,
  contract: ContractRef,
  reveals: readonly Reveal[],
  blockTimes: ReadonlyMap<bigint, bigint>,
  loader: UsageLoader,
): Promise<WrittenRecords | null> {
  if (reveals.length === 0) return { rollups: [], inserted: new Map() };
  const { rows } = await client.query<{ onchain_id: number; id: string }>(
    "SELECT onchain_id, id::text AS id FROM tenants WHERE contract_id = $1 AND onchain_id = ANY($2::int[])",
    [contract.id, [...new Set(reveals.map((e) => e.tenantId))]],
  );
  const byOnchain = new Map(rows.map((r) => [r.onchain_id, r.id]));
  const tenantIds: string[] = [];
  for (const e of reveals) {
    const id = byOnchain.get(e.tenantId);
    if (id === undefined) return null;
    tenantIds.push(id);
  }
  const later = laterInBatch(reveals);
  await client.query("SAVEPOINT usage_copy");
  try {
    await client.query("SELECT set_config('role', $1, true)", [loader.role]);
    await pipeline(
      Readable.from(copyStraightRows(contract, reveals, tenantIds, later, blockTimes)),
      client.query(copyFrom(`COPY usage_records (${COPY_COLUMNS}) FROM STDIN`)),
    );
    await client.query("SELECT set_config('role', $1, true)", [loader.restore]);
    await client.query("RELEASE SAVEPOINT usage_copy");
  } catch (err) {
    // 23505: the batch is not the usual one. 42501: the loader lost its grant or membership after
    // the indexer started (an operator revoked it); the careful path needs neither.
    if (!STRAIGHT_FALLBACK_CODES.has((err as { code?: string }).code ?? "")) throw err;
    // Undoes the rows and the switch of role (a setting made inside a savepoint ends with it).
    await client.query("ROLLBACK TO SAVEPOINT usage_copy");
    return null;
  }
  return writtenFromBatch(reveals, tenantIds, later);
}

/** What a reorg took out of usage_records. */
export interface DeletedRecords {
  /** Rollup buckets that lost records (any: recomputing a bucket is always correct). */
  buckets: RollupBucket[];
  /** Internal tenant id -> records deleted. */
  deleted: Map<string, number>;
  /** (tenant, ref) of deleted first occurrences: a later occurrence may now be the first. */
  firstRefs: { tenantId: string; ref: Buffer }[];
}

/** Deletes the records above `block` (a reorg). */
export async function deleteUsageRecordsAbove(client: pg.PoolClient, contractId: number, block: bigint): Promise<DeletedRecords> {
  const { rows } = await client.query<{ tenant_id: string; meter_id: number; bucket: string; count: number; refs: Buffer[] }>(
    `WITH del AS (
       -- Through the contract's tenants, so each is an index range on (tenant_id, block_number).
       DELETE FROM usage_records
       WHERE tenant_id IN (SELECT id FROM tenants WHERE contract_id = $1) AND contract_id = $1 AND block_number > $2
       RETURNING tenant_id, meter_id, ${bucketOf("period_start")} AS bucket, ref, is_duplicate
     )
     SELECT tenant_id::text AS tenant_id, meter_id, extract(epoch FROM bucket)::bigint AS bucket, count(*)::int AS count,
            coalesce(array_agg(DISTINCT ref) FILTER (WHERE NOT is_duplicate AND ref <> ${ZERO_REF_SQL}), '{}') AS refs
     FROM del GROUP BY del.tenant_id, meter_id, del.bucket`,
    [contractId, block.toString()],
  );
  const deleted = new Map<string, number>();
  const firstRefs = new Map<string, { tenantId: string; ref: Buffer }>();
  for (const r of rows) {
    deleted.set(r.tenant_id, (deleted.get(r.tenant_id) ?? 0) + r.count);
    for (const ref of r.refs) firstRefs.set(`${r.tenant_id}:${ref.toString("hex")}`, { tenantId: r.tenant_id, ref });
  }
  return {
    buckets: rows.map((r) => ({ tenantId: r.tenant_id, meterId: r.meter_id, bucket: Number(r.bucket) })),
    deleted,
    firstRefs: [...firstRefs.values()],
  };
}

/**
 * After first occurrences were deleted: for each (tenant, ref), the earliest remaining occurrence in
 * chain order becomes the first (unless a first one remains). Returns the rollup buckets of the
 * promoted records, which now count. (A reorg deletes a suffix of the chain, which holds every
 * later occurrence of a first one it deletes, so this promotes nothing then; it keeps the rule true
 * whatever removed the records.)
 */
export async function promoteNextOccurrences(client: pg.PoolClient, firstRefs: readonly { tenantId: string; ref: Buffer }[]): Promise<RollupBucket[]> {
  if (firstRefs.length === 0) return [];
  const { rows } = await client.query<{ tenant_id: string; meter_id: number; bucket: string }>(
    `WITH next AS (
       SELECT DISTINCT ON (d.tenant_id, d.ref) d.tenant_id, d.reporter, d.sequence
         FROM unnest($1::bigint[], $2::bytea[]) AS k(t, ref)
         JOIN usage_records d ON d.tenant_id = k.t AND d.ref = k.ref AND d.is_duplicate
        WHERE NOT EXISTS (SELECT 1 FROM usage_records f
                           WHERE f.tenant_id = k.t AND f.ref = k.ref AND NOT f.is_duplicate AND f.ref <> ${ZERO_REF_SQL})
        ORDER BY d.tenant_id, d.ref, d.block_number, d.log_index, d.record_index
     )
     UPDATE usage_records r SET is_duplicate = false
       FROM next
      WHERE r.tenant_id = next.tenant_id AND r.reporter = next.reporter AND r.sequence = next.sequence
     RETURNING r.tenant_id::text AS tenant_id, r.meter_id, extract(epoch FROM ${bucketOf("r.period_start")})::bigint AS bucket`,
    [firstRefs.map((f) => f.tenantId), firstRefs.map((f) => f.ref)],
  );
  return rows.map((r) => ({ tenantId: r.tenant_id, meterId: r.meter_id, bucket: Number(r.bucket) }));
}
