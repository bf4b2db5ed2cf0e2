/**
 * Ground truth computed straight from the chain with viem's ABI decoder (independent of the
 * indexer's decoding), and a comparison with what the indexer wrote.
 */
import type pg from "pg";
import { hexToString, parseEventLogs, type Address, type Hex, type PublicClient } from "viem";
import { usageMeterAbi } from "../../../chain/abi.generated";
import { decodeRecordWord } from "../../../chain/record";

export interface Truth {
  head: { number: bigint; hash: Hex };
  /** `${tx}:${logIndex}:${recordIndex}` -> quantity */
  records: Map<string, bigint>;
  /** Keys of records that repeat an earlier non-zero ref of their tenant (chain order). */
  duplicates: Set<string>;
  /** `${slug}|${meterId}|${bucketIso}` -> sum, max, count */
  rollups: Map<string, { sum: bigint; max: bigint; count: number }>;
  /** `${tx}:${logIndex}` of Committed -> status */
  commitments: Map<string, string>;
  tenants: Set<string>;
  meters: number;
  reporterEvents: number;
}

export async function groundTruth(pub: PublicClient, address: Address, fromBlock: bigint): Promise<Truth> {
  const headBlock = await pub.getBlock({ blockTag: "latest" });
  const raw = await pub.getLogs({ address, fromBlock, toBlock: headBlock.number });
  const logs = parseEventLogs({ abi: usageMeterAbi, logs: raw });
  const blockTimes = new Map<bigint, bigint>();
  const truth: Truth = {
    head: { number: headBlock.number, hash: headBlock.hash },
    records: new Map(),
    duplicates: new Set(),
    rollups: new Map(),
    commitments: new Map(),
    tenants: new Set(),
    meters: 0,
    reporterEvents: 0,
  };
  const slugs = new Map<number, string>();
  const latestCommit = new Map<string, string>();
  const firstRefs = new Set<string>();
  const zeroRef = `0x${"00".repeat(32)}`;
  for (const log of logs) {
    const key = `${log.transactionHash.toLowerCase()}:${log.logIndex}`;
    const a = log.args as Record<string, unknown>;
    switch (log.eventName) {
      case "TenantRegistered": {
        const slug = hexToString(a.name as Hex, { size: 32 });
        slugs.set(Number(a.tenantId), slug);
        truth.tenants.add(slug);
        break;
      }
      case "MeterRegistered":
        truth.meters++;
        break;
      case "ReporterAuthorized":
      case "ReporterRevoked":
        truth.reporterEvents++;
        break;
      case "Committed":
        truth.commitments.set(key, "committed");
        latestCommit.set(`${(a.reporter as string).toLowerCase()}:${a.commitment as string}`, key);
        break;
      case "CommitmentExpired":
      case "UsageRevealed": {
        const target = latestCommit.get(`${(a.reporter as string).toLowerCase()}:${a.commitment as string}`);
        if (!target) throw new Error(`resolution without a commit at ${key}`);
        truth.commitments.set(target, log.eventName === "UsageRevealed" ? "revealed" : "expired");
        if (log.eventName === "UsageRevealed") {
          if (!blockTimes.has(log.blockNumber)) blockTimes.set(log.blockNumber, (await pub.getBlock({ blockNumber: log.blockNumber })).timestamp);
          const records = a.records as readonly { packed: bigint; ref: Hex }[];
          records.forEach((r, i) => {
            const f = decodeRecordWord(r.packed);
            truth.records.set(`${key}:${i}`, f.quantity);
            const refKey = `${Number(a.tenantId)}:${r.ref.toLowerCase()}`;
            if (r.ref.toLowerCase() !== zeroRef) {
              if (firstRefs.has(refKey)) {
                truth.duplicates.add(`${key}:${i}`);
                return; // a duplicate is not usage: not in the rollups
              }
              firstRefs.add(refKey);
            }
            const bucket = new Date(Math.floor(f.periodStart / 3600) * 3600 * 1000).toISOString();
            const rk = `${slugs.get(Number(a.tenantId))}|${f.meterId}|${bucket}`;
            const cur = truth.rollups.get(rk) ?? { sum: 0n, max: 0n, count: 0 };
            truth.rollups.set(rk, { sum: cur.sum + f.quantity, max: f.quantity > cur.max ? f.quantity : cur.max, count: cur.count + 1 });
          });
        }
        break;
      }
      default:
        break;
    }
  }
  return truth;
}

export interface Comparison {
  lost: number;
  duplicated: number;
  problems: string[];
}

