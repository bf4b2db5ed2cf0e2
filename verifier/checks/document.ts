/**
 * The file is a finalized invoice whose documents are what they state: every stated hash is the
 * hash of its content (a mismatch means the content changed after it was issued), and every
 * document is for the invoice's deployment and tenant.
 */
import { outcome, type CheckResult } from "../result";
import { plural } from "../format";
import type { SuppliedDocument } from "../document";
import type { CheckContext } from "./context";

export function checkDocument(ctx: CheckContext): CheckResult {
  const { file, docs } = ctx;
  const inv = file.invoice;
  const problems: string[] = [];
  if (file.status !== "finalized") problems.push("the invoice is a draft: a draft changes until it is finalized and is never anchored");
  if (inv.number === null) problems.push("the invoice has no number: only finalized invoices are numbered");
  if (inv.previousDocumentHash === null) problems.push("the invoice names no previous document: only finalized invoices join the tenant's chain");
  if (inv.confirmedBlock === null) problems.push("the invoice names no confirmed block: only finalized invoices fix the usage they include");
  if (inv.finalizedAt === null) problems.push("the invoice has no finalization time");

  const all: SuppliedDocument[] = [...docs.history, docs.invoice, ...docs.creditNotes];
  for (const d of all) {
    if (d.statedHash !== null && d.statedHash !== d.hash) {
      problems.push(`the file states content hash ${d.statedHash} for ${d.label}, but its content hashes to ${d.hash}: it was changed after it was issued`);
    }
    const { deployment, tenant } = d.content;
    if (deployment.chainId !== inv.deployment.chainId || deployment.address !== inv.deployment.address) {
      problems.push(`${d.label} is for contract ${deployment.address} on chain ${deployment.chainId}, the invoice for ${inv.deployment.address} on chain ${inv.deployment.chainId}`);
    }
    if (tenant.onchainId !== inv.tenant.onchainId) problems.push(`${d.label} is for tenant #${tenant.onchainId}, the invoice for tenant #${inv.tenant.onchainId}`);
  }
  for (const n of docs.creditNotes) {
    if (n.content.invoiceId !== inv.invoiceId || n.content.invoiceNumber !== inv.number) {
      problems.push(`${n.label} is against invoice ${n.content.invoiceNumber}, not this one`);
    }
  }
  return outcome(
    "document",
    problems,
    `finalized ${docs.invoice.label} with ${plural(docs.history.length, "earlier document")} and ${plural(docs.creditNotes.length, "credit note")} against it; every stated hash matches its content`,
  );
}
