import { expect } from "chai";
import fc from "fast-check";
import { USAGE_SQL } from "../../api/read/usage";
import type { Database } from "../../db/connection";
import { createTestDatabase, openAsRole, type TestDatabase } from "../helpers/database";

const HOUR_MS = 3_600_000;
// Windows around 2026 DST transitions (and a plain week): US and Havana spring forward Mar 8, EU
// Mar 29, Lord Howe (30 minutes), Santiago and Chatham fall back Apr 5, EU falls back Oct 25, US
// Nov 1.
const WINDOWS = ["2026-03-05", "2026-03-26", "2026-04-02", "2026-10-22", "2026-10-29", "2026-06-10"].map((d) => Date.parse(`${d}T00:00:00Z`));
const ZONES = [
  "UTC",
  "America/New_York",
  "America/Havana",
  "Europe/London",
  "Europe/Berlin",
  "Australia/Lord_Howe",
  "America/Santiago",
  "Pacific/Chatham",
  "Asia/Kolkata",
  "Asia/Kathmandu",
  "Pacific/Kiritimati",
];

interface Row {
  bucket_start: Date;
  quantity: string;
  max: string;
  records: string;
}
const plain = (rows: Row[]) => rows.map((r) => ({ at: r.bucket_start.toISOString(), q: r.quantity, x: r.max, n: r.records }));

/**
 * usage_daily_rollups (migration 047) against its definition: the fold of the hourly rollups by
 * calendar date in the tenant's time zone. Random hourly rollups around DST transitions are
 * written the way the indexer writes them (additive upserts, then a reorg's delete-and-recompute
 * of some buckets, which can lower a maximum or empty a day), the time zone may change in between,
 * and then the table, and the API's day/month series over random ranges, must equal the fold.
 */