/** Compares the database with the truth. lost/duplicated count usage records; problems lists every other difference. */
export async function compareWithTruth(pool: pg.Pool, truth: Truth): Promise<Comparison> {
  const problems: string[] = [];
  const { rows: recs } = await pool.query<{ k: string; quantity: string; dup: boolean }>(
    `SELECT '0x' || encode(tx_hash, 'hex') || ':' || log_index || ':' || record_index AS k, quantity::text AS quantity, is_duplicate AS dup
       FROM usage_records`,
  );
  const seen = new Set<string>();
  let duplicated = 0;
  let wrongQuantity = 0;
  let wrongDuplicate = 0;
  for (const r of recs) {
    if (seen.has(r.k) || !truth.records.has(r.k)) duplicated++;
    else if (truth.records.get(r.k) !== BigInt(r.quantity)) wrongQuantity++;
    else if (truth.duplicates.has(r.k) !== r.dup) wrongDuplicate++;
    seen.add(r.k);
  }
  let lost = 0;
  for (const k of truth.records.keys()) if (!seen.has(k)) lost++;
  if (wrongQuantity > 0) problems.push(`${wrongQuantity} records with a wrong quantity`);
  if (wrongDuplicate > 0) problems.push(`${wrongDuplicate} records with a wrong is_duplicate`);

  const { rows: rolls } = await pool.query<{ k: string; s: string; m: string; c: string }>(
    `SELECT t.slug || '|' || r.meter_id || '|' || to_char(r.bucket_start AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.000"Z"') AS k,
            r.quantity_sum::text AS s, r.quantity_max::text AS m, r.record_count::text AS c
     FROM usage_rollups r JOIN tenants t ON t.id = r.tenant_id`,
  );
  const rollKeys = new Set<string>();
  for (const r of rolls) {
    rollKeys.add(r.k);
    const t = truth.rollups.get(r.k);
    if (!t) problems.push(`extra rollup ${r.k}`);
    else if (t.sum !== BigInt(r.s) || t.max !== BigInt(r.m) || t.count !== Number(r.c)) {
      problems.push(`rollup ${r.k}: db ${r.s}/${r.m}/${r.c} chain ${t.sum}/${t.max}/${t.count}`);
    }
  }
  for (const k of truth.rollups.keys()) if (!rollKeys.has(k)) problems.push(`missing rollup ${k}`);

  const { rows: coms } = await pool.query<{ k: string; status: string }>(
    `SELECT '0x' || encode(tx_hash, 'hex') || ':' || log_index AS k, status FROM commitments`,
  );
  if (coms.length !== truth.commitments.size) problems.push(`commitments: db ${coms.length} chain ${truth.commitments.size}`);
  for (const c of coms) {
    const s = truth.commitments.get(c.k);
    if (s !== c.status) problems.push(`commitment ${c.k}: db ${c.status} chain ${s ?? "absent"}`);
  }

  const { rows: ten } = await pool.query<{ slug: string }>("SELECT slug FROM tenants");
  const dbSlugs = new Set(ten.map((t) => t.slug));
  if (dbSlugs.size !== truth.tenants.size || [...truth.tenants].some((s) => !dbSlugs.has(s))) {
    problems.push(`tenants: db ${[...dbSlugs].join(",")} chain ${[...truth.tenants].join(",")}`);
  }
  const { rows: counts } = await pool.query<{ meters: number; reporters: number }>(
    "SELECT (SELECT count(*) FROM meters)::int AS meters, (SELECT count(*) FROM reporter_events)::int AS reporters",
  );
  if (counts[0]!.meters !== truth.meters) problems.push(`meters: db ${counts[0]!.meters} chain ${truth.meters}`);
  if (counts[0]!.reporters !== truth.reporterEvents) problems.push(`reporter events: db ${counts[0]!.reporters} chain ${truth.reporterEvents}`);
  return { lost, duplicated, problems: problems.slice(0, 20) };
}

/** Resolves once the checkpoint sits on `head` (same number and hash). */
export async function waitForCheckpoint(pool: pg.Pool, head: { number: bigint; hash: Hex }, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { rows } = await pool
      .query<{ n: string; h: string }>("SELECT block_number::text AS n, '0x' || encode(block_hash, 'hex') AS h FROM checkpoints")
      .catch(() => ({ rows: [] as { n: string; h: string }[] }));
    const r = rows[0];
    if (r && BigInt(r.n) === head.number && r.h.toLowerCase() === head.hash.toLowerCase()) return;
    if (Date.now() > deadline) {
      throw new Error(`checkpoint ${r ? `${r.n} ${r.h}` : "none"} did not reach ${head.number} ${head.hash} in ${timeoutMs} ms`);
    }
    await new Promise((res) => setTimeout(res, 25));
  }
}
