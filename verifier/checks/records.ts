/**
 * Every record the invoice (and every earlier invoice of the file) cites is on the canonical chain, found by its identity (reporter,
 * sequence) among the tenant's UsageRevealed logs of the configured UsageMeter, so a record of
 * another tenant, contract or chain is not found. Its content must be the cited content, its
 * usage in the line's period, its reporter authorized for the tenant when it was revealed (and in
 * the tenant's allowlist). `seenAt` is only where billing saw it: a record a reorg moved is found
 * at its new place and noted; one still where billing saw it must lie at or below the invoice's
 * confirmed block.
 */
import type { Hex } from "viem";
import { citationKey, type RecordCitation } from "../../rating/citation";
import type { InvoiceLineContent } from "../../rating/invoice";
import { authorizedAt, type OnchainRecord } from "../chain/tenant-history";
import { seconds } from "../document";
import { isoOf, plural } from "../format";
import { notChecked, outcome, type CheckResult } from "../result";
import type { CheckContext } from "./context";

function contentProblems(c: RecordCitation, r: OnchainRecord): string[] {
  const differs: string[] = [];
  if (c.meterId !== r.meterId) differs.push(`meter ${r.meterId}`);
  if (c.quantity !== r.quantity.toString()) differs.push(`quantity ${r.quantity}`);
  if (c.ref !== r.ref) differs.push(`ref ${r.ref}`);
  if (seconds(c.periodStart) !== r.periodStart || seconds(c.periodEnd) !== r.periodEnd) differs.push(`period ${isoOf(r.periodStart)} to ${isoOf(r.periodEnd)}`);
  return differs;
}

const atSeenPlace = (c: RecordCitation, r: OnchainRecord) =>
  c.seenAt.blockNumber === r.blockNumber.toString() &&
  c.seenAt.txHash === r.txHash &&
  c.seenAt.logIndex === r.logIndex &&
  c.seenAt.recordIndex === r.recordIndex &&
  c.seenAt.commitment === r.commitment;

function linePeriod(line: InvoiceLineContent, inv: { periodStart: number; periodEnd: number }): { start: number; end: number } | null {
  if (line.kind !== "adjustment") return { start: inv.periodStart, end: inv.periodEnd };
  if (line.adjustsPeriodStart === null || line.adjustsPeriodEnd === null) return null;
  return { start: seconds(line.adjustsPeriodStart), end: seconds(line.adjustsPeriodEnd) };
}

export function checkRecords(ctx: CheckContext): CheckResult {
  const history = ctx.facts.tenantHistory;
  if (!history) return notChecked("records", "the tenant's records could not be read (see parties)");
  const allow = ctx.trust.reporters;
  const problems: string[] = [];
  const notes: string[] = [];
  let count = 0;
  // The earlier invoices too: their records are the history the ledger replays.
  const invoices = [...ctx.docs.history, ctx.docs.invoice].filter((d) => d.kind === "invoice");
  for (const inv of invoices) {
    const confirmed = inv.content.confirmedBlock === null ? null : BigInt(inv.content.confirmedBlock);
    for (const line of inv.content.lines) {
      const period = linePeriod(line, inv);
      for (const c of line.records) {
        count++;
        const key = citationKey(c);
        const where = `${inv === ctx.docs.invoice ? "" : `${inv.label}, `}line ${line.lineNo}, record ${key}`;
        const r = history.records.get(key);
        if (!r) {
          problems.push(`${where}: no such record of tenant #${history.tenantId} on your UsageMeter ${ctx.trust.meter} (chain ${ctx.facts.chainId})`);
          continue;
        }
        const differs = contentProblems(c, r);
        if (differs.length > 0) problems.push(`${where}: the chain has ${differs.join(", ")}, not what the invoice cites`);
        if (!period) problems.push(`${where}: the adjustment line names no period`);
        else if (r.periodStart < period.start || r.periodStart >= period.end) {
          problems.push(`${where}: usage at ${isoOf(r.periodStart)} is outside the line's period ${isoOf(period.start)} to ${isoOf(period.end)}`);
        }
        if (atSeenPlace(c, r)) {
          if (confirmed !== null && r.blockNumber > confirmed) problems.push(`${where}: revealed in block ${r.blockNumber}, above the invoice's confirmed block ${confirmed}`);
        } else {
          notes.push(`${where}: billing saw it in block ${c.seenAt.blockNumber} (tx ${c.seenAt.txHash}); a reorg moved it to block ${r.blockNumber} (tx ${r.txHash})`);
        }
        if (!authorizedAt(history, r.reporter, r)) problems.push(`${where}: reporter ${r.reporter} was not authorized for the tenant at block ${r.blockNumber}`);
        if (allow && !allow.has(r.reporter as Hex)) problems.push(`${where}: reporter ${r.reporter} is not in your allowlist`);
      }
    }
  }
  return outcome(
    "records",
    problems,
    `${plural(count, "cited record")} of ${plural(invoices.length, "invoice")} found on chain by identity: your UsageMeter, your tenant, in period, authorized reporters${allow ? " of your allowlist" : ""}, the cited content`,
    notes,
  );
}
