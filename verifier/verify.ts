import { createPublicClient, decodeEventLog, http, type Hex, type TransactionReceipt } from "viem";
import { usageMeterAbi } from "../chain/abi.generated";
import { decodeRecordWord } from "../chain/record";
import { citationKey } from "../rating/citation";
import { invoiceContentHash, type InvoiceContent } from "../rating/invoice";
import { invoiceExportSchema, type InvoiceExport } from "./document";
import { recomputeInvoice } from "../rating/recompute";

export interface LineVerification {
  lineNo: number;
  kind: string;
  description: string;
  amountMinor: string;
  ok: boolean;
  problems: string[];
}

export interface InvoiceVerification {
  ok: boolean;
  invoice: { number: number | null; periodStart: string; periodEnd: string; currency: string; totalMinor: string };
  deployment: { chainId: string; address: string };
  lines: LineVerification[];
  total: { stated: string; recomputed: string; ok: boolean };
  /** Problems not tied to a line (format, chain id, content hash). */
  problems: string[];
}

const toSeconds = (iso: string) => Math.floor(new Date(iso).getTime() / 1000);

/**
 * Verifies an exported invoice against the chain alone: every cited record is re-read from its
 * transaction receipt, must come from the invoice's deployment and match the decoded UsageRevealed
 * record; every line and the total are recomputed with the plan snapshot the invoice carries.
 */
