import type { Address, Hex } from "viem";
import type { DecodedRecord, UsageMeterEvent } from "../../../chain/events";
import type { FetchedBatch } from "../../../indexer/fetch";
import type { BlockHeader } from "../../../indexer/rpc";
import { initCheckpoint } from "../../../indexer/store/checkpoint";
import { ensureContract, type ContractRef } from "../../../indexer/store/contract";
import type { Database } from "../../../db/connection";

/** Deterministic bytes of a seed string (padded), as 0x-hex of `bytes` bytes. */
export const seedHex = (seed: string, bytes: number): Hex =>
  `0x${Buffer.from(seed.padEnd(bytes, ".")).subarray(0, bytes).toString("hex")}`;
/** A short name as bytes32. */
export const nameHex = (s: string): Hex => `0x${Buffer.from(s).toString("hex").padEnd(64, "0")}`;

export const syntheticHeader = (n: number, salt = ""): BlockHeader => ({
  number: BigInt(n),
  hash: seedHex(`block-${salt}${n}`, 32),
  parentHash: seedHex(`block-${salt}${n - 1}`, 32),
  timestamp: 1_700_000_000n + BigInt(n) * 12n,
});

export const SYNTHETIC_REPORTER = "0x00000000000000000000000000000000000000aa" as Address;

/**
 * A two-block batch without a chain: block `block` (default 1) registers tenant 1 (`slug`) with
 * `meters` meters and authorizes the reporters (unless `register` is false, for a later batch of the
 * same contract), and commits once per reveal; block `block + 1` reveals `reveals` (one log each),
 * reveal i by `reporters[i]` (default: one synthetic reporter).
 */
export function syntheticBatch(opts: {
  slug: string;
  meters: number;
  reveals: DecodedRecord[][];
  salt?: string;
  reporters?: Address[];
  block?: number;
  register?: boolean;
}): FetchedBatch {
  const salt = opts.salt ?? "";
  const block = opts.block ?? 1;
  // Batches after the first get their own transaction hashes and commitments.
  const tag = block === 1 ? "" : `b${block}-`;
  const h1 = syntheticHeader(block, salt);
  const h2 = syntheticHeader(block + 1, salt);
  const at = (h: BlockHeader, logIndex: number, tx: string) => ({ blockNumber: h.number, blockHash: h.hash, txHash: seedHex(`${salt}${tag}${tx}`, 32), logIndex });
  const reporterOf = (i: number): Address => opts.reporters?.[i] ?? SYNTHETIC_REPORTER;
  const events: UsageMeterEvent[] = [];
  let li = 0;
  if (opts.register ?? true) {
    events.push({ kind: "TenantRegistered", tenantId: 1, name: nameHex(opts.slug), ...at(h1, li++, "tx-tenant") });
    for (let m = 1; m <= opts.meters; m++) events.push({ kind: "MeterRegistered", tenantId: 1, meterId: m, name: nameHex(`meter-${m}`), ...at(h1, li++, `tx-meter-${m}`) });
    const reporters = [...new Set([SYNTHETIC_REPORTER, ...(opts.reporters ?? [])])];
    reporters.forEach((reporter, i) => events.push({ kind: "ReporterAuthorized", tenantId: 1, reporter, ...at(h1, li++, i === 0 ? "tx-reporter" : `tx-reporter-${i}`) }));
  }
  opts.reveals.forEach((_, i) =>
    events.push({ kind: "Committed", tenantId: 1, reporter: reporterOf(i), commitment: seedHex(`c-${tag}${i}`, 32), relayer: reporterOf(i), ...at(h1, li++, `tx-commit-${i}`) }),
  );
  opts.reveals.forEach((records, i) =>
    events.push({ kind: "UsageRevealed", tenantId: 1, reporter: reporterOf(i), commitment: seedHex(`c-${tag}${i}`, 32), records, ...at(h2, i, `tx-reveal-${i}`) }),
  );
  return {
    from: h1.number,
    to: h2.number,
    events,
    blockTimes: new Map([h1, h2].map((h) => [h.number, h.timestamp])),
    headers: [h1, h2],
    last: h2,
    logCount: events.length,
    recordCount: opts.reveals.reduce((n, r) => n + r.length, 0),
  };
}

/** Registers a contract at `address` and its checkpoint before the synthetic block 1. */
export async function syntheticContract(db: Pick<Database, "pool">, address: Address = "0x00000000000000000000000000000000000000cc", salt = ""): Promise<ContractRef> {
  const contract = await ensureContract(db.pool, { chainId: 31337, address, deployBlock: 1n, minRevealDelay: null, maxRevealDelay: null });
  await initCheckpoint(db.pool, contract.id, { number: 0n, hash: syntheticHeader(0, salt).hash, time: 0n });
  return contract;
}
