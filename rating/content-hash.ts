import type { Aggregation } from "./aggregation";
import { createHash } from "node:crypto";
import type { InvoiceSnapshot } from "./snapshot";

/** A usage record as an invoice line cites it. Hex strings are 0x-prefixed lower case. */
export interface LineRecordRef {
  chainId: string;
  txHash: string;
  logIndex: number;
  recordIndex: number;
  commitment: string;
  blockNumber: string;
  meterId: number;
  periodStart: string;
  periodEnd: string;
  quantity: string;
}

export interface InvoiceLineContent {
  lineNo: number;
  kind: "usage" | "adjustment" | "minimum";
  meterId: number | null;
  description: string;
  aggregation: Aggregation | null;
  quantity: string;
  baseQuantity: string | null;
  amountMinor: string;
  adjustsPeriodStart: string | null;
  adjustsPeriodEnd: string | null;
  planVersionId: string | null;
  records: LineRecordRef[];
}

/** Everything a finalized invoice asserts; its content hash covers exactly this. */
export interface InvoiceContent {
  tenantId: string;
  invoiceId: string;
  number: number | null;
  periodStart: string;
  periodEnd: string;
  timeZone: string;
  currency: string;
  currencyExponent: number;
  totalMinor: string;
  confirmedBlock: string | null;
  finalizedAt: string | null;
  planSnapshot: InvoiceSnapshot;
  lines: InvoiceLineContent[];
}

/** JSON with object keys sorted at every level, so equal content always hashes equally. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
}

/** Decimal strings without leading zeros order by length, then lexicographically. */
const compareDecimal = (a: string, b: string): number => a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);

export function compareRecordRefs(a: LineRecordRef, b: LineRecordRef): number {
  return (
    compareDecimal(a.chainId, b.chainId) ||
    (a.txHash < b.txHash ? -1 : a.txHash > b.txHash ? 1 : 0) ||
    a.logIndex - b.logIndex ||
    a.recordIndex - b.recordIndex
  );
}

/** sha256 over the canonical JSON of the content, lines and records in their canonical order. */
export function invoiceContentHash(content: InvoiceContent): string {
  const normalized: InvoiceContent = {
    ...content,
    lines: [...content.lines]
      .sort((a, b) => a.lineNo - b.lineNo)
      .map((l) => ({ ...l, records: [...l.records].sort(compareRecordRefs) })),
  };
  return `0x${createHash("sha256").update(canonicalJson(normalized)).digest("hex")}`;
}
