/**
 * The forgery catalogue: what a dishonest platform could hand a tenant, each built on a real chain
 * with the real indexer and billing (helpers/world.ts) and made as consistent as a careful forger
 * would make it (helpers/forge.ts): re-priced, re-hashed and, where the platform can, anchored with
 * its biller key. Each must be NOT VERIFIED with the check that catches it named; the genuine
 * documents must be VERIFIED.
 */
import { expect } from "chai";
import hre from "hardhat";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { copyFile, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { toHex, type Hex } from "viem";
import { invoiceAnchorAbi } from "../../chain/abi.generated";
import { creditAmounts } from "../../rating/recompute";
import { creditNoteContentHash, type CreditNoteContent } from "../../rating/credit-note";
import { invoiceContentHash, type InvoiceContent, type InvoiceLineContent } from "../../rating/invoice";
import type { RecordCitation } from "../../rating/citation";
import { BILLER_ROLE, ZERO_HASH } from "../../verifier/chain/anchor-history";
import type { ChainedDocument, InvoiceExport } from "../../verifier/document";
import { keyedNaming, renderReport, type VerificationReport } from "../../verifier";
import { clone, forge, forgeCreditNote } from "./helpers/forge";
import { buildWorld, failing, type World } from "./helpers/world";

const ROOT = path.join(__dirname, "..", "..");

/** Runs a script with this node, asynchronously: the chain it verifies against is served by this process. */
function runNode(script: string, args: string[], cwd: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [script, ...args], { cwd, env: { PATH: process.env.PATH ?? "" }, timeout: 120_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, output: `${stdout}${stderr}` });
    });
  });
}

const usageLine = (c: InvoiceContent, meterId: number) => c.lines.find((l) => l.kind === "usage" && l.meterId === meterId)!;
const adjustmentLine = (c: InvoiceContent, meterId: number) => c.lines.find((l) => l.kind === "adjustment" && l.meterId === meterId)!;
const byQuantity = (line: InvoiceLineContent, quantity: string) => line.records.find((r) => r.quantity === quantity)!;

/** The problems of one check, for asserting what it says. */
const problemsOf = (r: VerificationReport, id: string) => r.checks.find((c) => c.id === id)!.problems.join("\n");

function expectCaught(report: VerificationReport, checks: string[], says?: RegExp): void {
  const text = renderReport(report);
  expect(report.verified, text).to.equal(false);
  expect(failing(report), text).to.deep.equal(checks);
  if (says) expect(problemsOf(report, checks[0]!), text).to.match(says);
}