describe("api: daily usage rollups per tenant time zone agree with the hourly fold", function () {
  this.timeout(300_000);
  let db: TestDatabase;
  // Rollups are written as the indexer's role and time zones changed as billing's, as in production:
  // the triggers must keep the daily table with those roles' rights alone.
  let indexer: Database;
  let billing: Database;
  let tenant = "";
  let other = "";

  before(async () => {
    db = await createTestDatabase();
    indexer = await openAsRole(db, "meterline_indexer");
    billing = await openAsRole(db, "meterline_billing");
    await db.pool.query("INSERT INTO chains (chain_id, name) VALUES (31337, 'test')");
    const { rows: c } = await db.pool.query<{ id: number }>(
      "INSERT INTO contracts (chain_id, address, deploy_block) VALUES (31337, decode(repeat('ab', 20), 'hex'), 1) RETURNING id",
    );
    const ids: string[] = [];
    for (const t of [1, 2]) {
      const { rows } = await db.pool.query<{ id: string }>(
        `INSERT INTO tenants (contract_id, onchain_id, slug, chain_id, tx_hash, log_index, block_number, block_hash)
         VALUES ($1, $2, $3, 31337, decode(lpad(to_hex($2::int), 64, '0'), 'hex'), 0, 1, decode(repeat('00', 32), 'hex')) RETURNING id::text`,
        [c[0]!.id, t, `tenant-${t}`],
      );
      ids.push(rows[0]!.id);
      await db.pool.query(
        `INSERT INTO meters (tenant_id, meter_id, name, chain_id, tx_hash, log_index, block_number, block_hash)
         SELECT $1, m, 'm' || m, 31337, decode(lpad(to_hex($2::int * 100 + m), 64, '0'), 'hex'), m, 1, decode(repeat('00', 32), 'hex')
         FROM generate_series(1, 2) m`,
        [rows[0]!.id, t],
      );
    }
    [tenant, other] = ids as [string, string];
    // The other tenant's usage sits in the same hours: nothing of it may leak into the first's days.
    await upsert(other, WINDOWS.flatMap((w) => Array.from({ length: 150 }, (_, h) => ({ meter: 1, at: w + h * HOUR_MS, q: 1_000_000n }))));
  });
  after(async () => db?.drop());

  interface Bucket {
    meter: number;
    at: number;
    q: bigint;
  }
  // The indexer's additive upsert (indexer/store/rollups.ts addToRollups), one statement per batch.
  async function upsert(t: string, buckets: Bucket[]): Promise<void> {
    if (buckets.length === 0) return;
    await indexer.pool.query(
      `INSERT INTO usage_rollups (tenant_id, meter_id, bucket_start, quantity_sum, quantity_max, record_count)
       SELECT $1, d.m, to_timestamp(d.b / 1000.0), d.q, d.q, 1 FROM unnest($2::int[], $3::bigint[], $4::numeric[]) AS d(m, b, q)
       ON CONFLICT (tenant_id, meter_id, bucket_start) DO UPDATE
         SET quantity_sum = usage_rollups.quantity_sum + EXCLUDED.quantity_sum,
             quantity_max = GREATEST(usage_rollups.quantity_max, EXCLUDED.quantity_max),
             record_count = usage_rollups.record_count + EXCLUDED.record_count`,
      [t, buckets.map((b) => b.meter), buckets.map((b) => b.at), buckets.map((b) => b.q.toString())],
    );
  }

  // A reorg's recompute (indexer/store/rollups.ts recomputeRollups): delete the buckets, insert
  // what remains of them (here: some come back smaller, some not at all), in one transaction.
  async function reorg(t: string, gone: Bucket[], back: Bucket[]): Promise<void> {
    const client = await indexer.pool.connect();
    try {
      await client.query("BEGIN");
      await client.query(
        `DELETE FROM usage_rollups r USING unnest($2::int[], $3::bigint[]) AS k(m, b)
         WHERE r.tenant_id = $1 AND r.meter_id = k.m AND r.bucket_start = to_timestamp(k.b / 1000.0)`,
        [t, gone.map((b) => b.meter), gone.map((b) => b.at)],
      );
      if (back.length > 0) {
        await client.query(
          `INSERT INTO usage_rollups (tenant_id, meter_id, bucket_start, quantity_sum, quantity_max, record_count)
           SELECT $1, d.m, to_timestamp(d.b / 1000.0), d.q, d.q, 1 FROM unnest($2::int[], $3::bigint[], $4::numeric[]) AS d(m, b, q)
           ON CONFLICT DO NOTHING`,
          [t, back.map((b) => b.meter), back.map((b) => b.at), back.map((b) => b.q.toString())],
        );
      }
      await client.query("COMMIT");
    } finally {
      client.release();
    }
  }

  async function expectTableEqualsFold(t: string): Promise<void> {
    const { rows: table } = await db.pool.query(
      `SELECT meter_id, local_day::text, day_start, day_end, quantity_sum::text, quantity_max::text, record_count::text
       FROM usage_daily_rollups WHERE tenant_id = $1 ORDER BY 1, 2`,
      [t],
    );
    const { rows: fold } = await db.pool.query(
      `SELECT r.meter_id, (r.bucket_start AT TIME ZONE z.time_zone)::date::text AS local_day,
              date_trunc('day', r.bucket_start AT TIME ZONE z.time_zone) AT TIME ZONE z.time_zone AS day_start,
              (date_trunc('day', r.bucket_start AT TIME ZONE z.time_zone) + interval '1 day') AT TIME ZONE z.time_zone AS day_end,
              sum(r.quantity_sum)::text AS quantity_sum, max(r.quantity_max)::text AS quantity_max, sum(r.record_count)::text AS record_count
       FROM usage_rollups r JOIN tenants z ON z.id = r.tenant_id WHERE r.tenant_id = $1 GROUP BY 1, 2, 3, 4 ORDER BY 1, 2`,
      [t],
    );
    expect(table).to.deep.equal(fold);
  }

  const bucket = (window: number) =>
    fc.record({
      meter: fc.integer({ min: 1, max: 2 }),
      at: fc.integer({ min: 0, max: 8 * 24 - 1 }).map((h) => window + h * HOUR_MS),
      q: fc.oneof(fc.bigInt({ min: 1n, max: 1000n }), fc.bigInt({ min: 1n, max: (1n << 80n) - 1n })),
    });

  it("on random hourly rollups around DST transitions, with reorgs and time zone changes", async function () {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...WINDOWS).chain((w) =>
          fc.record({
            window: fc.constant(w),
            zone: fc.constantFrom(...ZONES),
            batches: fc.array(fc.array(bucket(w), { minLength: 20, maxLength: 150 }), { minLength: 1, maxLength: 3 }),
            gone: fc.array(bucket(w), { maxLength: 15 }),
            backShare: fc.integer({ min: 0, max: 3 }),
            newZone: fc.option(fc.constantFrom(...ZONES), { freq: 2 }),
            // Other writers' updates: some grow a bucket (added as a delta), some lower its maximum
            // (its day recomputed), in one statement.
            tamper: fc.option(fc.integer({ min: 2, max: 5 }), { freq: 2 }),
            ranges: fc.array(fc.tuple(fc.integer({ min: -48, max: 8 * 24 + 48 }), fc.integer({ min: 1, max: 8 * 24 }), fc.integer({ min: 0, max: 59 })), {
              minLength: 1,
              maxLength: 6,
            }),
          }),
        ),
        async ({ window, zone, batches, gone, backShare, newZone, tamper, ranges }) => {
          await indexer.pool.query("DELETE FROM usage_rollups WHERE tenant_id = $1", [tenant]);
          await billing.pool.query("UPDATE tenants SET time_zone = $2 WHERE id = $1", [tenant, zone]);
          for (const b of batches) {
            // One bucket at most once per statement, as the indexer's deltas are.
            const unique = [...new Map(b.map((x) => [`${x.meter}:${x.at}`, x])).values()];
            await upsert(tenant, unique);
          }
          await expectTableEqualsFold(tenant);
          const goneUnique = [...new Map(gone.map((x) => [`${x.meter}:${x.at}`, x])).values()];
          const back = goneUnique.filter((_, i) => i % 4 < backShare).map((x) => ({ ...x, q: 1n + (x.q % 7n) }));
          await reorg(tenant, goneUnique, back);
          await expectTableEqualsFold(tenant);
          if (tamper !== null) {
            await indexer.pool.query(
              `UPDATE usage_rollups SET quantity_sum = quantity_sum + 3, record_count = record_count + 1,
                 quantity_max = CASE WHEN extract(hour FROM bucket_start)::int % $2 = 0 THEN 1 ELSE quantity_max + 1 END
               WHERE tenant_id = $1 AND extract(hour FROM bucket_start)::int % 2 = 0`,
              [tenant, tamper],
            );
            await expectTableEqualsFold(tenant);
          }
          if (newZone !== null) {
            await billing.pool.query("UPDATE tenants SET time_zone = $2 WHERE id = $1", [tenant, newZone]);
            await expectTableEqualsFold(tenant);
          }
          // The API's series (daily table for whole days, hourly at the edges) equals the fold.
          for (const [startHour, lengthHours, minute] of ranges) {
            const from = new Date(window + startHour * HOUR_MS + minute * 60_000);
            const to = new Date(from.getTime() + lengthHours * HOUR_MS);
            for (const unit of ["day", "month"]) {
              const args = [tenant, 1, from, to, unit];
              const { rows: api } = await db.pool.query<Row>(USAGE_SQL.BUCKETED, args);
              const { rows: fold } = await db.pool.query<Row>(USAGE_SQL.FOLDED, args);
              expect(plain(api), `${unit} ${from.toISOString()}..${to.toISOString()}`).to.deep.equal(plain(fold));
            }
          }
        },
      ),
      { numRuns: 60 },
    );
    // The other tenant was never touched by any of it.
    const { rows } = await db.pool.query<{ n: string }>("SELECT sum(record_count)::text AS n FROM usage_daily_rollups WHERE tenant_id = $1", [other]);
    expect(rows[0]!.n).to.equal(String(WINDOWS.length * 150));
  });

  it("a 30-day day series reads about 30 daily rows per meter, not the hourly ones", async function () {
    await db.pool.query("DELETE FROM usage_rollups WHERE tenant_id = $1", [tenant]);
    await db.pool.query("UPDATE tenants SET time_zone = 'Europe/Berlin' WHERE id = $1", [tenant]);
    const start = Date.parse("2026-03-01T00:00:00Z");
    await upsert(tenant, Array.from({ length: 40 * 24 }, (_, h) => ({ meter: 1, at: start + h * HOUR_MS, q: BigInt(h + 1) })));
    const from = new Date(start + 5 * 86_400_000 + 7 * HOUR_MS);
    const to = new Date(from.getTime() + 30 * 86_400_000);
    const args = [tenant, 1, from, to, "day"];
    const { rows: plan } = await db.pool.query<{ "QUERY PLAN": string }>(`EXPLAIN (ANALYZE, FORMAT JSON) ${USAGE_SQL.BUCKETED}`, args);
    const scanned: Record<string, number> = {};
    const walk = (n: { "Relation Name"?: string; "Actual Rows"?: number; "Actual Loops"?: number; Plans?: unknown[] }) => {
      if (n["Relation Name"]) scanned[n["Relation Name"]] = (scanned[n["Relation Name"]] ?? 0) + (n["Actual Rows"] ?? 0) * (n["Actual Loops"] ?? 1);
      for (const c of n.Plans ?? []) walk(c as typeof n);
    };
    walk((plan[0]!["QUERY PLAN"] as unknown as { Plan: Parameters<typeof walk>[0] }[])[0]!.Plan);
    expect(scanned.usage_daily_rollups).to.be.within(29, 31);
    // Only the partial days at both ends come from the hourly rollups (up to 48 hours each way).
    expect(scanned.usage_rollups ?? 0).to.be.at.most(96);
    const { rows: api } = await db.pool.query<Row>(USAGE_SQL.BUCKETED, args);
    const { rows: fold } = await db.pool.query<Row>(USAGE_SQL.FOLDED, args);
    expect(plain(api)).to.deep.equal(plain(fold));
    expect(api).to.have.length(31);
  });
});
