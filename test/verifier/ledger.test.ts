import { expect } from "chai";
import type { RecordCitation } from "../../rating/citation";
import type { CreditNoteContent, CreditReason } from "../../rating/credit-note";
import type { InvoiceContent, InvoiceLineContent } from "../../rating/invoice";
import type { PlanSnapshot } from "../../rating/snapshot";
import { suppliedCreditNote, suppliedInvoice, type SuppliedDocument, type SuppliedInvoice } from "../../verifier/document";
import { adjustmentBases, ChargeLedger } from "../../verifier/ledger";

const JAN = ["2027-01-01T00:00:00.000Z", "2027-02-01T00:00:00.000Z"] as const;
const FEB = ["2027-02-01T00:00:00.000Z", "2027-03-01T00:00:00.000Z"] as const;
const REPORTER = `0x${"ab".repeat(20)}`;
const HASH = `0x${"00".repeat(32)}`;

const plan: PlanSnapshot = {
  planId: "1",
  planName: "p",
  versionId: "1",
  version: 1,
  effectiveFrom: JAN[0],
  currency: "USD",
  currencyExponent: 2,
  minimumMinor: "0",
  meters: [
    { meterId: 1, name: "calls", aggregation: "SUM", unit: "call", displayName: "Calls" },
    { meterId: 2, name: "peak", aggregation: "MAX", unit: "GB", displayName: "Peak" },
  ],
  prices: [],
};

const record = (sequence: number, meterId: number, quantity: number, at: string = "2027-01-10T00:00:00.000Z"): RecordCitation => ({
  reporter: REPORTER,
  sequence: String(sequence),
  meterId,
  periodStart: at,
  periodEnd: at.replace("00:00.000Z", "01:00.000Z"),
  quantity: String(quantity),
  ref: HASH,
  seenAt: { blockNumber: "1", txHash: HASH, logIndex: 0, recordIndex: sequence, commitment: HASH },
});

const line = (lineNo: number, meterId: number, records: RecordCitation[], adjusts?: readonly [string, string]): InvoiceLineContent => ({
  lineNo,
  kind: adjusts ? "adjustment" : "usage",
  meterId,
  description: "",
  aggregation: meterId === 2 ? "MAX" : "SUM",
  quantity: "0",
  baseQuantity: adjusts ? "0" : null,
  amountMinor: "0",
  adjustsPeriodStart: adjusts?.[0] ?? null,
  adjustsPeriodEnd: adjusts?.[1] ?? null,
  adjustsInvoiceNumber: adjusts ? 1 : null,
  planVersionId: "1",
  records,
});

let ids = 0;
function invoice(number: number, period: readonly [string, string], lines: InvoiceLineContent[]): SuppliedInvoice {
  const content: InvoiceContent = {
    deployment: { chainId: "1", address: `0x${"11".repeat(20)}` },
    tenant: { slug: "t", onchainId: 1 },
    invoiceId: String(++ids),
    number,
    replacesInvoiceNumber: null,
    previousDocumentHash: HASH,
    periodStart: period[0],
    periodEnd: period[1],
    timeZone: "UTC",
    currency: "USD",
    currencyExponent: 2,
    totalMinor: "0",
    confirmedBlock: "1",
    finalizedAt: period[1],
    planSnapshot: { plan, adjustmentPlans: [] },
    lines,
  };
  return suppliedInvoice(content, null);
}

function creditNote(number: number, inv: SuppliedInvoice, reason: CreditReason, lines: Array<{ invoiceLineNo: number; records: RecordCitation[]; wholeLine?: boolean }>) {
  const content: CreditNoteContent = {
    deployment: inv.content.deployment,
    tenant: inv.content.tenant,
    creditNoteId: String(++ids),
    number,
    invoiceId: inv.content.invoiceId,
    invoiceNumber: inv.content.number!,
    previousDocumentHash: HASH,
    periodStart: inv.content.periodStart,
    periodEnd: inv.content.periodEnd,
    reason,
    memo: "",
    issuedAt: inv.content.periodEnd,
    currency: "USD",
    currencyExponent: 2,
    totalMinor: "0",
    lines: lines.map((l, i) => ({ lineNo: i + 1, invoiceLineNo: l.invoiceLineNo, description: "", wholeLine: l.wholeLine ?? false, amountMinor: "0", records: l.records })),
  };
  return suppliedCreditNote(content, null);
}

