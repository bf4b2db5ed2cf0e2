/**
 * Verifies an exported invoice against the chain alone, with the tenant's own trust anchors: the
 * UsageMeter and InvoiceAnchor addresses, its tenant name (resolved on chain), and optionally its
 * reporter allowlist and its copy of the plan. Nothing in the file is trusted: hashes are
 * recomputed, anchors and records are read from the chain, amounts are recomputed. Pure: it needs
 * a viem client and nothing else (no files, no database, no Node APIs), so it runs in a browser too.
 */
import type { PublicClient } from "viem";
import { readChainFacts } from "./chain/facts";
import { checkAdjustments } from "./checks/adjustments";
import { checkAmounts } from "./checks/amounts";
import { checkAnchored } from "./checks/anchored";
import { checkBilledOnce } from "./checks/billed-once";
import { checkChain } from "./checks/chain";
import { checkComplete } from "./checks/complete";
import type { CheckContext } from "./checks/context";
import { checkDocument } from "./checks/document";
import { checkParties } from "./checks/parties";
import { checkPlan } from "./checks/plan";
import { checkRecords } from "./checks/records";
import { invoiceExportSchema, suppliedChain } from "./document";
import { adjustmentBases, ChargeLedger } from "./ledger";
import { CHECK_IDS, fail, notChecked, verdict, type VerificationReport } from "./result";
import { normalizeTrust, type TrustAnchors, type VerifyOptions } from "./trust";

const CHECKS = [checkDocument, checkParties, checkAnchored, checkChain, checkPlan, checkRecords, checkBilledOnce, checkAdjustments, checkAmounts, checkComplete];

/**
 * Throws VerifierError for unusable trust anchors and a reorg during the run, and viem's errors
 * when the RPC fails; every finding about the document is a failed check in the report.
 */
export async function verifyInvoice(client: PublicClient, file: unknown, anchors: TrustAnchors, options: VerifyOptions = {}): Promise<VerificationReport> {
  const trust = normalizeTrust(anchors);
  const parsed = invoiceExportSchema.safeParse(file);
  if (!parsed.success) {
    const problems = parsed.error.issues.slice(0, 20).map((i) => `${i.path.join(".") || "(file)"}: ${i.message}`);
    return {
      verified: false,
      invoice: null,
      chain: null,
      checks: [
        fail("document", problems, "the file is not a meterline.invoice.v2 invoice export"),
        ...CHECK_IDS.slice(1).map((id) => notChecked(id, "the file could not be read")),
      ],
    };
  }
  const docs = suppliedChain(parsed.data);
  const before = new ChargeLedger();
  const after = new ChargeLedger();
  for (const d of docs.history) {
    before.apply(d);
    after.apply(d);
  }
  const bases = adjustmentBases(before, docs.invoice.content);
  for (const d of [docs.invoice, ...docs.creditNotes]) after.apply(d);

  const facts = await readChainFacts(client, trust, options);
  const ctx: CheckContext = { file: parsed.data, docs, trust, options, facts, before, after, bases };
  const checks = CHECKS.map((check) => check(ctx));
  const inv = parsed.data.invoice;
  return {
    verified: verdict(checks),
    invoice: {
      number: inv.number,
      tenant: inv.tenant.slug,
      periodStart: inv.periodStart,
      periodEnd: inv.periodEnd,
      currency: inv.currency,
      currencyExponent: inv.currencyExponent,
      totalMinor: inv.totalMinor,
      contentHash: docs.invoice.hash,
    },
    chain: { chainId: facts.chainId, headBlock: facts.head.number.toString() },
    checks,
  };
}
