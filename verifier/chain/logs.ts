/**
 * eth_getLogs over a block range of any length. Providers cap the range or the result size and
 * say so with an error whose wording differs per provider, so any error halves the span and the
 * request is retried; only a span of one block that still fails is an error. Spans stay at the
 * size that worked.
 */
import { toHex, type Address, type Hex, type PublicClient } from "viem";
import type { RawLog } from "../../chain/events";

export interface LogQuery {
  address: Address;
  /** topic0 alternatives, then the indexed arguments (null: any). */
  topics: (Hex | Hex[] | null)[];
  fromBlock: bigint;
  toBlock: bigint;
}

export interface ScanOptions {
  /** Blocks per request at most; default: the whole range in one request. */
  maxRange?: bigint;
}

export async function scanLogs(client: PublicClient, query: LogQuery, options: ScanOptions = {}): Promise<RawLog[]> {
  const out: RawLog[] = [];
  const total = query.toBlock - query.fromBlock + 1n;
  let span = options.maxRange !== undefined && options.maxRange < total ? options.maxRange : total;
  let from = query.fromBlock;
  while (from <= query.toBlock) {
    const to = from + span - 1n < query.toBlock ? from + span - 1n : query.toBlock;
    let logs: RawLog[];
    try {
      logs = (await client.request({
        method: "eth_getLogs",
        params: [{ address: query.address, topics: query.topics, fromBlock: toHex(from), toBlock: toHex(to) }],
      })) as unknown as RawLog[];
    } catch (err) {
      if (span <= 1n) throw err;
      span = (span + 1n) / 2n;
      continue;
    }
    for (const log of logs) if (!log.removed) out.push(log);
    from = to + 1n;
  }
  return out.sort((a, b) => {
    const byBlock = BigInt(a.blockNumber) - BigInt(b.blockNumber);
    return byBlock !== 0n ? (byBlock < 0n ? -1 : 1) : Number(BigInt(a.logIndex) - BigInt(b.logIndex));
  });
}

/** Position of an event in chain order: block, then log index (then record index within a reveal). */
export interface ChainPosition {
  blockNumber: bigint;
  logIndex: number;
}

export function comparePositions(a: ChainPosition, b: ChainPosition): number {
  if (a.blockNumber !== b.blockNumber) return a.blockNumber < b.blockNumber ? -1 : 1;
  return a.logIndex - b.logIndex;
}
