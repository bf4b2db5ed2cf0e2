/**
 * `npm run bench:billing`: how long a billing pass takes over ≥ 1,000,000 usage records (8 tenants,
 * 4 metered prices each, records over the last 60 days), run as the billing role:
 *   - the first pass: drafts for every open period and the finalization of every ended month,
 *     citing each billed record by its identity;
 *   - an idle pass right after (nothing new: the steady-state cost of the worker's loop);
 *   - an incremental pass after 10,000 new records in the current period.
 * Last line:
 *   billing records=<n> first_pass_s=<s> finalized=<n> cited=<n> idle_pass_s=<s> incremental_pass_s=<s>
 */
import { runBillingOnce } from "../billing/run";
import { applySeed, seedSchema } from "../stack/seed/apply-seed";
import { createTestDatabase, openAsRole } from "../test/helpers/database";
import { loadUsage } from "./fixtures/usage-load";

const TENANTS = Number(process.env.BENCH_TENANTS ?? 8);
const METERS = 4;
const RECORDS = Number(process.env.BENCH_RECORDS ?? 1_024_000);
const log = (msg: string) => process.stderr.write(`${msg}\n`);

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t = process.hrtime.bigint();
  const v = await fn();
  return [v, Number(process.hrtime.bigint() - t) / 1e9];
}

async function main(): Promise<void> {
  const db = await createTestDatabase({ maxConnections: 4 });
  try {
    const [, loadS] = await timed(() => loadUsage(db.pool, { tenants: TENANTS, meters: METERS, records: RECORDS, spanDays: 60 }));
    log(`loaded ${RECORDS} records for ${TENANTS} tenants in ${loadS.toFixed(1)} s`);
    // BENCH_SLOW_MS: log statements slower than this to the server log (to see where a pass goes).
    if (process.env.BENCH_SLOW_MS) await db.pool.query(`ALTER DATABASE ${db.name} SET log_min_duration_statement = ${Number(process.env.BENCH_SLOW_MS)}`);
    const billing = await openAsRole(db, "meterline_billing", 2);
    const meters = Array.from({ length: METERS }, (_, i) => `meter-${i + 1}`);
    await applySeed(
      billing,
      seedSchema.parse({
        tenants: Array.from({ length: TENANTS }, (_, t) => ({
          slug: `tenant-${t + 1}`,
          meters: meters.map((m) => ({ name: m, aggregation: "SUM", displayName: m })),
          plan: { name: `plan-${t + 1}`, versions: [{ currency: "USD", prices: meters.map((m) => ({ meter: m, model: "per_unit", unitPrice: "0.001" })) }] },
        })),
      }),
      { now: new Date(Date.now() - 120 * 86_400_000) },
    );
    const options = { graceMs: 0, confirmations: 0 };
    const [first, firstS] = await timed(() => runBillingOnce(billing, new Date(), options));
    const { rows: cited } = await db.pool.query<{ n: string }>("SELECT count(*) AS n FROM invoice_line_records");
    log(`first pass: ${firstS.toFixed(2)} s, ${first.finalized.length} invoices finalized, ${cited[0]!.n} record citations, ${first.draftsUpdated} drafts`);
    const [, idleS] = await timed(() => runBillingOnce(billing, new Date(), options));
    log(`idle pass: ${idleS.toFixed(2)} s`);
    await db.pool.query(
      `INSERT INTO usage_records (tenant_id, meter_id, period_start, period_end, quantity, sequence, ref, reporter, commitment,
         contract_id, chain_id, tx_hash, log_index, record_index, block_number, block_hash, block_time)
       SELECT r.tenant_id, r.meter_id, now() - interval '1 hour', now() - interval '59 minutes', 5, $1::bigint + g,
              decode(lpad(to_hex($1::bigint + g), 64, '0'), 'hex'), r.reporter, decode(lpad(to_hex($1::bigint + g), 64, '0'), 'hex'),
              r.contract_id, r.chain_id, decode(lpad(to_hex($1::bigint + g), 64, '0'), 'hex'), 0, 0, r.block_number, r.block_hash, now()
       FROM generate_series(1, 10000) g, LATERAL (SELECT * FROM usage_records ORDER BY sequence LIMIT 1) r`,
      [RECORDS + 1],
    );
    const [, incS] = await timed(() => runBillingOnce(billing, new Date(), options));
    log(`incremental pass (10,000 new records): ${incS.toFixed(2)} s`);
    console.log(
      `billing records=${RECORDS} first_pass_s=${firstS.toFixed(2)} finalized=${first.finalized.length} cited=${cited[0]!.n} idle_pass_s=${idleS.toFixed(2)} incremental_pass_s=${incS.toFixed(2)}`,
    );
  } finally {
    if (process.env.BENCH_KEEP) log(`kept database ${db.name}`);
    else await db.drop();
  }
}

main().catch((err: unknown) => {
  console.error(`bench:billing failed: ${(err as Error).stack ?? String(err)}`);
  process.exit(1);
});
