import { numberToHex, pad, type Address, type Chain, type Hex, type PublicClient, type Transport } from "viem";
import { TOPICS, decodeRecords, type RawLog } from "../chain/events";
import { ReporterError } from "./errors";

/** The zero ref: a record without an idempotency key (never deduplicated). */
export const ZERO_REF: Hex = `0x${"0".repeat(64)}`;

const USAGE_REVEALED: Hex = [...TOPICS].find(([, kind]) => kind === "UsageRevealed")![0];

/** Widest block range asked in one eth_getLogs; many hosted nodes refuse more than 10,000. */
export const MAX_LOG_RANGE = 10_000n;

/**
 * The non-zero refs of every record revealed for `tenantId` (by any reporter) in blocks
 * `from..to`, lower-case. The range shrinks by halves when the node refuses it (too many blocks
 * or results) and grows back after successes, so one scan works against any provider's limits.
 */
export async function scanRevealedRefs(
  client: PublicClient<Transport, Chain | undefined>,
  meter: Address,
  tenantId: number,
  from: bigint,
  to: bigint,
): Promise<Hex[]> {
  const refs: Hex[] = [];
  const tenantTopic = pad(numberToHex(tenantId), { size: 32 });
  let range = MAX_LOG_RANGE;
  for (let start = from; start <= to; ) {
    const end = start + range - 1n < to ? start + range - 1n : to;
    let logs: RawLog[];
    try {
      logs = (await client.request({
        method: "eth_getLogs",
        params: [{ address: meter, topics: [USAGE_REVEALED, tenantTopic], fromBlock: numberToHex(start), toBlock: numberToHex(end) }],
      })) as RawLog[];
    } catch (err) {
      if (end === start) {
        throw new ReporterError(`cannot read tenant ${tenantId}'s UsageRevealed logs at block ${start}: ${(err as Error).message}`, { cause: err });
      }
      range = (end - start + 1n) / 2n;
      continue;
    }
    for (const log of logs) {
      if (log.removed) continue;
      for (const record of decodeRecords(log.data)) {
        const ref = record.ref.toLowerCase() as Hex;
        if (ref !== ZERO_REF) refs.push(ref);
      }
    }
    start = end + 1n;
    if (range < MAX_LOG_RANGE) range *= 2n;
  }
  return refs;
}
