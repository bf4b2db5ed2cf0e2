import type pg from "pg";
import { createPublicClient, http, parseEventLogs, type Address, type PublicClient } from "viem";
import type { AuditItem, AuditSection } from "./chain-audit";
import { usageMeterAbi } from "../../chain/abi.generated";
import { decodeRecordWord } from "../../chain/record";
import { invoiceContentHash } from "../../rating/invoice";
import { loadTenantParties } from "../../billing/store/tenants";
import { toHex } from "../../chain/hex";
import { loadInvoiceContent } from "../../billing/store/invoice-store";
import { recomputeInvoice } from "../../rating/recompute";

/**
 * Off-chain side of `meter:audit --database`: reconciles the indexer's database with the chain and
 * billing with its own evidence. Checks, up to each contract's indexed block:
 *  - every UsageRevealed record, Committed and CommitmentExpired event is in the database exactly
 *    once, with the same fields, and nothing else is;
 *  - is_duplicate marks exactly the later occurrences (chain order) of each tenant's non-zero ref;
 *  - usage_rollups equal the aggregates of the usage_records that count (not duplicates);
 *  - invoice lines equal the aggregates of the records they cite, and those records exist;
 *  - finalized invoices are unchanged since finalization (content hash recomputed).
 * Returns sections in the shape of scripts/audit/chain-audit.ts so the task renders one report.
 */
export interface DatabaseAuditOptions {
  db: { pool: pg.Pool };
  /** JSON-RPC endpoint of the chain; or pass `client`. */
  rpcUrl?: string;
  client?: PublicClient;
  /** Blocks per eth_getLogs request. */
  logChunkSize?: number;
  /** Example keys listed per finding. */
  maxExamples?: number;
}

export interface DatabaseAuditResult {
  ok: boolean;
  sections: AuditSection[];
}

const ok = (label: string, summary: string, details?: Record<string, unknown>): AuditItem => ({ label, status: "ok", summary, ...(details ? { details } : {}) });
const attention = (label: string, summary: string, details?: Record<string, unknown>): AuditItem => ({
  label,
  status: "attention",
  summary,
  ...(details ? { details } : {}),
});

interface ChainRecord {
  tenant: number;
  reporter: string;
  commitment: string;
  meterId: number;
  periodStart: number;
  periodEnd: number;
  sequence: bigint;
  quantity: bigint;
  ref: string;
  blockNumber: bigint;
}
interface ChainCommit {
  tenant: number;
  reporter: string;
  commitment: string;
  blockNumber: bigint;
}

async function chainEvents(client: PublicClient, address: Address, from: bigint, to: bigint, chunk: bigint) {
  const records = new Map<string, ChainRecord>();
  const committed = new Map<string, ChainCommit>();
  const expired = new Map<string, ChainCommit>();
  const revealed = new Set<string>();
  for (let start = from; start <= to; start += chunk) {
    const end = start + chunk - 1n < to ? start + chunk - 1n : to;
    const logs = parseEventLogs({ abi: usageMeterAbi, logs: await client.getLogs({ address, fromBlock: start, toBlock: end }) });
    for (const log of logs) {
      const key = `${log.transactionHash.toLowerCase()}:${log.logIndex}`;
      if (log.eventName === "UsageRevealed") {
        revealed.add(key);
        log.args.records.forEach((r, i) => {
          const f = decodeRecordWord(r.packed);
          records.set(`${key}:${i}`, {
            tenant: log.args.tenantId,
            reporter: log.args.reporter.toLowerCase(),
            commitment: log.args.commitment.toLowerCase(),
            meterId: f.meterId,
            periodStart: f.periodStart,
            periodEnd: f.periodEnd,
            sequence: f.sequence,
            quantity: f.quantity,
            ref: r.ref.toLowerCase(),
            blockNumber: log.blockNumber,
          });
        });
      } else if (log.eventName === "Committed" || log.eventName === "CommitmentExpired") {
        (log.eventName === "Committed" ? committed : expired).set(key, {
          tenant: log.args.tenantId,
          reporter: log.args.reporter.toLowerCase(),
          commitment: log.args.commitment.toLowerCase(),
          blockNumber: log.blockNumber,
        });
      }
    }
  }
  return { records, committed, expired, revealed };
}

