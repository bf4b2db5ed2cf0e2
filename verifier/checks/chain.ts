/**
 * The tenant's anchored hash chain and the file's documents are the same history. The earlier
 * documents in the file must be exactly the anchored chain before the invoice (a document left
 * out, added, reordered or altered shows), each naming the one before it; the credit notes in the
 * file must be anchored after the invoice; and every credit note anchored for the invoice's period
 * (until it is voided and reissued) must be in the file, so none can be hidden.
 */
import { heldBillerRole, ZERO_HASH, type AnchoredDocument } from "../chain/anchor-history";
import type { SuppliedDocument } from "../document";
import { isoOf, plural, short } from "../format";
import { notChecked, outcome, type CheckResult } from "../result";
import type { CheckContext } from "./context";

const kindName = (kind: "invoice" | "credit_note") => (kind === "invoice" ? "invoice" : "credit note");
const describe = (a: AnchoredDocument) => `${kindName(a.kind)} ${a.number} (hash ${short(a.contentHash)}, block ${a.blockNumber})`;

/** Anchor metadata and biller of a document the file and the chain agree on. */
function anchorProblems(ctx: CheckContext, d: SuppliedDocument, a: AnchoredDocument): string[] {
  const problems: string[] = [];
  if (a.kind !== d.kind || a.number !== d.number) problems.push(`${d.label} was anchored as ${kindName(a.kind)} ${a.number}`);
  if (a.periodStart !== d.periodStart || a.periodEnd !== d.periodEnd) problems.push(`${d.label} was anchored for the period ${isoOf(a.periodStart)} to ${isoOf(a.periodEnd)}`);
  if (a.previousHash !== d.previousHash) problems.push(`${d.label} names ${d.previousHash} as the previous document, but was anchored after ${a.previousHash}: it forks the chain`);
  if (!heldBillerRole(ctx.facts.anchorHistory!, a.biller, a)) problems.push(`${d.label} was anchored by ${a.biller}, which did not hold BILLER_ROLE at block ${a.blockNumber}`);
  return problems;
}

export function checkChain(ctx: CheckContext): CheckResult {
  const history = ctx.facts.anchorHistory;
  if (!history) return notChecked("chain", "the tenant's anchors could not be read (see parties)");
  const anchored = history.documents;
  const { invoice, creditNotes } = ctx.docs;
  const earlier = ctx.docs.history;
  const problems: string[] = [];

  anchored.forEach((a, i) => {
    const expected = i === 0 ? ZERO_HASH : anchored[i - 1]!.contentHash;
    if (a.previousHash !== expected) problems.push(`the anchored chain breaks at ${describe(a)}: it follows ${a.previousHash}, not ${expected}`);
  });

  // The file's earlier documents, then the invoice, link to each other...
  [...earlier, invoice].forEach((d, i) => {
    const expected = i === 0 ? ZERO_HASH : earlier[i - 1]!.hash;
    const before = i === 0 ? "the start of the chain (zero)" : `${earlier[i - 1]!.label} (${expected})`;
    if (d.previousHash !== null && d.previousHash !== expected) problems.push(`${d.label} names ${d.previousHash} as the previous document; in the file it follows ${before}`);
  });

  // ...and are the anchored chain's first documents, one for one.
  let matched = 0;
  for (const [i, d] of earlier.entries()) {
    const a = anchored[i];
    if (a && a.contentHash === d.hash) {
      problems.push(...anchorProblems(ctx, d, a));
      matched++;
      continue;
    }
    const j = anchored.findIndex((x) => x.contentHash === d.hash);
    if (j > i) problems.push(`the file leaves out ${anchored.slice(i, j).map(describe).join(", ")}, anchored before ${d.label}`);
    else if (j >= 0) problems.push(`${d.label} is anchored at position ${j + 1} of the chain, not ${i + 1} where the file puts it`);
    else problems.push(`${d.label} (hash ${d.hash}) is not anchored: the file has a document the tenant's anchored chain does not`);
    break;
  }

  const k = anchored.findIndex((a) => a.contentHash === invoice.hash);
  if (k < 0 && matched === earlier.length && anchored.length > earlier.length) {
    const after = earlier.length > 0 ? earlier[earlier.length - 1]!.label : "the start of the chain";
    problems.push(`after ${after} the tenant's anchored chain goes on with ${describe(anchored[earlier.length]!)}, not ${invoice.label}: the invoice is not part of the anchored history`);
  }
  if (k >= 0 && matched === earlier.length) {
    if (k > earlier.length) problems.push(`the file leaves out ${anchored.slice(earlier.length, k).map(describe).join(", ")}, anchored before ${invoice.label}`);
    if (k < earlier.length) problems.push(`${invoice.label} is anchored at position ${k + 1} of the chain, but the file has ${earlier.length} documents before it`);
    if (anchored[k]!.previousHash !== invoice.previousHash) {
      problems.push(`${invoice.label} names ${invoice.previousHash} as the previous document, but was anchored after ${anchored[k]!.previousHash}: it forks the chain`);
    }
  }

  let last = k;
  for (const n of creditNotes) {
    const j = anchored.findIndex((a) => a.contentHash === n.hash);
    if (j < 0) {
      problems.push(`${n.label} (hash ${n.hash}) is not anchored`);
      continue;
    }
    problems.push(...anchorProblems(ctx, n, anchored[j]!));
    if (k >= 0 && j <= k) problems.push(`${n.label} is anchored before ${invoice.label}, which it credits`);
    if (j <= last && j > k) problems.push(`${n.label} is anchored before a credit note the file lists ahead of it`);
    last = Math.max(last, j);
  }
  if (k >= 0) {
    // Every credit note anchored for the period after the invoice is against it, until a void
    // credit note and the period's reissue; a second invoice for the period without a void is
    // the period billed twice.
    const supplied = new Map(creditNotes.map((n) => [n.hash as string, n]));
    let voided = false;
    for (const a of anchored.slice(k + 1)) {
      if (a.periodStart !== invoice.periodStart || a.periodEnd !== invoice.periodEnd) continue;
      if (a.kind === "invoice") {
        if (!voided) problems.push(`your InvoiceAnchor has ${describe(a)} for this invoice's period, anchored after it although no void credit note cancelled ${invoice.label}`);
        break;
      }
      const note = supplied.get(a.contentHash);
      if (!note) problems.push(`your InvoiceAnchor has ${describe(a)} for this invoice's period, which the file leaves out`);
      else if (note.content.reason === "void") voided = true;
    }
  }
  return outcome(
    "chain",
    problems,
    `the file's ${plural(earlier.length, "earlier document")} ${earlier.length === 1 ? "is" : "are"} the tenant's anchored chain before ${invoice.label}, unbroken; ` +
      `${plural(creditNotes.length, "credit note")} anchored after it, none left out (${plural(anchored.length, "document")} anchored in all)`,
  );
}