export async function verifyInvoice(invoiceJson: unknown, rpcUrl: string): Promise<InvoiceVerification> {
  const parsed = invoiceExportSchema.safeParse(invoiceJson);
  if (!parsed.success) {
    return {
      ok: false,
      invoice: { number: null, periodStart: "", periodEnd: "", currency: "", totalMinor: "" },
      deployment: { chainId: "", address: "" },
      lines: [],
      total: { stated: "", recomputed: "", ok: false },
      problems: parsed.error.issues.map((i) => `invalid invoice file: ${i.path.join(".")}: ${i.message}`),
    };
  }
  const doc: InvoiceExport = parsed.data;
  const inv: InvoiceContent = doc.invoice;
  const { deployment, tenant } = inv;
  const client = createPublicClient({ transport: http(rpcUrl, { retryCount: 2 }) });
  const problems: string[] = [];

  const chainId = await client.getChainId();
  if (BigInt(chainId) !== BigInt(deployment.chainId)) problems.push(`RPC chain id ${chainId} != invoice deployment chain id ${deployment.chainId}`);
  if (doc.status !== "finalized") problems.push("invoice is a draft, not finalized");
  if (doc.contentHash !== null && invoiceContentHash(inv) !== doc.contentHash) {
    problems.push(`content hash ${doc.contentHash} does not match the invoice content (${invoiceContentHash(inv)})`);
  }

  const receipts = new Map<string, Promise<TransactionReceipt | null>>();
  const receipt = (tx: string) => {
    let p = receipts.get(tx);
    if (!p) {
      p = client.getTransactionReceipt({ hash: tx as Hex }).catch(() => null);
      receipts.set(tx, p);
    }
    return p;
  };

  const recomputed = recomputeInvoice(inv);
  const address = deployment.address.toLowerCase();
  const lines: LineVerification[] = [];
  for (const line of inv.lines) {
    const lineProblems = [...(recomputed.lines.find((c) => c.lineNo === line.lineNo)?.problems ?? ["line not recomputed"])];
    for (const r of line.records) {
      const where = `record ${citationKey(r)}`;
      const rc = await receipt(r.seenAt.txHash);
      if (!rc) {
        lineProblems.push(`${where}: transaction ${r.seenAt.txHash} not found on chain`);
        continue;
      }
      if (rc.status !== "success") lineProblems.push(`${where}: transaction reverted`);
      if (rc.blockNumber.toString() !== r.seenAt.blockNumber) lineProblems.push(`${where}: mined in block ${rc.blockNumber}, invoice says ${r.seenAt.blockNumber}`);
      const log = rc.logs.find((l) => l.logIndex === r.seenAt.logIndex);
      if (!log) {
        lineProblems.push(`${where}: no log ${r.seenAt.logIndex} in the transaction`);
        continue;
      }
      if (log.address.toLowerCase() !== address) {
        lineProblems.push(`${where}: emitted by ${log.address}, not the deployment ${deployment.address}`);
        continue;
      }
      let decoded;
      try {
        decoded = decodeEventLog({ abi: usageMeterAbi, data: log.data, topics: log.topics });
      } catch {
        lineProblems.push(`${where}: log is not a UsageMeter event`);
        continue;
      }
      if (decoded.eventName !== "UsageRevealed") {
        lineProblems.push(`${where}: log is ${decoded.eventName}, not UsageRevealed`);
        continue;
      }
      const args = decoded.args;
      if (args.tenantId !== tenant.onchainId) lineProblems.push(`${where}: tenant ${args.tenantId}, invoice is for ${tenant.onchainId}`);
      if (args.reporter.toLowerCase() !== r.reporter) lineProblems.push(`${where}: revealed by ${args.reporter}`);
      if (args.commitment.toLowerCase() !== r.seenAt.commitment) lineProblems.push(`${where}: commitment ${args.commitment} != ${r.seenAt.commitment}`);
      const rec = args.records[r.seenAt.recordIndex];
      if (!rec) {
        lineProblems.push(`${where}: the log has only ${args.records.length} records`);
        continue;
      }
      const f = decodeRecordWord(rec.packed);
      if (f.sequence.toString() !== r.sequence) lineProblems.push(`${where}: sequence ${f.sequence} on chain`);
      if (rec.ref.toLowerCase() !== r.ref) lineProblems.push(`${where}: ref ${rec.ref} on chain`);
      if (f.meterId !== r.meterId) lineProblems.push(`${where}: meter ${f.meterId} on chain, ${r.meterId} in invoice`);
      if (f.quantity.toString() !== r.quantity) lineProblems.push(`${where}: quantity ${f.quantity} on chain, ${r.quantity} in invoice`);
      if (f.periodStart !== toSeconds(r.periodStart) || f.periodEnd !== toSeconds(r.periodEnd)) {
        lineProblems.push(`${where}: period ${f.periodStart}-${f.periodEnd} on chain differs from the invoice`);
      }
      const ps = toSeconds(line.kind === "adjustment" ? (line.adjustsPeriodStart ?? inv.periodStart) : inv.periodStart);
      const pe = toSeconds(line.kind === "adjustment" ? (line.adjustsPeriodEnd ?? inv.periodEnd) : inv.periodEnd);
      if (f.periodStart < ps || f.periodStart >= pe) lineProblems.push(`${where}: usage at ${f.periodStart} is outside the billed period`);
      if (inv.confirmedBlock !== null && rc.blockNumber > BigInt(inv.confirmedBlock)) {
        lineProblems.push(`${where}: block ${rc.blockNumber} is above the invoice's confirmed block ${inv.confirmedBlock}`);
      }
    }
    const seen = new Set<string>();
    for (const r of line.records) {
      const k = citationKey(r);
      if (seen.has(k)) lineProblems.push(`record ${k} is cited twice`);
      seen.add(k);
    }
    lines.push({ lineNo: line.lineNo, kind: line.kind, description: line.description, amountMinor: line.amountMinor, ok: lineProblems.length === 0, problems: lineProblems });
  }
  const all = inv.lines.flatMap((l) => l.records.map(citationKey));
  if (new Set(all).size !== all.length) problems.push("a record is cited by more than one line");

  return {
    ok: problems.length === 0 && recomputed.totalOk && lines.every((l) => l.ok),
    invoice: { number: inv.number, periodStart: inv.periodStart, periodEnd: inv.periodEnd, currency: inv.currency, totalMinor: inv.totalMinor },
    deployment: deployment,
    lines,
    total: { stated: inv.totalMinor, recomputed: recomputed.expectedTotalMinor, ok: recomputed.totalOk },
    problems,
  };
}