/** Compares two keyed sets: missing (chain only), extra (database only), differing (same key). */
function reconcile<A, B>(chain: Map<string, A>, db: Map<string, B>, same: (a: A, b: B) => string | null) {
  const missing: string[] = [];
  const extra: string[] = [];
  const differing: Array<{ key: string; difference: string }> = [];
  for (const [k, a] of chain) {
    const b = db.get(k);
    if (b === undefined) missing.push(k);
    else {
      const d = same(a, b);
      if (d) differing.push({ key: k, difference: d });
    }
  }
  for (const k of db.keys()) if (!chain.has(k)) extra.push(k);
  return { missing, extra, differing };
}

function reconcileItem(
  label: string,
  what: string,
  counts: { chain: number; db: number },
  r: { missing: string[]; extra: string[]; differing: Array<{ key: string; difference: string }> },
  maxExamples: number,
): AuditItem {
  if (r.missing.length === 0 && r.extra.length === 0 && r.differing.length === 0) {
    return ok(label, `${counts.chain} ${what} on chain, all in the database exactly once`, counts);
  }
  return attention(
    label,
    `${what}: ${r.missing.length} missing from the database, ${r.extra.length} not on chain, ${r.differing.length} differ`,
    {
      ...counts,
      missing: r.missing.slice(0, maxExamples),
      extra: r.extra.slice(0, maxExamples),
      differing: r.differing.slice(0, maxExamples),
    },
  );
}

