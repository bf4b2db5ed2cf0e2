/**
 * How a meter's records fold into one quantity over a period: the one definition shared by
 * billing, the verifier and the API. SQL computes the same rule in two places, both proven equal to
 * this module on random data by test/rating/aggregation.test.ts: the function `meter_usage`
 * (db/migrations/010_billing.sql, over raw records) and the hourly `usage_rollups` the indexer
 * maintains (folded with {@link fromRollup}).
 */
export const AGGREGATIONS = ["SUM", "COUNT", "MAX"] as const;

export type Aggregation = (typeof AGGREGATIONS)[number];

/** Used when a meter has no configuration. */
export const DEFAULT_AGGREGATION: Aggregation = "SUM";

/** Aggregates record quantities over a period; an empty period aggregates to 0. */
export function aggregate(aggregation: Aggregation, quantities: readonly bigint[]): bigint {
  switch (aggregation) {
    case "SUM":
      return quantities.reduce((a, b) => a + b, 0n);
    case "COUNT":
      return BigInt(quantities.length);
    case "MAX":
      return quantities.reduce((a, b) => (b > a ? b : a), 0n);
  }
}

/** Combines an already-billed aggregate with the aggregate of late records. */
export function combineAggregates(aggregation: Aggregation, base: bigint, late: bigint): bigint {
  return aggregation === "MAX" ? (late > base ? late : base) : base + late;
}

/** Partial aggregates of a set of records: enough to answer every aggregation and to merge. */
export interface RollupTotals {
  sum: bigint;
  max: bigint;
  count: bigint;
}

export const EMPTY_ROLLUP: RollupTotals = { sum: 0n, max: 0n, count: 0n };

export function mergeRollups(a: RollupTotals, b: RollupTotals): RollupTotals {
  return { sum: a.sum + b.sum, max: b.max > a.max ? b.max : a.max, count: a.count + b.count };
}

/** The aggregate of the records behind merged rollups. */
export function fromRollup(aggregation: Aggregation, r: RollupTotals): bigint {
  switch (aggregation) {
    case "SUM":
      return r.sum;
    case "COUNT":
      return r.count;
    case "MAX":
      return r.max;
  }
}
