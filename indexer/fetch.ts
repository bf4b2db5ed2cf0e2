import type { Address } from "viem";
import { ChainMovedError } from "./errors";
import { decodeLog, type UsageMeterEvent } from "../chain/events";
import type { BlockHeader, RawLog, Rpc } from "./rpc";
import { RpcRangeTooLargeError } from "./rpc-errors";

/** Everything one write transaction needs for blocks [from, to]. */
export interface FetchedBatch {
  from: bigint;
  to: bigint;
  events: UsageMeterEvent[];
  /** Timestamp of every block that has events, plus `to`. */
  blockTimes: Map<bigint, bigint>;
  /** Headers kept for reorg detection: every block in the unfinalized window, plus `to`. */
  headers: BlockHeader[];
  last: BlockHeader;
  logCount: number;
  recordCount: number;
}

/**
 * Adapts the getLogs block span to what the endpoint accepts and how dense the logs are. It starts
 * small, doubles while responses stay light, and aims dense ranges at ~2 MiB per response: small
 * enough to stay far below provider caps and to keep fetches overlapping with writes, large enough
 * to amortize the round trip.
 */
export class RangeSizer {
  size: number;
  constructor(
    readonly max: number,
    initial = Math.min(max, 20),
  ) {
    this.size = Math.max(1, initial);
  }
  shrink(span: number): void {
    this.size = Math.max(1, Math.min(this.size, Math.floor(span / 2)));
  }
  observe(span: number, logs: number, bytes: number): void {
    const TARGET = 2 * 1024 * 1024;
    if (bytes > 2 * TARGET || logs > 10_000) {
      this.size = Math.max(1, Math.min(this.size, Math.floor((span * TARGET) / bytes)));
    } else if (bytes < TARGET / 2 && logs < 5_000 && span >= this.size) {
      this.size = Math.min(this.max, this.size * 2);
    }
  }
}

async function getLogsAdaptive(rpc: Rpc, address: Address, from: bigint, to: bigint, sizer: RangeSizer): Promise<RawLog[]> {
  try {
    const logs = await rpc.getLogs(address, from, to);
    let bytes = 0;
    for (const l of logs) bytes += l.data.length;
    sizer.observe(Number(to - from + 1n), logs.length, bytes);
    return logs;
  } catch (err) {
    if (!(err instanceof RpcRangeTooLargeError) || from === to) throw err;
    const span = Number(to - from + 1n);
    sizer.shrink(span);
    const mid = from + BigInt(Math.floor(span / 2)) - 1n;
    const left = await getLogsAdaptive(rpc, address, from, mid, sizer);
    const right = await getLogsAdaptive(rpc, address, mid + 1n, to, sizer);
    return left.concat(right);
  }
}

async function getHeaders(rpc: Rpc, numbers: bigint[]): Promise<Map<bigint, BlockHeader>> {
  const headers = await Promise.all(numbers.map((n) => rpc.getBlock(n)));
  const out = new Map<bigint, BlockHeader>();
  headers.forEach((h, i) => {
    if (!h) throw new ChainMovedError(`block ${numbers[i]} disappeared while fetching`);
    out.set(h.number, h);
  });
  return out;
}

/**
 * Fetches and decodes blocks [from, to]. Blocks at or above `windowStart` (head - REORG_WINDOW)
 * get their headers fetched and chained, so a later reorg can be traced; older blocks are final
 * and only the ones with logs are read (for their timestamps). Logs and headers are fetched
 * separately, so every log's block hash is checked against the header: a mismatch means the
 * chain moved in between and the batch is refetched after a reorg check.
 */
export async function fetchBatch(args: {
  rpc: Rpc;
  address: Address;
  from: bigint;
  to: bigint;
  windowStart: bigint;
  sizer: RangeSizer;
}): Promise<FetchedBatch> {
  const { rpc, address, from, to, windowStart, sizer } = args;
  // eth_getLogs over blocks the node does not have (the chain just shrank in a reorg) returns a
  // silent partial answer. Pinning `to` before and after the log query proves the logs came from
  // the chain whose headers we record: a block hash commits to all its ancestors.
  const pinned = await rpc.getBlock(to);
  if (!pinned) throw new ChainMovedError(`block ${to} does not exist (chain shrank)`);
  const logs = await getLogsAdaptive(rpc, address, from, to, sizer);
  const wanted = new Set<bigint>([to]);
  for (let n = from > windowStart ? from : windowStart; n <= to; n++) wanted.add(n);
  for (const l of logs) {
    if (l.removed) throw new ChainMovedError(`log ${l.transactionHash}:${l.logIndex} was removed`);
    wanted.add(BigInt(l.blockNumber));
  }
  const headers = await getHeaders(rpc, [...wanted].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));

  const events: UsageMeterEvent[] = [];
  let recordCount = 0;
  for (const l of logs) {
    const h = headers.get(BigInt(l.blockNumber));
    if (!h || h.hash.toLowerCase() !== l.blockHash.toLowerCase()) {
      throw new ChainMovedError(`block ${BigInt(l.blockNumber)} changed between eth_getLogs and its header`);
    }
    const ev = decodeLog(l);
    if (!ev) continue;
    if (ev.kind === "UsageRevealed") recordCount += ev.records.length;
    events.push(ev);
  }
  // Providers return logs in chain order, but the write path depends on it, so make sure.
  events.sort((a, b) => (a.blockNumber === b.blockNumber ? a.logIndex - b.logIndex : a.blockNumber < b.blockNumber ? -1 : 1));

  const kept: BlockHeader[] = [];
  let prev: BlockHeader | undefined;
  for (const h of headers.values()) {
    if (h.number >= windowStart || h.number === to) {
      if (prev && prev.number + 1n === h.number && prev.hash.toLowerCase() !== h.parentHash.toLowerCase()) {
        throw new ChainMovedError(`block ${h.number} does not extend block ${prev.number}`);
      }
      kept.push(h);
      prev = h;
    }
  }
  const last = headers.get(to);
  if (!last || last.hash.toLowerCase() !== pinned.hash.toLowerCase()) {
    throw new ChainMovedError(`block ${to} changed while its logs were fetched`);
  }
  const blockTimes = new Map<bigint, bigint>();
  for (const h of headers.values()) blockTimes.set(h.number, h.timestamp);
  return { from, to, events, blockTimes, headers: kept, last, logCount: logs.length, recordCount };
}

