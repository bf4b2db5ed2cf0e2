import type pg from "pg";
import { CHANNELS, encodeNotice } from "../../db/channels";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { from as copyFrom } from "pg-copy-streams";
import type { UsageMeterEvent } from "../../chain/events";
import { bytes32ToText } from "../../chain/hex";
import type { FetchedBatch } from "../fetch";
import type { ContractRef } from "./contract";


const h = (x: string): string => (x.startsWith("0x") ? x.slice(2) : x).toLowerCase();

export interface BatchResult {
  records: number;
  /** Internal tenant ids whose usage changed, with the number of new records. */
  tenants: { tenantId: string; records: number }[];
}

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
function* copyRows(reveals: Ev<"UsageRevealed">[]): Generator<string> {
  let chunk = "";
  for (let li = 0; li < reveals.length; li++) {
    const log = li + 1;
    const records = reveals[li]!.records;
    for (let ri = 0; ri < records.length; ri++) {
      const r = records[ri]!;
      chunk += `${log}\t${r.meterId}\t${r.periodStart}\t${r.periodEnd}\t${r.quantity}\t${r.sequence}\t\\\\x${h(r.ref)}\t${ri}\n`;
    }
    if (chunk.length > 256 * 1024) {
      yield chunk;
      chunk = "";
    }
  }
  if (chunk.length > 0) yield chunk;
}

type Ev<K extends UsageMeterEvent["kind"]> = Extract<UsageMeterEvent, { kind: K }>;

/**
 * Applies one fetched batch and moves the checkpoint, inside the caller's transaction. Every
 * insert is keyed by its log (ON CONFLICT DO NOTHING), so re-applying a batch whose commit was
 * in doubt changes nothing; rollups are added from the rows the insert actually returned, so they
 * can never count a record twice. One statement per table, columns passed as arrays to unnest.
 *
 * Usage records skip ON CONFLICT (its speculative insertion cost ~25% of the insert): a log's
 * records are always written and reverted together (same transaction, same block), so one
 * primary-key probe per log decides whether its records are already stored. The primary key still
 * guards them, so anything that broke that assumption would fail the batch, never duplicate a row.
 */
