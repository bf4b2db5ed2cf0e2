/**
 * How events become array parameters for `unnest`: the writers send one array per column, so a
 * batch costs one statement per table however many events it holds.
 */
import type { EventKind, LogPosition, UsageMeterEvent } from "../../chain/events";
import { hexDigits } from "../../chain/hex";

export type EventOf<K extends EventKind> = Extract<UsageMeterEvent, { kind: K }>;

/**
 * The key every chain row carries, its log's position: tx hash and block hash as hex digits (for
 * `decode(…, 'hex')`), log index, block number as text (bigint-safe). In the order the writers'
 * SQL declares them: tx, log index, block number, block hash.
 */
export function positionColumns(events: readonly LogPosition[]): [string[], number[], string[], string[]] {
  return [
    events.map((e) => hexDigits(e.txHash)),
    events.map((e) => e.logIndex),
    events.map((e) => e.blockNumber.toString()),
    events.map((e) => hexDigits(e.blockHash)),
  ];
}

/** Unix seconds of each event's block (0 when the fetch did not record it, as for final blocks without logs). */
export function blockTimeColumn(events: readonly LogPosition[], blockTimes: ReadonlyMap<bigint, bigint>): number[] {
  return events.map((e) => Number(blockTimes.get(e.blockNumber) ?? 0n));
}
