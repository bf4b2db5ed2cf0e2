/**
 * What the tenant's documents charge, replayed in chain order: each invoice charges the records it
 * cites, each credit note releases (reorg, void) or settles (excluded, dispute, goodwill) records of
 * its invoice. The hash chain fixes the order, so the state before any document is exactly what
 * billing saw when it issued it: the base of an adjustment line is what the earlier documents
 * charge for that period, and a record may be charged again only once a releasing credit note
 * took it back.
 */
import { aggregate, DEFAULT_AGGREGATION } from "../rating/aggregation";
import { citationKey, type RecordCitation } from "../rating/citation";
import { RELEASING_REASONS } from "../rating/credit-note";
import type { InvoiceContent } from "../rating/invoice";
import { seconds, type SuppliedCreditNote, type SuppliedDocument, type SuppliedInvoice } from "./document";

export interface Charge {
  record: RecordCitation;
  invoice: SuppliedInvoice;
  lineNo: number;
  state: "charged" | "released" | "settled";
  creditedBy: SuppliedCreditNote | null;
}

export class ChargeLedger {
  private readonly charges = new Map<string, Charge>();
  private readonly invoicesById = new Map<string, SuppliedInvoice>();
  private readonly voided = new Set<string>();
  /** Each way a document breaks "billed once", naming the document. */
  readonly problems: string[] = [];

  apply(doc: SuppliedDocument): void {
    if (doc.kind === "invoice") this.applyInvoice(doc);
    else this.applyCreditNote(doc);
  }

  /** The charge on a record now, if any document ever charged it. */
  chargeOf(key: string): Charge | undefined {
    return this.charges.get(key);
  }

  invoiceById(invoiceId: string): SuppliedInvoice | undefined {
    return this.invoicesById.get(invoiceId);
  }

  isVoided(invoiceId: string): boolean {
    return this.voided.has(invoiceId);
  }

  /** Quantities of a meter's records with usage in [from, to) that the documents so far charge. */
  chargedQuantities(meterId: number, from: number, to: number): bigint[] {
    const out: bigint[] = [];
    for (const c of this.charges.values()) {
      if (c.state !== "charged" || c.record.meterId !== meterId) continue;
      const at = seconds(c.record.periodStart);
      if (at >= from && at < to) out.push(BigInt(c.record.quantity));
    }
    return out;
  }

  private applyInvoice(inv: SuppliedInvoice): void {
    for (const earlier of this.invoicesById.values()) {
      if (earlier.periodStart === inv.periodStart && earlier.periodEnd === inv.periodEnd && !this.voided.has(earlier.content.invoiceId)) {
        this.problems.push(`${inv.label} bills the period of ${earlier.label} again, and no void credit note cancelled ${earlier.label}`);
      }
    }
    const here = new Map<string, number>();
    for (const line of inv.content.lines) {
      for (const record of line.records) {
        const key = citationKey(record);
        const twice = here.get(key);
        if (twice !== undefined) {
          this.problems.push(`${inv.label}: record ${key} is cited twice (lines ${twice} and ${line.lineNo})`);
          continue;
        }
        here.set(key, line.lineNo);
        const before = this.charges.get(key);
        if (before?.state === "charged") {
          this.problems.push(`${inv.label}, line ${line.lineNo}: record ${key} is already billed by ${before.invoice.label} (line ${before.lineNo})`);
        } else if (before?.state === "settled") {
          const reason = before.creditedBy?.content.reason ?? "?";
          this.problems.push(
            `${inv.label}, line ${line.lineNo}: record ${key} was credited for good by ${before.creditedBy?.label ?? "a credit note"} (reason ${reason}) and may never be billed again`,
          );
        }
        this.charges.set(key, { record, invoice: inv, lineNo: line.lineNo, state: "charged", creditedBy: null });
      }
    }
    this.invoicesById.set(inv.content.invoiceId, inv);
  }

  private applyCreditNote(note: SuppliedCreditNote): void {
    const c = note.content;
    const target = this.invoicesById.get(c.invoiceId);
    if (!target || target.content.number !== c.invoiceNumber) {
      this.problems.push(`${note.label} credits invoice ${c.invoiceNumber}, which is not among the documents before it`);
      return;
    }
    const state = RELEASING_REASONS.includes(c.reason) ? "released" : "settled";
    const credit = (key: string, explicit: boolean) => {
      const charge = this.charges.get(key);
      if (!charge || charge.invoice !== target || charge.state !== "charged") {
        if (explicit) this.problems.push(`${note.label} credits record ${key}, which ${target.label} does not charge (any more)`);
        return;
      }
      charge.state = state;
      charge.creditedBy = note;
    };
    for (const line of c.lines) {
      const invoiceLine = target.content.lines.find((l) => l.lineNo === line.invoiceLineNo);
      if (!invoiceLine) {
        this.problems.push(`${note.label}, line ${line.lineNo}: ${target.label} has no line ${line.invoiceLineNo}`);
        continue;
      }
      for (const r of line.records) credit(citationKey(r), true);
      // A whole line takes every record still on it, listed or not.
      if (line.wholeLine) for (const r of invoiceLine.records) credit(citationKey(r), false);
    }
    if (c.reason === "void") this.voided.add(c.invoiceId);
  }
}

/** The aggregate an adjustment line of `content` must be priced on top of, per line number. */
export function adjustmentBases(ledger: ChargeLedger, content: InvoiceContent): Map<number, bigint> {
  const plans = new Map([content.planSnapshot.plan, ...content.planSnapshot.adjustmentPlans].map((p) => [p.versionId, p]));
  const out = new Map<number, bigint>();
  for (const line of content.lines) {
    if (line.kind !== "adjustment" || line.meterId === null || line.adjustsPeriodStart === null || line.adjustsPeriodEnd === null) continue;
    const plan = plans.get(line.planVersionId ?? "");
    const aggregation = plan?.meters.find((m) => m.meterId === line.meterId)?.aggregation ?? DEFAULT_AGGREGATION;
    out.set(line.lineNo, aggregate(aggregation, ledger.chargedQuantities(line.meterId, seconds(line.adjustsPeriodStart), seconds(line.adjustsPeriodEnd))));
  }
  return out;
}
