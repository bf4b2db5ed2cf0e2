/**
 * Everything UsageMeter says about one tenant, read in one log scan: its registration, every
 * record revealed for it (by identity, in chain order) and who was authorized to report when.
 * Every event the scan asks for carries the tenant id as its first indexed argument, so one
 * filtered eth_getLogs walk is enough.
 */
import { numberToHex, pad, type Address, type Hex, type PublicClient } from "viem";
import { decodeLog, TOPICS, type DecodedRecord, type EventKind } from "../../chain/events";
import { ZERO_REF } from "../../rating/citation";
import { comparePositions, scanLogs, type ChainPosition, type ScanOptions } from "./logs";

/** A record as revealed on chain, where the canonical chain holds it now. */
export interface OnchainRecord extends DecodedRecord, ChainPosition {
  /** `reporter:sequence`, the key documents cite it by (rating/citation.ts). */
  key: string;
  reporter: Hex;
  recordIndex: number;
  blockHash: Hex;
  txHash: Hex;
  commitment: Hex;
}

export interface TenantHistory {
  tenantId: number;
  registered: ({ name: Hex } & ChainPosition) | null;
  records: ReadonlyMap<string, OnchainRecord>;
  /** Every record in chain order (block, log, record index). */
  ordered: readonly OnchainRecord[];
  /** Non-zero idempotency key -> key of its first occurrence in chain order. */
  firstByRef: ReadonlyMap<Hex, string>;
  /** Reporter (lower-case) -> its authorizations and revocations in chain order. */
  authorization: ReadonlyMap<Hex, readonly ({ authorized: boolean } & ChainPosition)[]>;
}

const KINDS: EventKind[] = ["TenantRegistered", "ReporterAuthorized", "ReporterRevoked", "UsageRevealed"];
const selectors = (): Hex[] => [...TOPICS.entries()].filter(([, kind]) => KINDS.includes(kind)).map(([topic]) => topic);

export const tenantTopic = (tenantId: number): Hex => pad(numberToHex(tenantId), { size: 32 });

export async function readTenantHistory(
  client: PublicClient,
  meter: Address,
  tenantId: number,
  range: { fromBlock: bigint; toBlock: bigint },
  options: ScanOptions = {},
): Promise<TenantHistory> {
  const logs = await scanLogs(client, { address: meter, topics: [selectors(), tenantTopic(tenantId)], ...range }, options);
  let registered: TenantHistory["registered"] = null;
  const ordered: OnchainRecord[] = [];
  const authorization = new Map<Hex, ({ authorized: boolean } & ChainPosition)[]>();
  for (const log of logs) {
    const event = decodeLog(log);
    if (!event || event.tenantId !== tenantId) continue;
    const at = { blockNumber: event.blockNumber, logIndex: event.logIndex };
    switch (event.kind) {
      case "TenantRegistered":
        registered = { name: event.name.toLowerCase() as Hex, ...at };
        break;
      case "ReporterAuthorized":
      case "ReporterRevoked": {
        const reporter = event.reporter.toLowerCase() as Hex;
        authorization.set(reporter, [...(authorization.get(reporter) ?? []), { authorized: event.kind === "ReporterAuthorized", ...at }]);
        break;
      }
      case "UsageRevealed": {
        const reporter = event.reporter.toLowerCase() as Hex;
        event.records.forEach((r, recordIndex) =>
          ordered.push({
            ...r,
            ref: r.ref.toLowerCase() as Hex,
            key: `${reporter}:${r.sequence}`,
            reporter,
            recordIndex,
            ...at,
            blockHash: event.blockHash.toLowerCase() as Hex,
            txHash: event.txHash.toLowerCase() as Hex,
            commitment: event.commitment.toLowerCase() as Hex,
          }),
        );
        break;
      }
      default:
        break;
    }
  }
  ordered.sort((a, b) => comparePositions(a, b) || a.recordIndex - b.recordIndex);
  const records = new Map(ordered.map((r) => [r.key, r]));
  const firstByRef = new Map<Hex, string>();
  for (const r of ordered) if (r.ref !== ZERO_REF && !firstByRef.has(r.ref)) firstByRef.set(r.ref, r.key);
  return { tenantId, registered, records, ordered, firstByRef, authorization };
}

/** Whether `reporter` was authorized for the tenant at `at` (its last authorization event before it). */
export function authorizedAt(history: TenantHistory, reporter: Hex, at: ChainPosition): boolean {
  let authorized = false;
  for (const e of history.authorization.get(reporter) ?? []) {
    if (comparePositions(e, at) >= 0) break;
    authorized = e.authorized;
  }
  return authorized;
}
