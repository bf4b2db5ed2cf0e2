import { expect } from "chai";
import fc from "fast-check";
import type { Address } from "viem";
import type { DecodedRecord } from "../../chain/events";
import { withTransaction } from "../../db/connection";
import { writeBatch } from "../../indexer/store/write-batch";
import { AGGREGATIONS, aggregate, fromRollup, type Aggregation } from "../../rating/aggregation";
import { createTestDatabase, type TestDatabase } from "../helpers/database";
import { seedHex, syntheticBatch, syntheticContract } from "../indexer/helpers/batch";

const HOUR = 3600;
const BASE = 1_767_225_600; // 2026-01-01T00:00:00Z

/**
 * One rule, three implementations: TypeScript's `aggregate` (billing, verifier), SQL's `meter_usage`
 * (quota status) and the indexer's hourly rollups folded with `fromRollup` (usage series,
 * entitlement). On random records and hour-aligned windows, all three must agree.
 */
describe("rating: aggregation agrees in TypeScript, SQL meter_usage and the indexer's rollups", function () {
  this.timeout(300_000);
  let db: TestDatabase;
  let run = 0;

  before(async () => {
    db = await createTestDatabase();
  });
  after(async () => {
    await db?.drop();
  });

  const record = fc.record({
    meterId: fc.integer({ min: 1, max: 2 }),
    hour: fc.integer({ min: 0, max: 47 }),
    minute: fc.integer({ min: 0, max: 59 }),
    quantity: fc.oneof(fc.bigInt({ min: 1n, max: 1000n }), fc.bigInt({ min: 1n, max: (1n << 80n) - 1n })),
  });

  it("on random records and windows, for every aggregation", async function () {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(record, { minLength: 1, maxLength: 30 }), { minLength: 1, maxLength: 4 }),
        fc.integer({ min: 0, max: 48 }),
        fc.integer({ min: 0, max: 48 }),
        async (reveals, a, b) => {
          run += 1;
          const [fromHour, toHour] = a <= b ? [a, b] : [b, a];
          let seq = 1n;
          const decoded: DecodedRecord[][] = reveals.map((rs) =>
            rs.map((r) => {
              const start = BASE + r.hour * HOUR + r.minute * 60;
              return { meterId: r.meterId, periodStart: start, periodEnd: start + 60, sequence: seq++, quantity: r.quantity, ref: seedHex(`ref-${seq}`, 32) };
            }),
          );
          const address = `0x${run.toString(16).padStart(40, "0")}` as Address;
          const contract = await syntheticContract(db, address, `r${run}-`);
          const batch = syntheticBatch({ slug: `agg-${run}`, meters: 2, reveals: decoded, salt: `r${run}-` });
          await withTransaction(db.pool, (c) => writeBatch(c, contract, batch, { pruneBelow: 0n }));
          const { rows: t } = await db.pool.query<{ id: string }>("SELECT id::text FROM tenants WHERE slug = $1", [`agg-${run}`]);
          const tenantId = t[0]!.id;
          const from = new Date((BASE + fromHour * HOUR) * 1000);
          const to = new Date((BASE + toHour * HOUR) * 1000);

          for (const meterId of [1, 2]) {
            const inWindow = decoded
              .flat()
              .filter((r) => r.meterId === meterId && r.periodStart * 1000 >= from.getTime() && r.periodStart * 1000 < to.getTime())
              .map((r) => r.quantity);
            const { rows: rollup } = await db.pool.query<{ sum: string; max: string; count: string }>(
              `SELECT coalesce(sum(quantity_sum), 0)::text AS sum, coalesce(max(quantity_max), 0)::text AS max, coalesce(sum(record_count), 0)::text AS count
                 FROM usage_rollups WHERE tenant_id = $1 AND meter_id = $2 AND bucket_start >= $3 AND bucket_start < $4`,
              [tenantId, meterId, from, to],
            );
            const totals = { sum: BigInt(rollup[0]!.sum), max: BigInt(rollup[0]!.max), count: BigInt(rollup[0]!.count) };
            for (const aggregation of AGGREGATIONS as readonly Aggregation[]) {
              await db.pool.query(
                `INSERT INTO meter_configs (tenant_id, meter_id, aggregation, display_name) VALUES ($1, $2, $3, 'm')
                 ON CONFLICT (tenant_id, meter_id) DO UPDATE SET aggregation = EXCLUDED.aggregation`,
                [tenantId, meterId, aggregation],
              );
              const { rows: sql } = await db.pool.query<{ v: string }>("SELECT meter_usage($1, $2, $3, $4)::text AS v", [tenantId, meterId, from, to]);
              const expected = aggregate(aggregation, inWindow);
              expect(BigInt(sql[0]!.v), `meter_usage ${aggregation}`).to.equal(expected);
              expect(fromRollup(aggregation, totals), `rollups ${aggregation}`).to.equal(expected);
            }
          }
        },
      ),
      { numRuns: 40 },
    );
  });
});
