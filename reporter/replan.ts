import type { Hex } from "viem";
import { decodeRecordWord, encodeRecordWord } from "../chain/record";
import type { PlannedBatch } from "./journal";
import { ZERO_REF } from "./revealed-refs";

/** Id of a batch first planned by a job: tenant and first sequence, sortable as text. */
export function batchId(tenantId: number, firstSequence: bigint): string {
  return `${tenantId}-${firstSequence.toString().padStart(20, "0")}`;
}

/**
 * A new plan for `batch` under a new salt: records whose non-zero ref `isSubmitted` are dropped,
 * and with `renumberAfter` the rest take consecutive sequences above it (same meters, periods,
 * quantities and refs). Undefined when no record is left. The id ends in `tag` (random, never
 * derived from the salt: ids are logged) because a plan that keeps its sequences may keep its
 * first one too.
 */
export function replanBatch(
  batch: PlannedBatch,
  o: { isSubmitted: (ref: Hex) => boolean; renumberAfter?: bigint; salt: Hex; tag: string },
): PlannedBatch | undefined {
  const keep = batch.records.map((r) => r.ref.toLowerCase() === ZERO_REF || !o.isSubmitted(r.ref.toLowerCase() as Hex));
  let sequence = o.renumberAfter;
  const records = batch.records
    .filter((_, i) => keep[i])
    .map((r) => {
      if (sequence === undefined) return r;
      sequence += 1n;
      return { packed: encodeRecordWord({ ...decodeRecordWord(BigInt(r.packed)), sequence }).toString(), ref: r.ref };
    });
  if (records.length === 0) return undefined;
  const first = decodeRecordWord(BigInt(records[0]!.packed)).sequence;
  const last = decodeRecordWord(BigInt(records.at(-1)!.packed)).sequence;
  return {
    id: `${batchId(batch.tenantId, first)}-${o.tag}`,
    tenantId: batch.tenantId,
    firstSequence: first.toString(),
    lastSequence: last.toString(),
    records,
    lines: batch.lines.filter((_, i) => keep[i]),
    salt: o.salt,
  };
}