describe("verifier: the forgery catalogue", function () {
  this.timeout(600_000);
  let world: World;
  /** invoice 2 and credit note 2 as the chain's history after them. */
  let throughInvoice2: ChainedDocument[];

  before(async function () {
    world = await buildWorld(hre);
    const inv2 = world.invoice2;
    const cn2 = inv2.creditNotes[0]!;
    throughInvoice2 = [
      ...inv2.history,
      { kind: "invoice", contentHash: inv2.contentHash!, invoice: inv2.invoice },
      { kind: "credit_note", contentHash: cn2.contentHash, creditNote: cn2.creditNote },
    ];
  });
  after(async function () {
    await world?.close();
  });

  describe("genuine documents", function () {
    it("invoice 2 (late usage of month 1, a credit note before it and one against it) is VERIFIED, with every option", async function () {
      await world.reset();
      await world.anchorGenuine();
      const report = await world.verify(
        world.invoice2,
        { plan: { snapshot: world.planV2 }, reporters: [...world.reporters.t1] },
        { complete: true },
      );
      expect(failing(report), renderReport(report)).to.deep.equal([]);
      expect(report.verified).to.equal(true);
      expect(report.checks.map((c) => c.status)).to.deep.equal(Array(10).fill("pass"));
      expect(world.invoice2.history.map((d) => d.kind)).to.deep.equal(["invoice", "credit_note"]);
      expect(world.invoice2.invoice.lines.map((l) => l.kind)).to.deep.equal(["usage", "usage", "adjustment", "adjustment"]);
    });

    it("invoice 1 is VERIFIED after later documents were anchored", async function () {
      const report = await world.verify(world.invoice1, {}, { complete: true });
      expect(failing(report), renderReport(report)).to.deep.equal([]);
    });

    it("stays VERIFIED after the biller's role is revoked: the role counts at the anchoring block", async function () {
      await world.reset();
      await world.anchorGenuine();
      const { w, anchor, biller } = world;
      const hash = await w.wallet.writeContract({ address: anchor, abi: invoiceAnchorAbi, functionName: "revokeRole", args: [BILLER_ROLE, biller], account: w.admin, chain: null });
      await w.pub.waitForTransactionReceipt({ hash });
      expect((await world.verify(world.invoice2)).verified).to.equal(true);
    });

    it("finds a record by identity when seenAt is wrong (a reorg moved it), and says so", async function () {
      await world.reset();
      const moved = forge(world.invoice2, (inv) => {
        const r = usageLine(inv, 1).records[0]!;
        r.seenAt = { ...r.seenAt, blockNumber: "1", txHash: toHex(randomBytes(32)), logIndex: 7 };
      });
      await world.anchorInvoice(moved.invoice);
      const report = await world.verify(moved);
      expect(failing(report), renderReport(report)).to.deep.equal([]);
      expect(report.checks.find((c) => c.id === "records")!.notes.join("\n")).to.match(/a reorg moved it to block/);
    });

    it("an invoice that leaves out usage is VERIFIED (it bills less), but --complete lists what it left out", async function () {
      await world.reset();
      const short = forge(world.invoice2, (inv) => {
        const line = usageLine(inv, 1);
        line.records = line.records.filter((r) => r.quantity !== "3000");
      });
      await world.anchorInvoice(short.invoice);
      expect((await world.verify(short)).verified).to.equal(true);
      expectCaught(await world.verify(short, {}, { complete: true }), ["complete"], /quantity 3000, .* is not billed by any document/);
    });
  });

  describe("forgeries", function () {
    beforeEach(async function () {
      await world.reset();
    });

    it("another tenant's records under this tenant's name", async function () {
      const theirs = usageLine(world.tenant2Invoice2.invoice, 1).records[0]!;
      const file = forge(world.invoice2, (inv) => usageLine(inv, 1).records.push(theirs));
      await world.anchorInvoice(file.invoice);
      expectCaught(await world.verify(file), ["records"], /no such record of tenant #1/);
    });

    const planChanges: Array<[string, (inv: InvoiceContent) => void]> = [
      ["a unit price", (inv: InvoiceContent) => void (inv.planSnapshot.plan.prices[0]!.tiers[0]!.unitPrice = "0.013")],
      ["the included units", (inv: InvoiceContent) => void (inv.planSnapshot.plan.prices[0]!.includedUnits = "0")],
      ["a tier boundary", (inv: InvoiceContent) => void (inv.planSnapshot.plan.prices[0]!.tiers[0]!.upTo = "5000")],
      [
        "the minimum",
        (inv: InvoiceContent) => {
          inv.planSnapshot.plan.minimumMinor = "9000";
          inv.lines.push({ ...usageLine(inv, 1), lineNo: inv.lines.length + 1, kind: "minimum", meterId: null, description: "Minimum charge", aggregation: null, quantity: "0", records: [] });
        },
      ],
    ];
    for (const [what, alter] of planChanges) {
      it(`a changed plan snapshot (${what}), lines and total recomputed and re-hashed`, async function () {
        const file = forge(world.invoice2, alter);
        expect(file.invoice.totalMinor).to.not.equal(world.invoice2.invoice.totalMinor);
        await world.anchorInvoice(file.invoice);
        expectCaught(await world.verify(file), ["plan"], /the plan anchored for this period .* is 0x/);
      });
    }

    it("a changed plan snapshot that matches the anchor but not the tenant's own copy (--plan)", async function () {
      await world.anchorGenuine();
      const v1 = world.invoice2.invoice.planSnapshot.adjustmentPlans[0]!;
      expectCaught(await world.verify(world.invoice2, { plan: { snapshot: v1 } }), ["plan"], /your copy of the plan hashes to/);
    });

    it("a second plan snapshot under the main plan's version id, which reprices the usage lines", async function () {
      const file = forge(world.invoice2, (inv) => {
        const pricier = clone(inv.planSnapshot.plan);
        pricier.prices[0]!.tiers[0]!.unitPrice = "0.02";
        inv.planSnapshot.adjustmentPlans.push(pricier);
      });
      await world.anchorInvoice(file.invoice);
      expectCaught(await world.verify(file), ["plan"], /a second plan snapshot under version id/);
    });

    it("an earlier period's records billed again as an adjustment", async function () {
      const billed = byQuantity(usageLine(world.invoice1.invoice, 1), "1200");
      const file = forge(world.invoice2, (inv) => adjustmentLine(inv, 1).records.push(billed));
      await world.anchorInvoice(file.invoice);
      expectCaught(await world.verify(file), ["billed-once"], /is already billed by invoice 1/);
    });

    it("a record cited by two invoices: month 1 reissued without voiding invoice 1", async function () {
      await world.anchorGenuine();
      const reissue: InvoiceContent = {
        ...clone(world.invoice1.invoice),
        invoiceId: "999",
        number: 3,
        replacesInvoiceNumber: 1,
        previousDocumentHash: world.invoice2.creditNotes[0]!.contentHash,
      };
      const file: InvoiceExport = { ...clone(world.invoice1), contentHash: invoiceContentHash(reissue), invoice: reissue, creditNotes: [], history: throughInvoice2 };
      await world.anchorInvoice(reissue);
      expectCaught(await world.verify(file), ["billed-once"], /bills the period of invoice 1 again[\s\S]*is already billed by invoice 1/);
    });

    it("a second invoice for the period anchored after this one, which was never voided (seen from the genuine invoice)", async function () {
      await world.anchorGenuine();
      const second: InvoiceContent = { ...clone(world.invoice2.invoice), invoiceId: "996", number: 3, previousDocumentHash: world.invoice2.creditNotes[0]!.contentHash };
      await world.anchorInvoice(second);
      expectCaught(await world.verify(world.invoice2), ["chain"], /has invoice 3 .* for this invoice's period, anchored after it although no void credit note cancelled invoice 2/);
    });

    it("a second invoice for an invoiced period, billing late usage from zero (minimum and first tiers again) instead of as an adjustment", async function () {
      const late = (meterId: number) => adjustmentLine(world.invoice2.invoice, meterId).records;
      const second: InvoiceContent = clone(world.invoice1.invoice);
      Object.assign(second, { invoiceId: "998", number: 2, previousDocumentHash: world.invoice1.creditNotes[0]!.contentHash, confirmedBlock: world.invoice2.invoice.confirmedBlock });
      second.lines = [
        { ...usageLine(second, 1), records: late(1) },
        { ...usageLine(second, 2), records: late(2) },
        { ...usageLine(second, 1), lineNo: 3, kind: "minimum", meterId: null, description: "Minimum charge", aggregation: null, quantity: "0", records: [] },
      ];
      const file = forge({ ...clone(world.invoice1), invoice: second, history: clone(world.invoice2.history) }, () => undefined);
      await world.anchorInvoice(file.invoice);
      expectCaught(await world.verify(file), ["billed-once"], /bills the period of invoice 1 again, and no void credit note cancelled invoice 1/);
    });

    it("a record outside the period (late usage of month 1 moved onto a usage line of month 2)", async function () {
      const file = forge(world.invoice2, (inv) => {
        const adjustment = adjustmentLine(inv, 1);
        usageLine(inv, 1).records.push(...adjustment.records);
        adjustment.records = [];
      });
      await world.anchorInvoice(file.invoice);
      expectCaught(await world.verify(file), ["records"], /is outside the line's period/);
    });

    it("a record of another UsageMeter deployment", async function () {
      const file = forge(world.invoice2, (inv) => usageLine(inv, 1).records.push(world.foreignRecord));
      await world.anchorInvoice(file.invoice);
      expectCaught(await world.verify(file), ["records"], /no such record of tenant #1 on your UsageMeter/);
    });

    it("a record of another chain (an identity and transaction this chain does not have)", async function () {
      const elsewhere: RecordCitation = { ...clone(world.foreignRecord), reporter: toHex(randomBytes(20)), seenAt: { ...world.foreignRecord.seenAt, txHash: toHex(randomBytes(32)) } };
      const file = forge(world.invoice2, (inv) => usageLine(inv, 1).records.push(elsewhere));
      await world.anchorInvoice(file.invoice);
      expectCaught(await world.verify(file), ["records"], /no such record/);
    });

    it("an invoice naming another chain", async function () {
      const file = forge(world.invoice2, (inv) => void (inv.deployment.chainId = "1"));
      await world.anchorInvoice(file.invoice);
      expectCaught(await world.verify(file), ["document", "parties"], /is for contract .* on chain 31337, the invoice for .* on chain 1/);
      expect(problemsOf(await world.verify(file), "parties")).to.match(/the invoice is for chain 1; your RPC serves chain 31337/);
    });

    it("a recomputed content hash without an anchor", async function () {
      const file = forge(world.invoice2, (inv) => void (usageLine(inv, 1).description = "API calls (all regions)"));
      expectCaught(await world.verify(file), ["anchored"], /is not anchored by your InvoiceAnchor/);
    });

    it("an anchor by an account without the biller role: it cannot anchor on the tenant's InvoiceAnchor, and its own InvoiceAnchor does not count", async function () {
      const { attacker } = world;
      const file = forge(world.invoice2, (inv) => void (usageLine(inv, 1).description = "API calls (all regions)"));
      let reverted = false;
      await world.anchorInvoice(file.invoice, { from: attacker }).catch(() => (reverted = true));
      expect(reverted, "the tenant's InvoiceAnchor refuses an account without BILLER_ROLE").to.equal(true);
      const own = await world.deployAnchor(attacker);
      const { w } = world;
      const grant = await w.wallet.writeContract({ address: own, abi: invoiceAnchorAbi, functionName: "grantRole", args: [BILLER_ROLE, attacker], account: attacker, chain: null });
      await w.pub.waitForTransactionReceipt({ hash: grant });
      await world.anchorInvoice(file.invoice, { anchor: own, from: attacker, previous: ZERO_HASH });
      expectCaught(await world.verify(file), ["anchored"], /is not anchored by your InvoiceAnchor/);
      // Trusting the attacker's anchor instead still fails: it has neither the history nor the plans.
      expectCaught(await world.verify(file, { anchor: own }), ["chain", "plan", "adjustments"], /invoice 1 .* is not anchored/);
    });

    it("a reporter outside the tenant's allowlist", async function () {
      await world.anchorGenuine();
      const [mine, other] = world.reporters.t1;
      expectCaught(await world.verify(world.invoice2, { reporters: [mine] }), ["records"], new RegExp(`reporter ${other.toLowerCase()} is not in your allowlist`));
    });

    it("a missing credit note in the chain of documents: one before the invoice", async function () {
      await world.anchorGenuine();
      const file = clone(world.invoice2);
      file.history = file.history.filter((d) => d.kind !== "credit_note");
      // Without the credit note the history charges the excluded record again, so the bases differ too.
      expectCaught(await world.verify(file), ["chain", "adjustments", "amounts"], /the file leaves out credit note 1/);
    });

    it("a missing credit note in the chain of documents: one against the invoice, anchored but left out", async function () {
      await world.anchorGenuine();
      const file = clone(world.invoice2);
      file.creditNotes = [];
      expectCaught(await world.verify(file), ["chain"], /has credit note 2 .* for this invoice's period, which the file leaves out/);
    });

    it("an extra document in the history, never anchored", async function () {
      await world.anchorGenuine();
      const inv1 = world.invoice1.invoice;
      const cn1 = world.invoice1.creditNotes[0]!.creditNote;
      const peak = byQuantity(usageLine(inv1, 2), "300");
      const before = { records: new Set(cn1.lines.flatMap((l) => l.records.map((r) => `${r.reporter}:${r.sequence}`))), lines: new Set<number>() };
      const amounts = creditAmounts(inv1, before, { records: new Set([`${peak.reporter}:${peak.sequence}`]), lines: new Set() });
      const extra: CreditNoteContent = {
        ...clone(cn1),
        creditNoteId: "997",
        number: 3,
        previousDocumentHash: world.invoice1.creditNotes[0]!.contentHash,
        reason: "goodwill",
        memo: "",
        lines: [{ lineNo: 1, invoiceLineNo: usageLine(inv1, 2).lineNo, description: "Peak storage", wholeLine: false, amountMinor: (amounts.get(2) ?? 0n).toString(), records: [peak] }],
        totalMinor: (amounts.get(2) ?? 0n).toString(),
      };
      const file = clone(world.invoice2);
      file.history.push({ kind: "credit_note", contentHash: creditNoteContentHash(extra), creditNote: extra });
      expectCaught(await world.verify(file), ["chain"], /credit note 3 .* is not anchored/);
    });

    it("a document that forks the hash chain (skipping credit note 1): the anchor refuses it", async function () {
      const file = forge(world.invoice2, (inv, f) => {
        inv.previousDocumentHash = f.history[0]!.contentHash;
        f.history = f.history.slice(0, 1);
      });
      let reverted = false;
      await world.anchorInvoice(file.invoice).catch(() => (reverted = true));
      expect(reverted, "InvoiceAnchor accepts only the document extending the head").to.equal(true);
      expectCaught(await world.verify(file), ["anchored", "chain"], /is not anchored/);
      expect(problemsOf(await world.verify(file), "chain")).to.match(/goes on with credit note 1/);
    });

    it("a document that forks the hash chain in its content, anchored on the head", async function () {
      const file = forge(world.invoice2, (inv, f) => {
        inv.previousDocumentHash = f.history[0]!.contentHash;
        f.history = f.history.slice(0, 1);
      });
      await world.anchorInvoice(file.invoice, { previous: world.invoice1.creditNotes[0]!.contentHash as Hex });
      expectCaught(await world.verify(file), ["chain"], /leaves out credit note 1[\s\S]*forks the chain/);
    });

    it("a record whose idempotency key repeats an earlier record's, charged", async function () {
      const file = forge(world.invoice2, (inv) => adjustmentLine(inv, 1).records.push(world.duplicate));
      await world.anchorInvoice(file.invoice);
      expectCaught(await world.verify(file), ["billed-once"], /repeats the idempotency key .* only the first may be billed/);
    });

    it("an excluded (credited) record charged again", async function () {
      const excluded = world.invoice1.creditNotes[0]!.creditNote.lines[0]!.records[0]!;
      const file = forge(world.invoice2, (inv) => adjustmentLine(inv, 1).records.push(excluded));
      await world.anchorInvoice(file.invoice);
      expectCaught(await world.verify(file), ["billed-once"], /was credited for good by credit note 1 \(reason excluded\)/);
    });

    it("a draft presented as final", async function () {
      const draft = world.draft3;
      expectCaught(await world.verify(draft), ["document", "anchored", "chain"], /the invoice is a draft/);
      const dressed = clone(draft);
      dressed.status = "finalized";
      dressed.contentHash = invoiceContentHash(dressed.invoice);
      expectCaught(await world.verify(dressed), ["document", "anchored", "chain"], /has no number/);
    });

    it("an invoice for a period not yet ended, anchored with a shortened period", async function () {
      await world.anchorGenuine();
      const start = Math.floor(world.months[2].start.getTime() / 1000);
      const early: InvoiceContent = {
        ...clone(world.draft3.invoice),
        number: 3,
        previousDocumentHash: world.invoice2.creditNotes[0]!.contentHash,
        confirmedBlock: world.invoice2.invoice.confirmedBlock,
        finalizedAt: new Date(start * 1000 + 7_200_000).toISOString(),
      };
      const file: InvoiceExport = { ...clone(world.draft3), status: "finalized", contentHash: invoiceContentHash(early), invoice: early, history: throughInvoice2 };
      await world.anchorInvoice(early, { period: { start, end: start + 60 } });
      expectCaught(await world.verify(file), ["anchored"], /anchored for the period .* not the invoice's[\s\S]*before its period ended/);
    });

    it("a confirmed block that lies: above the block the invoice was anchored in", async function () {
      const file = forge(world.invoice2, (inv) => void (inv.confirmedBlock = "100000"));
      await world.anchorInvoice(file.invoice);
      expectCaught(await world.verify(file), ["anchored"], /claims usage up to block 100000, but was anchored in block/);
    });

    it("a confirmed block that lies: below the records it bills", async function () {
      const file = forge(world.invoice2, (inv) => void (inv.confirmedBlock = world.invoice1.invoice.confirmedBlock));
      await world.anchorInvoice(file.invoice);
      expectCaught(await world.verify(file), ["records"], /above the invoice's confirmed block/);
    });

    it("an adjustment on an understated base (a MAX meter's earlier peak claimed lower), priced on it", async function () {
      const file = forge(world.invoice2, (inv) => void (adjustmentLine(inv, 2).baseQuantity = "300"), { rebase: false });
      expect(BigInt(file.invoice.totalMinor)).to.be.greaterThan(BigInt(world.invoice2.invoice.totalMinor));
      await world.anchorInvoice(file.invoice);
      expectCaught(await world.verify(file), ["adjustments", "amounts"], /states 300 units already billed .* the earlier documents charge 700/);
    });

    it("an adjustment priced with the current plan instead of the adjusted period's", async function () {
      const file = forge(world.invoice2, (inv) => {
        for (const l of inv.lines) if (l.kind === "adjustment") l.planVersionId = inv.planSnapshot.plan.versionId;
        inv.planSnapshot.adjustmentPlans = [];
      });
      expect(file.invoice.totalMinor).to.not.equal(world.invoice2.invoice.totalMinor);
      await world.anchorInvoice(file.invoice);
      expectCaught(await world.verify(file), ["adjustments"], /priced with plan "standard" v2 .* not the plan anchored for/);
    });

    it("an adjustment referring to an invoice that is not in the chain", async function () {
      const file = forge(world.invoice2, (inv) => void (adjustmentLine(inv, 1).adjustsInvoiceNumber = 7));
      await world.anchorInvoice(file.invoice);
      expectCaught(await world.verify(file), ["adjustments"], /adjusts invoice 7, which is not an earlier document/);
    });

    it("two usage lines for one meter, each priced from zero (the first tiers twice)", async function () {
      const file = forge(world.invoice2, (inv) => {
        const line = usageLine(inv, 1);
        const half = line.records.splice(0, 1);
        inv.lines.push({ ...clone(line), lineNo: inv.lines.length + 1, records: half });
      });
      await world.anchorInvoice(file.invoice);
      expectCaught(await world.verify(file), ["amounts"], /meter 1 has two usage lines/);
    });

    it("a credit note that credits less than it recomputes to", async function () {
      const genuine = world.invoice2.creditNotes[0]!;
      const forged = forgeCreditNote(genuine.creditNote, (n) => {
        n.lines[0]!.amountMinor = "1";
        n.totalMinor = "1";
      });
      await world.anchorInvoice(world.invoice2.invoice);
      await world.anchorCreditNote(forged.content);
      const file = clone(world.invoice2);
      file.creditNotes = [{ ...genuine, contentHash: forged.contentHash, creditNote: forged.content }];
      expectCaught(await world.verify(file), ["amounts"], /credit note 2 credits 1 for line 1 of invoice 2; recomputed from the invoice: /);
    });

    it("a line amount or total that does not recompute", async function () {
      const file = forge(world.invoice2, () => undefined);
      usageLine(file.invoice, 2).amountMinor = (BigInt(usageLine(file.invoice, 2).amountMinor) + 100n).toString();
      file.invoice.totalMinor = (BigInt(file.invoice.totalMinor) + 100n).toString();
      file.contentHash = invoiceContentHash(file.invoice);
      await world.anchorInvoice(file.invoice);
      expectCaught(await world.verify(file), ["amounts"], /line 2: amount .* != recomputed/);
    });

    it("a record whose cited quantity is not the chain's", async function () {
      const file = forge(world.invoice2, (inv) => {
        const r = usageLine(inv, 1).records[0]!;
        r.quantity = (BigInt(r.quantity) * 10n).toString();
      });
      await world.anchorInvoice(file.invoice);
      expectCaught(await world.verify(file), ["records"], /the chain has quantity \d+, not what the invoice cites/);
    });

    it("an invoice naming another tenant's id", async function () {
      const file = forge(world.invoice2, (inv) => void (inv.tenant = { slug: "tenant-1", onchainId: 2 }));
      expectCaught(await world.verify(file), ["document", "parties", "anchored"], /is for tenant #1, the invoice for tenant #2/);
    });

    it("a --meter that is not a UsageMeter is reported as such, and nothing that depends on it passes", async function () {
      await world.anchorGenuine();
      const report = await world.verify(world.invoice2, { meter: world.anchor });
      expect(report.verified).to.equal(false);
      expect(problemsOf(report, "parties")).to.match(/does not answer as a UsageMeter on chain 31337/);
      expect(report.checks.filter((c) => c.status === "not-checked").map((c) => c.id)).to.deep.equal(["anchored", "chain", "plan", "records"]);
    });

    it("a tenant name the chain does not know (or a wrong name key)", async function () {
      await world.anchorGenuine();
      const report = await world.verify(world.invoice2, { naming: keyedNaming(new Uint8Array(32).fill(7)) });
      expect(report.verified).to.equal(false);
      expect(failing(report)[0]).to.equal("parties");
      expect(problemsOf(report, "parties")).to.match(/no tenant is registered on your UsageMeter under "tenant-1" \(keyed \(HMAC-SHA256\) name 0x/);
    });
  });

  describe("the bundle (dist/meterline-verify.mjs) and the task", function () {
    let dir: string;
    const run = (args: string[]) => runNode(path.join(dir, "meterline-verify.mjs"), args, dir);

    before(async function () {
      const build = await runNode(require.resolve("tsx/cli"), ["scripts/build/verifier.ts", "--check-browser"], ROOT);
      expect(build.code, build.output).to.equal(0);
      expect(build.output).to.match(/verifier core bundles for the browser/);
      // A directory outside the repository, with no node_modules anywhere above it.
      dir = await mkdtemp(path.join(tmpdir(), "meterline-verify-"));
      await copyFile(path.join(ROOT, "dist", "meterline-verify.mjs"), path.join(dir, "meterline-verify.mjs"));
      await writeFile(path.join(dir, "invoice-2.json"), JSON.stringify(world.invoice2, null, 2));
      await writeFile(path.join(dir, "plan.json"), JSON.stringify(world.planV2));
      await writeFile(path.join(dir, "altered.json"), JSON.stringify(forge(world.invoice2, (inv) => void (usageLine(inv, 1).description = "API calls"))));
    });
    after(async function () {
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    const flags = () => ["--rpc", world.server.url, "--meter", world.w.address, "--anchor", world.anchor, "--tenant", "tenant-1"];

    it("prints its help with plain node, from a directory outside the repository", async function () {
      const r = await run(["--help"]);
      expect(r.code).to.equal(0);
      expect(r.output).to.match(/^Usage: meterline-verify \[options\] <invoice.json>/);
    });

    it("verifies the genuine invoice (exit 0) and refuses an altered one (exit 1)", async function () {
      await world.reset();
      await world.anchorGenuine();
      const ok = await run([...flags(), "--plan", "plan.json", "--complete", "invoice-2.json"]);
      expect(ok.output).to.match(/PASS {2}records/).and.match(/\nVERIFIED\n?$/);
      expect(ok.code, ok.output).to.equal(0);
      const bad = await run([...flags(), "altered.json"]);
      expect(bad.output).to.match(/NOT VERIFIED \(anchored, chain\)/);
      expect(bad.code).to.equal(1);
      const json = await run([...flags(), "--json", "invoice-2.json"]);
      expect((JSON.parse(json.output) as VerificationReport).verified).to.equal(true);
      const unreachable = await run(["--rpc", "http://127.0.0.1:9", "--meter", world.w.address, "--anchor", world.anchor, "--tenant", "tenant-1", "invoice-2.json"]);
      expect(unreachable.code, unreachable.output).to.equal(2);
    });

    it("meter:verify-invoice is the same verifier with the same flags", async function () {
      await world.reset();
      await world.anchorGenuine();
      const out: string[] = [];
      const { log } = console;
      console.log = (...parts: unknown[]) => void out.push(parts.map(String).join(" "));
      const task = (invoice: string) =>
        hre.run("meter:verify-invoice", { invoice: path.join(dir, invoice), rpc: world.server.url, meter: world.w.address, anchor: world.anchor, tenant: "tenant-1", plan: path.join(dir, "plan.json") });
      try {
        expect(await task("invoice-2.json")).to.equal(0);
        expect(process.exitCode).to.equal(0);
        expect(await task("altered.json")).to.equal(1);
        expect(process.exitCode).to.equal(1);
      } finally {
        console.log = log;
        process.exitCode = 0;
      }
      expect(out.join("\n")).to.match(/VERIFIED[\s\S]*NOT VERIFIED \(anchored, chain\)/);
    });
  });
});