export async function auditDatabase(options: DatabaseAuditOptions): Promise<DatabaseAuditResult> {
  const { pool } = options.db;
  const max = options.maxExamples ?? 10;
  const client = options.client ?? (options.rpcUrl ? (createPublicClient({ transport: http(options.rpcUrl, { retryCount: 2 }) }) as PublicClient) : null);
  if (!client) throw new Error("auditDatabase needs rpcUrl or client");
  const chunk = BigInt(options.logChunkSize ?? 2_000);
  const sections: AuditSection[] = [];

  const chainItems: AuditItem[] = [];
  const { rows: contracts } = await pool.query<{ id: number; chain_id: string; address: Buffer; deploy_block: string; block_number: string | null }>(
    `SELECT c.id, c.chain_id, c.address, c.deploy_block, k.block_number
       FROM contracts c LEFT JOIN checkpoints k ON k.contract_id = c.id ORDER BY c.id`,
  );
  const rpcChain = BigInt(await client.getChainId());
  for (const c of contracts) {
    const address = toHex(c.address) as Address;
    const label = `${address} on chain ${c.chain_id}`;
    if (BigInt(c.chain_id) !== rpcChain) {
      chainItems.push(attention(`contract ${label}`, `the RPC endpoint serves chain ${rpcChain}; skipped`));
      continue;
    }
    if (c.block_number === null) {
      chainItems.push(ok(`contract ${label}`, "not indexed yet (no checkpoint); nothing to reconcile"));
      continue;
    }
    const to = BigInt(c.block_number);
    const events = await chainEvents(client, address, BigInt(c.deploy_block), to, chunk);
    const { rows: tenants } = await pool.query<{ id: string; onchain_id: number }>("SELECT id, onchain_id FROM tenants WHERE contract_id = $1", [c.id]);
    const onchainOf = new Map(tenants.map((t) => [t.id, t.onchain_id]));

    const { rows: recs } = await pool.query<{
      tenant_id: string;
      tx_hash: Buffer;
      log_index: number;
      record_index: number;
      reporter: Buffer;
      commitment: Buffer;
      meter_id: number;
      period_start: Date;
      period_end: Date;
      sequence: string;
      quantity: string;
      ref: Buffer;
      block_number: string;
    }>(
      `SELECT tenant_id, tx_hash, log_index, record_index, reporter, commitment, meter_id, period_start, period_end, sequence,
              quantity, ref, block_number
         FROM usage_records WHERE contract_id = $1 AND block_number <= $2`,
      [c.id, to.toString()],
    );
    const dbRecords = new Map(recs.map((r) => [`${toHex(r.tx_hash)}:${r.log_index}:${r.record_index}`, r]));
    const recordsResult = reconcile(events.records, dbRecords, (a, b) => {
      const diffs: string[] = [];
      if (onchainOf.get(b.tenant_id) !== a.tenant) diffs.push(`tenant ${onchainOf.get(b.tenant_id)} != ${a.tenant}`);
      if (b.meter_id !== a.meterId) diffs.push(`meter ${b.meter_id} != ${a.meterId}`);
      if (BigInt(b.quantity) !== a.quantity) diffs.push(`quantity ${b.quantity} != ${a.quantity}`);
      if (BigInt(b.sequence) !== a.sequence) diffs.push(`sequence ${b.sequence} != ${a.sequence}`);
      if (b.period_start.getTime() !== a.periodStart * 1000 || b.period_end.getTime() !== a.periodEnd * 1000) diffs.push("period differs");
      if (toHex(b.reporter) !== a.reporter) diffs.push("reporter differs");
      if (toHex(b.commitment) !== a.commitment) diffs.push("commitment differs");
      if (toHex(b.ref) !== a.ref) diffs.push("ref differs");
      if (BigInt(b.block_number) !== a.blockNumber) diffs.push(`block ${b.block_number} != ${a.blockNumber}`);
      return diffs.length ? diffs.join(", ") : null;
    });
    chainItems.push(reconcileItem(`usage records of ${label} to block ${to}`, "usage records", { chain: events.records.size, db: dbRecords.size }, recordsResult, max));

    const { rows: commits } = await pool.query<{
      tenant_id: string;
      tx_hash: Buffer;
      log_index: number;
      reporter: Buffer;
      commitment: Buffer;
      status: string;
      resolved_tx_hash: Buffer | null;
      resolved_log_index: number | null;
      resolved_block_number: string | null;
    }>(
      `SELECT tenant_id, tx_hash, log_index, reporter, commitment, status, resolved_tx_hash, resolved_log_index, resolved_block_number
         FROM commitments WHERE contract_id = $1 AND block_number <= $2`,
      [c.id, to.toString()],
    );
    const sameCommit = (a: ChainCommit, b: { tenant_id: string; reporter: Buffer; commitment: Buffer }) => {
      const diffs: string[] = [];
      if (onchainOf.get(b.tenant_id) !== a.tenant) diffs.push("tenant differs");
      if (toHex(b.reporter) !== a.reporter) diffs.push("reporter differs");
      if (toHex(b.commitment) !== a.commitment) diffs.push("commitment differs");
      return diffs.length ? diffs.join(", ") : null;
    };
    const dbCommitted = new Map(commits.map((r) => [`${toHex(r.tx_hash)}:${r.log_index}`, r]));
    chainItems.push(
      reconcileItem(`Committed events of ${label}`, "commitments", { chain: events.committed.size, db: dbCommitted.size }, reconcile(events.committed, dbCommitted, sameCommit), max),
    );
    const resolvedAtOrBelow = (r: (typeof commits)[number]) => r.resolved_block_number !== null && BigInt(r.resolved_block_number) <= to;
    const dbExpired = new Map(
      commits
        .filter((r) => r.status === "expired" && r.resolved_tx_hash && resolvedAtOrBelow(r))
        .map((r) => [`${toHex(r.resolved_tx_hash as Buffer)}:${r.resolved_log_index}`, r]),
    );
    chainItems.push(
      reconcileItem(`CommitmentExpired events of ${label}`, "expiries", { chain: events.expired.size, db: dbExpired.size }, reconcile(events.expired, dbExpired, sameCommit), max),
    );
    const badReveals = commits
      .filter((r) => r.status === "revealed" && r.resolved_tx_hash && resolvedAtOrBelow(r) && !events.revealed.has(`${toHex(r.resolved_tx_hash)}:${r.resolved_log_index}`))
      .map((r) => `${toHex(r.tx_hash)}:${r.log_index}`);
    chainItems.push(
      badReveals.length === 0
        ? ok(`reveals of ${label}`, "every revealed commitment points at a UsageRevealed log")
        : attention(`reveals of ${label}`, `${badReveals.length} commitments marked revealed by a log that is not a reveal`, { commitments: badReveals.slice(0, max) }),
    );
  }
  sections.push({ id: "database-chain", title: "Database vs chain (records and commitment events up to the indexed block)", items: chainItems });

  // Idempotency keys: the first occurrence of a tenant's non-zero ref in chain order counts, every
  // later one is marked is_duplicate (what the indexer maintains; billing, quotas and rollups rely on it).
  const { rows: wrongDuplicates } = await pool.query<{ tenant_id: string; key: string; marked: boolean; ref: string }>(
    `SELECT tenant_id::text AS tenant_id, '0x' || encode(reporter, 'hex') || ':' || sequence AS key, is_duplicate AS marked,
            '0x' || encode(ref, 'hex') AS ref
       FROM (SELECT tenant_id, reporter, sequence, ref, is_duplicate,
                    ref <> '\\x${"00".repeat(32)}'::bytea
                      AND row_number() OVER (PARTITION BY tenant_id, ref ORDER BY block_number, log_index, record_index) > 1 AS later
               FROM usage_records) r
      WHERE is_duplicate <> later
      ORDER BY 1, 2 LIMIT 1000`,
  );
  const { rows: duplicateCount } = await pool.query<{ n: string }>("SELECT count(*) AS n FROM usage_records WHERE is_duplicate");
  sections.push({
    id: "database-duplicates",
    title: "Idempotency keys",
    items: [
      wrongDuplicates.length === 0
        ? ok("duplicate marking", `${duplicateCount[0]?.n ?? 0} records repeat an earlier idempotency key of their tenant, all marked, and nothing else is`)
        : attention("duplicate marking", `${wrongDuplicates.length} records are marked wrongly (is_duplicate must be true exactly for later occurrences of a key)`, {
            records: wrongDuplicates.slice(0, max).map((r) => ({
              tenantId: r.tenant_id,
              record: r.key,
              ref: r.ref,
              problem: r.marked ? "marked duplicate but is the first occurrence" : "repeats an earlier key but is not marked duplicate",
            })),
          }),
    ],
  });

  // Rollups: every (tenant, meter, hour) bucket equals the aggregate of the records that count in it.
  const { rows: rollupDrift } = await pool.query<{ tenant_id: string; meter_id: number; bucket_start: Date; problem: string }>(
    `WITH agg AS (
       SELECT tenant_id, meter_id, date_trunc('hour', period_start, 'UTC') AS bucket_start,
              sum(quantity) AS s, max(quantity) AS m, count(*) AS n
         FROM usage_records WHERE NOT is_duplicate GROUP BY 1, 2, 3)
     SELECT coalesce(a.tenant_id, u.tenant_id) AS tenant_id, coalesce(a.meter_id, u.meter_id) AS meter_id,
            coalesce(a.bucket_start, u.bucket_start) AS bucket_start,
            CASE WHEN u.tenant_id IS NULL THEN 'bucket missing'
                 WHEN a.tenant_id IS NULL THEN 'bucket without records'
                 ELSE format('sum %s/%s, max %s/%s, count %s/%s', u.quantity_sum, a.s, u.quantity_max, a.m, u.record_count, a.n) END AS problem
       FROM agg a FULL JOIN usage_rollups u
         ON u.tenant_id = a.tenant_id AND u.meter_id = a.meter_id AND u.bucket_start = a.bucket_start
      WHERE u.tenant_id IS NULL OR (a.tenant_id IS NULL AND u.record_count <> 0)
         OR u.quantity_sum <> a.s OR u.quantity_max <> a.m OR u.record_count <> a.n
      ORDER BY 1, 2, 3 LIMIT 1000`,
  );
  const { rows: rollupCount } = await pool.query<{ n: string }>("SELECT count(*) AS n FROM usage_rollups");
  sections.push({
    id: "database-rollups",
    title: "Usage rollups",
    items: [
      rollupDrift.length === 0
        ? ok("hourly rollups", `${rollupCount[0]?.n ?? 0} buckets equal the aggregates of their records (duplicates excluded)`)
        : attention("hourly rollups", `${rollupDrift.length} buckets differ from their records`, {
            buckets: rollupDrift.slice(0, max).map((r) => ({ tenantId: r.tenant_id, meterId: r.meter_id, bucket: r.bucket_start.toISOString(), problem: r.problem })),
          }),
    ],
  });

  // Invoices: lines vs their records; cited records vs usage_records; finalized content hashes.
  const { rows: invoices } = await pool.query<{ id: string; tenant_id: string; status: string }>(
    "SELECT id::text AS id, tenant_id::text AS tenant_id, status FROM invoices ORDER BY tenant_id, period_start, id",
  );
  const lineProblems: Array<{ invoiceId: string; lineNo: number; problems: string[] }> = [];
  const hashProblems: Array<{ invoiceId: string; stored: string | null; recomputed: string }> = [];
  for (const inv of invoices) {
    const parties = await loadTenantParties(pool, inv.tenant_id);
    const loaded = parties ? await loadInvoiceContent(pool, inv.id, parties) : null;
    if (!loaded) continue;
    const check = recomputeInvoice(loaded.content);
    for (const l of check.lines) if (!l.ok) lineProblems.push({ invoiceId: inv.id, lineNo: l.lineNo, problems: l.problems });
    if (!check.totalOk) lineProblems.push({ invoiceId: inv.id, lineNo: 0, problems: [`total ${loaded.content.totalMinor} != sum of lines ${check.expectedTotalMinor}`] });
    if (inv.status === "finalized") {
      const recomputed = invoiceContentHash(loaded.content);
      const stored = loaded.row.content_hash ? toHex(loaded.row.content_hash) : null;
      if (stored !== recomputed) hashProblems.push({ invoiceId: inv.id, stored, recomputed });
    }
  }
  // A record a credit note took back may be gone (that is what a reorg credit is for); every
  // record a finalized invoice still charges must be indexed, by identity, with the cited content.
  const CHARGED_LR = `NOT EXISTS (SELECT 1 FROM credit_note_records cr JOIN credit_notes c ON c.id = cr.credit_note_id
                        WHERE c.invoice_id = i.id AND cr.reporter = lr.reporter AND cr.sequence = lr.sequence)
      AND NOT EXISTS (SELECT 1 FROM credit_note_lines cl JOIN credit_notes c ON c.id = cl.credit_note_id
                       WHERE c.invoice_id = i.id AND cl.invoice_line_no = l.line_no AND cl.whole_line)`;
  const { rows: orphans } = await pool.query<{ invoice_id: string; line_no: number; key: string; problem: string }>(
    `SELECT l.invoice_id::text AS invoice_id, l.line_no, '0x' || encode(lr.reporter, 'hex') || ':' || lr.sequence AS key,
            CASE WHEN r.reporter IS NULL THEN 'record not in usage_records'
                 WHEN r.is_duplicate THEN 'record is a duplicate of an earlier idempotency key'
                 ELSE format('record differs: quantity %s/%s, meter %s/%s', lr.quantity, r.quantity, lr.meter_id, r.meter_id) END AS problem
       FROM invoice_line_records lr
       JOIN invoice_lines l ON l.id = lr.line_id
       -- drafts are rebuilt on every billing pass, so between a reorg and the next pass they may
       -- cite records the indexer just removed; only finalized invoices must stay backed.
       JOIN invoices i ON i.id = l.invoice_id AND i.status = 'finalized'
       LEFT JOIN usage_records r ON r.tenant_id = lr.tenant_id AND r.reporter = lr.reporter AND r.sequence = lr.sequence
      WHERE ${CHARGED_LR}
        AND (r.reporter IS NULL OR r.is_duplicate OR r.quantity <> lr.quantity OR r.meter_id <> lr.meter_id OR r.ref <> lr.ref
             OR r.period_start <> lr.period_start OR r.period_end <> lr.period_end)
      ORDER BY 1, 2 LIMIT 1000`,
  );
  const { rows: doubles } = await pool.query<{ key: string; n: string }>(
    `SELECT '0x' || encode(lr.reporter, 'hex') || ':' || lr.sequence AS key, count(*)::text AS n
       FROM invoice_line_records lr JOIN invoice_lines l ON l.id = lr.line_id JOIN invoices i ON i.id = l.invoice_id
      WHERE i.status = 'finalized' AND ${CHARGED_LR}
      GROUP BY lr.tenant_id, lr.reporter, lr.sequence HAVING count(*) > 1 LIMIT 1000`,
  );
  sections.push({
    id: "database-invoices",
    title: "Invoices",
    items: [
      lineProblems.length === 0
        ? ok("invoice lines", `lines of ${invoices.length} invoices equal the aggregates of their records and sum to their totals`)
        : attention("invoice lines", `${lineProblems.length} invoice lines differ from their records`, { lines: lineProblems.slice(0, max) }),
      orphans.length === 0
        ? ok("cited records", "every record a finalized invoice charges is indexed, by identity, with the content it cites")
        : attention("cited records", `${orphans.length} records cited by finalized invoices are missing or differ in usage_records`, {
            records: orphans.slice(0, max).map((o) => ({ invoiceId: o.invoice_id, lineNo: o.line_no, record: o.key, problem: o.problem })),
          }),
      doubles.length === 0
        ? ok("billed once", "no record is charged by two finalized lines (net of credit notes)")
        : attention("billed once", `${doubles.length} records are billed more than once`, { records: doubles.slice(0, max) }),
      hashProblems.length === 0
        ? ok("finalized invoices", `${invoices.filter((i) => i.status === "finalized").length} finalized invoices match their content hash`)
        : attention("finalized invoices", `${hashProblems.length} finalized invoices changed since finalization`, { invoices: hashProblems.slice(0, max) }),
    ],
  });

  return { ok: sections.every((s) => s.items.every((i) => i.status === "ok")), sections };
}