export async function writeBatch(
  client: pg.PoolClient,
  contract: ContractRef,
  batch: FetchedBatch,
  opts: { pruneBelow: bigint; copy?: boolean },
): Promise<BatchResult> {
  const cid = contract.id;
  const chain = contract.chainId;
  const time = (n: bigint): number => Number(batch.blockTimes.get(n) ?? 0n);
  const by = <K extends UsageMeterEvent["kind"]>(...kinds: K[]): Ev<K>[] =>
    batch.events.filter((e): e is Ev<K> => (kinds as string[]).includes(e.kind));
  const pos = (es: UsageMeterEvent[]) => [
    es.map((e) => h(e.txHash)),
    es.map((e) => e.logIndex),
    es.map((e) => e.blockNumber.toString()),
    es.map((e) => h(e.blockHash)),
  ];

  const tenants = by("TenantRegistered");
  if (tenants.length > 0) {
    await client.query(
      `INSERT INTO tenants (contract_id, onchain_id, slug, chain_id, tx_hash, log_index, block_number, block_hash)
       SELECT $1, u.onchain_id, u.slug, $2, decode(u.tx, 'hex'), u.li, u.bn, decode(u.bh, 'hex')
       FROM unnest($3::int[], $4::text[], $5::text[], $6::int[], $7::bigint[], $8::text[]) AS u(onchain_id, slug, tx, li, bn, bh)
       ON CONFLICT (contract_id, onchain_id) DO NOTHING`,
      [cid, chain, tenants.map((e) => e.tenantId), tenants.map((e) => bytes32ToText(e.name)), ...pos(tenants)],
    );
  }

  const meters = by("MeterRegistered");
  if (meters.length > 0) {
    await client.query(
      `INSERT INTO meters (tenant_id, meter_id, name, chain_id, tx_hash, log_index, block_number, block_hash)
       SELECT t.id, u.meter_id, u.name, $2, decode(u.tx, 'hex'), u.li, u.bn, decode(u.bh, 'hex')
       FROM unnest($3::int[], $4::int[], $5::text[], $6::text[], $7::int[], $8::bigint[], $9::text[])
         AS u(onchain_tenant, meter_id, name, tx, li, bn, bh)
       LEFT JOIN tenants t ON t.contract_id = $1 AND t.onchain_id = u.onchain_tenant
       ON CONFLICT DO NOTHING`,
      [cid, chain, meters.map((e) => e.tenantId), meters.map((e) => e.meterId), meters.map((e) => bytes32ToText(e.name)), ...pos(meters)],
    );
  }

  const reporters = by("ReporterAuthorized", "ReporterRevoked");
  if (reporters.length > 0) {
    await client.query(
      `INSERT INTO reporter_events (tenant_id, reporter, authorized, chain_id, tx_hash, log_index, block_number, block_hash)
       SELECT t.id, decode(u.reporter, 'hex'), u.authorized, $2, decode(u.tx, 'hex'), u.li, u.bn, decode(u.bh, 'hex')
       FROM unnest($3::int[], $4::text[], $5::bool[], $6::text[], $7::int[], $8::bigint[], $9::text[])
         AS u(onchain_tenant, reporter, authorized, tx, li, bn, bh)
       LEFT JOIN tenants t ON t.contract_id = $1 AND t.onchain_id = u.onchain_tenant
       ON CONFLICT DO NOTHING`,
      [
        cid,
        chain,
        reporters.map((e) => e.tenantId),
        reporters.map((e) => h(e.reporter)),
        reporters.map((e) => e.kind === "ReporterAuthorized"),
        ...pos(reporters),
      ],
    );
  }

  const commits = by("Committed");
  if (commits.length > 0) {
    await client.query(
      `INSERT INTO commitments (tenant_id, contract_id, reporter, commitment, relayer, status, chain_id,
                                tx_hash, log_index, block_number, block_hash, block_time)
       SELECT t.id, $1, decode(u.reporter, 'hex'), decode(u.commitment, 'hex'), decode(u.relayer, 'hex'), 'committed', $2,
              decode(u.tx, 'hex'), u.li, u.bn, decode(u.bh, 'hex'), to_timestamp(u.bt)
       FROM unnest($3::int[], $4::text[], $5::text[], $6::text[], $7::text[], $8::int[], $9::bigint[], $10::text[], $11::bigint[])
         AS u(onchain_tenant, reporter, commitment, relayer, tx, li, bn, bh, bt)
       LEFT JOIN tenants t ON t.contract_id = $1 AND t.onchain_id = u.onchain_tenant
       ON CONFLICT DO NOTHING`,
      [
        cid,
        chain,
        commits.map((e) => e.tenantId),
        commits.map((e) => h(e.reporter)),
        commits.map((e) => h(e.commitment)),
        commits.map((e) => h(e.relayer)),
        ...pos(commits),
        commits.map((e) => Number(time(e.blockNumber))),
      ],
    );
  }

  const reveals = by("UsageRevealed");
  let result: BatchResult = { records: 0, tenants: [] };
  if (reveals.length > 0) {
    // Per-log values (tenant, reporter, commitment, tx, block) travel once per log; per-record
    // arrays carry only the record fields and the log's position in the log arrays. The tenant is
    // resolved in SQL (LEFT JOIN so an unknown tenant fails the NOT NULL constraint loudly instead
    // of dropping rows).
    const n = reveals.reduce((s, e) => s + e.records.length, 0);
    const logsSql = `WITH logs AS (
         SELECT l.*, t.id AS tenant_id,
                EXISTS (SELECT 1 FROM usage_records r
                        WHERE r.chain_id = $2 AND r.tx_hash = decode(l.tx, 'hex') AND r.log_index = l.li) AS written
         FROM unnest($3::int[], $4::text[], $5::text[], $6::text[], $7::int[], $8::bigint[], $9::text[], $10::bigint[])
           WITH ORDINALITY AS l(onchain_tenant, reporter, commitment, tx, li, bn, bh, bt, ord)
         LEFT JOIN tenants t ON t.contract_id = $1 AND t.onchain_id = l.onchain_tenant
       )`;
    const logParams = [
      cid,
      chain,
      reveals.map((e) => e.tenantId),
      reveals.map((e) => h(e.reporter)),
      reveals.map((e) => h(e.commitment)),
      ...pos(reveals),
      reveals.map((e) => time(e.blockNumber)),
    ];
    let source: string;
    let params: unknown[];
    if (opts.copy) {
      // Server mode: the records stream into a per-connection staging table with COPY (no array
      // literals to build and parse), then the same keyed INSERT ... ON CONFLICT DO NOTHING copies
      // them over. The staging table empties itself at commit or rollback, so a retried batch starts
      // clean and the primary key still decides what is new.
      await client.query(STAGE_DDL);
      await pipeline(Readable.from(copyRows(reveals)), client.query(copyFrom(`COPY ${STAGE} (log, meter_id, ps, pe, qty, seq, ref, ri) FROM STDIN`)));
      source = `${STAGE} AS u`;
      params = logParams;
    } else {
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
          rec.ref[i] = h(r.ref);
          rec.ri[i] = ri;
          i++;
        });
      });
      source = `(SELECT x.log, x.meter_id, x.ps, x.pe, x.qty, x.seq, decode(x.ref, 'hex') AS ref, x.ri
           FROM unnest($11::int[], $12::int[], $13::bigint[], $14::bigint[], $15::numeric[], $16::numeric[], $17::text[], $18::int[])
             AS x(log, meter_id, ps, pe, qty, seq, ref, ri)) AS u`;
      params = [...logParams, rec.log, rec.meter, rec.ps, rec.pe, rec.qty, rec.seq, rec.ref, rec.ri];
    }
    const { rows } = await client.query<{ tenant_id: string; records: number }>(
      `${logsSql}, ins AS (
         INSERT INTO usage_records (tenant_id, meter_id, period_start, period_end, quantity, sequence, ref, reporter,
                                    commitment, contract_id, chain_id, tx_hash, log_index, record_index,
                                    block_number, block_hash, block_time)
         SELECT l.tenant_id, u.meter_id, to_timestamp(u.ps), to_timestamp(u.pe), u.qty, u.seq, u.ref,
                decode(l.reporter, 'hex'), decode(l.commitment, 'hex'), $1, $2, decode(l.tx, 'hex'), l.li, u.ri,
                l.bn, decode(l.bh, 'hex'), to_timestamp(l.bt)
         FROM ${source}
         JOIN logs l ON l.ord = u.log AND NOT l.written
         RETURNING tenant_id, meter_id, period_start, quantity
       ), rolled AS (
         INSERT INTO usage_rollups (tenant_id, meter_id, bucket_start, quantity_sum, quantity_max, record_count)
         SELECT tenant_id, meter_id, date_trunc('hour', period_start, 'UTC'), sum(quantity), max(quantity), count(*)
         FROM ins GROUP BY 1, 2, 3
         ON CONFLICT (tenant_id, meter_id, bucket_start) DO UPDATE
           SET quantity_sum = usage_rollups.quantity_sum + EXCLUDED.quantity_sum,
               quantity_max = GREATEST(usage_rollups.quantity_max, EXCLUDED.quantity_max),
               record_count = usage_rollups.record_count + EXCLUDED.record_count
       )
       SELECT tenant_id::text AS tenant_id, count(*)::int AS records FROM ins GROUP BY tenant_id ORDER BY tenant_id`,
      params,
    );
    result = { records: rows.reduce((s, r) => s + r.records, 0), tenants: rows.map((r) => ({ tenantId: r.tenant_id, records: r.records })) };
  }

  // A reveal or expiry resolves the latest commit of that (reporter, commitment) before it: the
  // contract only ever acts on the most recent commit of a pair, even when a lapsed one was
  // re-committed in the same batch.
  const resolutions = by("UsageRevealed", "CommitmentExpired");
  if (resolutions.length > 0) {
    const { rowCount } = await client.query(
      `UPDATE commitments c
       SET status = r.status, resolved_tx_hash = decode(r.tx, 'hex'), resolved_log_index = r.li,
           resolved_block_number = r.bn, resolved_block_hash = decode(r.bh, 'hex'), resolved_block_time = to_timestamp(r.bt)
       FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::int[], $7::bigint[], $8::text[], $9::bigint[])
         AS r(status, reporter, commitment, tx, li, bn, bh, bt)
       CROSS JOIN LATERAL (
         SELECT p.chain_id, p.tx_hash, p.log_index FROM commitments p
         WHERE p.contract_id = $1 AND p.reporter = decode(r.reporter, 'hex') AND p.commitment = decode(r.commitment, 'hex')
           AND (p.block_number, p.log_index) < (r.bn, r.li)
         ORDER BY p.block_number DESC, p.log_index DESC LIMIT 1
       ) target
       WHERE c.chain_id = target.chain_id AND c.tx_hash = target.tx_hash AND c.log_index = target.log_index`,
      [
        cid,
        resolutions.map((e) => (e.kind === "UsageRevealed" ? "revealed" : "expired")),
        resolutions.map((e) => h(e.reporter)),
        resolutions.map((e) => h(e.commitment)),
        ...pos(resolutions),
        resolutions.map((e) => time(e.blockNumber)),
      ],
    );
    if (rowCount !== resolutions.length) {
      throw new Error(`resolved ${rowCount} commitments for ${resolutions.length} reveal/expiry events`);
    }
  }

  const headers = batch.headers;
  await client.query(
    `WITH b AS (
       INSERT INTO blocks (contract_id, number, hash, parent_hash, block_time)
       SELECT $1, u.n, decode(u.h, 'hex'), decode(u.p, 'hex'), to_timestamp(u.t)
       FROM unnest($2::bigint[], $3::text[], $4::text[], $5::bigint[]) AS u(n, h, p, t)
       ON CONFLICT (contract_id, number) DO UPDATE
         SET hash = EXCLUDED.hash, parent_hash = EXCLUDED.parent_hash, block_time = EXCLUDED.block_time
     ), pruned AS (
       DELETE FROM blocks WHERE contract_id = $1 AND number < $6
     )
     INSERT INTO checkpoints (contract_id, block_number, block_hash, block_time, updated_at)
     VALUES ($1, $7, decode($8, 'hex'), to_timestamp($9), now())
     ON CONFLICT (contract_id) DO UPDATE
       SET block_number = EXCLUDED.block_number, block_hash = EXCLUDED.block_hash,
           block_time = EXCLUDED.block_time, updated_at = now()`,
    [
      cid,
      headers.map((x) => x.number.toString()),
      headers.map((x) => h(x.hash)),
      headers.map((x) => h(x.parentHash)),
      headers.map((x) => Number(x.timestamp)),
      opts.pruneBelow.toString(),
      batch.last.number.toString(),
      h(batch.last.hash),
      Number(batch.last.timestamp),
    ],
  );

  if (result.tenants.length > 0) {
    await client.query(`SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p`, [
      CHANNELS.usage,
      result.tenants.map((t) => encodeNotice(CHANNELS.usage, { tenantId: t.tenantId, records: t.records, toBlock: batch.to.toString() })),
    ]);
  }
  return result;
}
