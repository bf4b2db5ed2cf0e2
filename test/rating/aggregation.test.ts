import { expect } from "chai";
import fc from "fast-check";
import type { Address, Hex } from "viem";
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
 * entitlement). On random records and hour-aligned windows, all three must agree. Refs are drawn
 * from a few keys (and the zero key, "none"), so records repeat idempotency keys within a batch and
 * across two batches: only the first occurrence of a key in chain order is usage.
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
    // 0: no key; 1..5: one of five keys; null: a key of its own.
    key: fc.option(fc.integer({ min: 0, max: 5 }), { freq: 2 }),
  });
  const ZERO: Hex = `0x${"00".repeat(32)}`;

  it("on random records and windows, for every aggregation", async function () {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(record, { minLength: 1, maxLength: 30 }), { minLength: 1, maxLength: 4 }),
        fc.integer({ min: 0, max: 48 }),
        fc.integer({ min: 0, max: 48 }),
        fc.integer({ min: 0, max: 4 }),
        async (reveals, a, b, split) => {
          run += 1;
          const [fromHour, toHour] = a <= b ? [a, b] : [b, a];
          let seq = 1n;
          const decoded: DecodedRecord[][] = reveals.map((rs) =>
            rs.map((r) => {
              const start = BASE + r.hour * HOUR + r.minute * 60;
              const ref = r.key === 0 ? ZERO : seedHex(r.key === null ? `ref-${run}-${seq}` : `key-${run}-${r.key}`, 32);
              return { meterId: r.meterId, periodStart: start, periodEnd: start + 60, sequence: seq++, quantity: r.quantity, ref };
            }),
          );
          // First occurrences in chain order (reveal, then record): what counts.
          const seen = new Set<string>();
          const counted = decoded.flat().filter((r) => {
            if (r.ref === ZERO) return true;
            if (seen.has(r.ref)) return false;
            seen.add(r.ref);
            return true;
          });
          const address = `0x${run.toString(16).padStart(40, "0")}` as Address;
          const contract = await syntheticContract(db, address, `r${run}-`);
          // Two batches (blocks 1-2 and 3-4): keys repeat within a batch and across batches.
          const cut = Math.min(split, decoded.length - 1);
          const salt = `r${run}-`;
          const batches = [syntheticBatch({ slug: `agg-${run}`, meters: 2, reveals: decoded.slice(0, cut + 1), salt })];
          if (cut + 1 < decoded.length) {
            batches.push(syntheticBatch({ slug: `agg-${run}`, meters: 2, reveals: decoded.slice(cut + 1), salt, block: 3, register: false }));
          }
          for (const batch of batches) await withTransaction(db.pool, (c) => writeBatch(c, contract, batch, { pruneBelow: 0n, copy: run % 2 === 0 }));
          const { rows: t } = await db.pool.query<{ id: string }>("SELECT id::text FROM tenants WHERE slug = $1", [`agg-${run}`]);
          const tenantId = t[0]!.id;
          const from = new Date((BASE + fromHour * HOUR) * 1000);
          const to = new Date((BASE + toHour * HOUR) * 1000);

          for (const meterId of [1, 2]) {
            const inWindow = counted
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
