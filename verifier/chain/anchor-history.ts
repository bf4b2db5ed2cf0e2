/**
 * What the tenant's configured InvoiceAnchor says: the plan versions anchored for the tenant, its
 * chain of anchored documents, who held BILLER_ROLE when, and the time of every block that matters.
 */
import { decodeEventLog, keccak256, toEventSelector, toHex, type Address, type Hex, type PublicClient } from "viem";
import { invoiceAnchorAbi } from "../../chain/abi.generated";
import { comparePositions, scanLogs, type ChainPosition, type ScanOptions } from "./logs";
import { tenantTopic } from "./tenant-history";

export const BILLER_ROLE = keccak256(toHex("BILLER_ROLE"));
export const ZERO_HASH = `0x${"00".repeat(32)}` as Hex;

export interface AnchoredDocument extends ChainPosition {
  kind: "invoice" | "credit_note";
  contentHash: Hex;
  previousHash: Hex;
  number: number;
  periodStart: number;
  periodEnd: number;
  biller: Hex;
  txHash: Hex;
  /** Block time, Unix seconds. */
  timestamp: number;
}

export interface AnchoredPlan extends ChainPosition {
  planHash: Hex;
  effectiveFrom: number;
  biller: Hex;
  timestamp: number;
}

export interface RoleEvent extends ChainPosition {
  account: Hex;
  granted: boolean;
}

export interface AnchorHistory {
  documents: AnchoredDocument[];
  plans: AnchoredPlan[];
  billerRole: RoleEvent[];
}

function selector(name: "DocumentAnchored" | "PlanAnchored" | "RoleGranted" | "RoleRevoked"): Hex {
  const item = invoiceAnchorAbi.find((i) => i.type === "event" && i.name === name);
  if (!item) throw new Error(`InvoiceAnchor ABI has no event ${name}`);
  return toEventSelector(item as Parameters<typeof toEventSelector>[0]);
}

export async function readAnchorHistory(
  client: PublicClient,
  anchor: Address,
  tenantId: number,
  range: { fromBlock: bigint; toBlock: bigint },
  options: ScanOptions = {},
): Promise<AnchorHistory> {
  const [anchors, roles] = await Promise.all([
    scanLogs(client, { address: anchor, topics: [[selector("DocumentAnchored"), selector("PlanAnchored")], tenantTopic(tenantId)], ...range }, options),
    scanLogs(client, { address: anchor, topics: [[selector("RoleGranted"), selector("RoleRevoked")], BILLER_ROLE], ...range }, options),
  ]);
  const times = await blockTimes(client, [...new Set(anchors.map((l) => BigInt(l.blockNumber)))]);
  const documents: AnchoredDocument[] = [];
  const plans: AnchoredPlan[] = [];
  for (const log of anchors) {
    const at = { blockNumber: BigInt(log.blockNumber), logIndex: Number(BigInt(log.logIndex)) };
    const timestamp = times.get(at.blockNumber)!;
    const event = decodeEventLog({ abi: invoiceAnchorAbi, topics: log.topics as [Hex, ...Hex[]], data: log.data });
    if (event.eventName === "DocumentAnchored") {
      const a = event.args;
      if (a.tenantId !== tenantId) continue;
      documents.push({
        ...at,
        kind: a.kind === 0 ? "invoice" : "credit_note",
        contentHash: a.contentHash.toLowerCase() as Hex,
        previousHash: a.previousHash.toLowerCase() as Hex,
        number: Number(a.number),
        periodStart: Number(a.periodStart),
        periodEnd: Number(a.periodEnd),
        biller: a.biller.toLowerCase() as Hex,
        txHash: log.transactionHash.toLowerCase() as Hex,
        timestamp,
      });
    } else if (event.eventName === "PlanAnchored") {
      const a = event.args;
      if (a.tenantId !== tenantId) continue;
      plans.push({ ...at, planHash: a.planHash.toLowerCase() as Hex, effectiveFrom: Number(a.effectiveFrom), biller: a.biller.toLowerCase() as Hex, timestamp });
    }
  }
  const billerRole: RoleEvent[] = [];
  for (const log of roles) {
    const event = decodeEventLog({ abi: invoiceAnchorAbi, topics: log.topics as [Hex, ...Hex[]], data: log.data });
    if (event.eventName !== "RoleGranted" && event.eventName !== "RoleRevoked") continue;
    if (event.args.role.toLowerCase() !== BILLER_ROLE) continue;
    billerRole.push({
      blockNumber: BigInt(log.blockNumber),
      logIndex: Number(BigInt(log.logIndex)),
      account: event.args.account.toLowerCase() as Hex,
      granted: event.eventName === "RoleGranted",
    });
  }
  return { documents, plans, billerRole };
}

/** Whether `account` held BILLER_ROLE at `at`, from the role's grant and revoke events before it. */
export function heldBillerRole(history: AnchorHistory, account: Hex, at: ChainPosition): boolean {
  let held = false;
  for (const e of history.billerRole) {
    if (comparePositions(e, at) >= 0) break;
    if (e.account === account) held = e.granted;
  }
  return held;
}

async function blockTimes(client: PublicClient, blocks: bigint[]): Promise<Map<bigint, number>> {
  const out = new Map<bigint, number>();
  // A few at a time: a tenant has a handful of anchors a month, and public endpoints rate-limit.
  for (let i = 0; i < blocks.length; i += 8) {
    const slice = blocks.slice(i, i + 8);
    const got = await Promise.all(slice.map((blockNumber) => client.getBlock({ blockNumber })));
    got.forEach((b, j) => out.set(slice[j]!, Number(b.timestamp)));
  }
  return out;
}