const replay = (docs: SuppliedDocument[]) => {
  const ledger = new ChargeLedger();
  for (const d of docs) ledger.apply(d);
  return ledger;
};

describe("verifier/ledger: what the documents charge, in chain order", function () {
  const [a, b, c] = [record(1, 1, 10), record(2, 1, 20), record(3, 2, 7)];
  const jan = invoice(1, JAN, [line(1, 1, [a, b]), line(2, 2, [c])]);

  it("a record charged by one invoice may not be charged by another", function () {
    const feb = invoice(2, FEB, [line(1, 1, [a], JAN)]);
    expect(replay([jan, feb]).problems).to.deep.equal(["invoice 2, line 1: record " + `${REPORTER}:1 is already billed by invoice 1 (line 1)`]);
  });

  it("a record cited twice by one invoice is caught", function () {
    const twice = invoice(1, JAN, [line(1, 1, [a]), line(2, 1, [a])]);
    expect(replay([twice]).problems).to.deep.equal([`invoice 1: record ${REPORTER}:1 is cited twice (lines 1 and 2)`]);
  });

  it("a releasing credit note (reorg, void) lets a record be charged again; a settling one (excluded, dispute, goodwill) never", function () {
    for (const reason of ["reorg", "void"] as const) {
      const feb = invoice(2, FEB, [line(1, 1, [a], JAN)]);
      expect(replay([jan, creditNote(1, jan, reason, [{ invoiceLineNo: 1, records: [a] }]), feb]).problems, reason).to.deep.equal([]);
    }
    for (const reason of ["excluded", "dispute", "goodwill"] as const) {
      const feb = invoice(2, FEB, [line(1, 1, [a], JAN)]);
      const problems = replay([jan, creditNote(1, jan, reason, [{ invoiceLineNo: 1, records: [a] }]), feb]).problems;
      expect(problems.join(), reason).to.match(new RegExp(`credited for good by credit note 1 \\(reason ${reason}\\)`));
    }
  });

  it("a whole-line credit takes every record of the line; crediting a record the invoice does not charge is caught", function () {
    const whole = replay([jan, creditNote(1, jan, "dispute", [{ invoiceLineNo: 1, records: [], wholeLine: true }])]);
    expect(whole.chargeOf(`${REPORTER}:2`)!.state).to.equal("settled");
    const stray = replay([jan, creditNote(1, jan, "goodwill", [{ invoiceLineNo: 2, records: [record(9, 2, 1)] }])]);
    expect(stray.problems).to.deep.equal([`credit note 1 credits record ${REPORTER}:9, which invoice 1 does not charge (any more)`]);
  });

  it("a period is invoiced again only after a void", function () {
    const again = invoice(2, JAN, [line(1, 1, [record(4, 1, 5)])]);
    expect(replay([jan, again]).problems).to.deep.equal(["invoice 2 bills the period of invoice 1 again, and no void credit note cancelled invoice 1"]);
    const voided = creditNote(1, jan, "void", [{ invoiceLineNo: 1, records: [a, b], wholeLine: true }, { invoiceLineNo: 2, records: [c], wholeLine: true }]);
    expect(replay([jan, voided, invoice(2, JAN, [line(1, 1, [a, b])])]).problems).to.deep.equal([]);
  });

  it("adjustment bases are what the earlier documents charge now, net of every credit note, with the plan's aggregation", function () {
    const peak = record(5, 2, 30, "2027-01-20T00:00:00.000Z");
    const before = replay([jan, creditNote(1, jan, "dispute", [{ invoiceLineNo: 1, records: [b] }])]);
    const feb = invoice(2, FEB, [line(1, 1, [record(6, 1, 1, "2027-01-25T00:00:00.000Z")], JAN), line(2, 2, [peak], JAN)]);
    expect(Object.fromEntries(adjustmentBases(before, feb.content))).to.deep.equal({ 1: 10n, 2: 7n });
  });
});
