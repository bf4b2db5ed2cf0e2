/**
 * The invoice's own hash is anchored by the tenant's InvoiceAnchor: as this invoice (kind, number,
 * period), after its period ended, by an account that held BILLER_ROLE at that block, and after
 * the block it claims to include usage up to.
 */
import { heldBillerRole } from "../chain/anchor-history";
import { isoOf } from "../format";
import { fail, notChecked, outcome, type CheckResult } from "../result";
import type { CheckContext } from "./context";

export function checkAnchored(ctx: CheckContext): CheckResult {
  const history = ctx.facts.anchorHistory;
  if (!history) return notChecked("anchored", "the tenant's anchors could not be read (see parties)");
  const inv = ctx.docs.invoice;
  const a = history.documents.find((d) => d.contentHash === inv.hash);
  if (!a) return fail("anchored", [`${inv.label} (content hash ${inv.hash}) is not anchored by your InvoiceAnchor ${ctx.trust.anchor}`]);
  const problems: string[] = [];
  if (a.kind !== "invoice" || a.number !== inv.number) problems.push(`its hash was anchored as ${a.kind === "invoice" ? "invoice" : "credit note"} ${a.number}, not as ${inv.label}`);
  if (a.periodStart !== inv.periodStart || a.periodEnd !== inv.periodEnd) {
    problems.push(`its hash was anchored for the period ${isoOf(a.periodStart)} to ${isoOf(a.periodEnd)}, not the invoice's ${isoOf(inv.periodStart)} to ${isoOf(inv.periodEnd)}`);
  }
  if (a.timestamp < inv.periodEnd) problems.push(`it was anchored at ${isoOf(a.timestamp)}, before its period ended (${isoOf(inv.periodEnd)})`);
  if (!heldBillerRole(history, a.biller, a)) problems.push(`it was anchored by ${a.biller}, which did not hold BILLER_ROLE at block ${a.blockNumber}`);
  const confirmed = inv.content.confirmedBlock === null ? null : BigInt(inv.content.confirmedBlock);
  if (confirmed !== null && confirmed >= a.blockNumber) {
    problems.push(`it claims usage up to block ${confirmed}, but was anchored in block ${a.blockNumber}: a finalized invoice can only include blocks before it`);
  }
  return outcome(
    "anchored",
    problems,
    `${inv.label} was anchored in block ${a.blockNumber} at ${isoOf(a.timestamp)}, after its period ended, by ${a.biller} (BILLER_ROLE); it includes usage up to block ${confirmed ?? "?"}`,
  );
}
