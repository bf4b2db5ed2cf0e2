/**
 * Corrections without mutation. A finalized invoice never changes; what changes is what it charges:
 * credit notes take records, lines or the whole invoice off it (numbered gap-free, hashed,
 * immutable), an exclusion keeps records out of billing for good (crediting them where already
 * invoiced), and void-and-reissue credits a whole invoice and finalizes its replacement for the
 * same period in one transaction.
 */
import { citationKey, type RecordCitation } from "../rating/citation";
import { creditNoteContentHash, type CreditNoteContent, type CreditNoteLineContent, type CreditReason } from "../rating/credit-note";
import type { InvoiceContent } from "../rating/invoice";
import { creditAmounts, type Removal } from "../rating/recompute";
import { recordAudit, type AuditActor } from "../db/audit-log";
import { enqueueEvent } from "../webhooks/outbox";
import { BillingConflictError, BillingError, BillingInputError, BillingNotFoundError } from "./errors";
import { finalizeDraft } from "./invoices";
import { creditedSoFar, insertCreditNote, isVoided, nextCreditNoteId, nextCreditNoteNumber } from "./store/credit-notes";
import { insertExclusions } from "./store/exclusions";
import { insertDraft, loadInvoiceContent, loadInvoiceRow, type Tx } from "./store/invoice-store";
import { invoicesCharging, recordsByIdentity } from "./store/records";
import { appendDocument, chainHead, lockTenantBilling } from "./store/documents";
import { fromHex, toHex } from "../chain/hex";
import { loadPlanSnapshot, planVersionFor } from "./store/plans";
import { chainProgress, loadTenantParties, type TenantParties } from "./store/tenants";

/** What a credit note takes off: whole lines, or records by identity (`0x<reporter>:<sequence>`). */
export type CreditScope = { kind: "invoice" } | { kind: "lines"; lineNos: number[] } | { kind: "records"; keys: string[] };

export interface CreditNoteRequest {
  tenantId: string;
  invoiceId: string;
  reason: CreditReason;
  memo: string;
  scope: CreditScope;
  actor: AuditActor;
  now: Date;
}

async function finalizedInvoice(client: Tx, tenantId: string, invoiceId: string): Promise<{ content: InvoiceContent; parties: TenantParties }> {
  await lockTenantBilling(client, tenantId);
  const parties = await loadTenantParties(client, tenantId);
  const row = await loadInvoiceRow(client, invoiceId);
  if (!parties || !row || row.tenant_id !== tenantId) throw new BillingNotFoundError(`invoice ${invoiceId} not found`);
  if (row.status !== "finalized") throw new BillingConflictError(`invoice ${invoiceId} is a draft; only finalized invoices are credited`);
  const loaded = await loadInvoiceContent(client, invoiceId, parties);
  if (!loaded) throw new BillingNotFoundError(`invoice ${invoiceId} not found`);
  return { content: loaded.content, parties };
}

/**
 * Issues a credit note in the caller's transaction. Records or lines already credited are left
 * out; a note that would credit nothing at all is refused. Returns the note's content.
 */
export async function issueCreditNote(client: Tx, req: CreditNoteRequest): Promise<CreditNoteContent> {
  if (req.memo.length > 1000) throw new BillingInputError("memo", "at most 1000 characters");
  const { content, parties } = await finalizedInvoice(client, req.tenantId, req.invoiceId);
  const before = await creditedSoFar(client, req.invoiceId);
  const byKey = new Map<string, { lineNo: number; citation: RecordCitation }>();
  for (const l of content.lines) for (const r of l.records) byKey.set(citationKey(r), { lineNo: l.lineNo, citation: r });

  const wholeLines = new Set<number>();
  const recordKeys = new Set<string>();
  if (req.scope.kind === "invoice") {
    for (const l of content.lines) if (!before.lines.has(l.lineNo)) wholeLines.add(l.lineNo);
  } else if (req.scope.kind === "lines") {
    if (req.scope.lineNos.length === 0) throw new BillingInputError("lines", "name at least one line");
    for (const n of req.scope.lineNos) {
      if (!content.lines.some((l) => l.lineNo === n)) throw new BillingInputError("lines", `invoice ${content.number} has no line ${n}`);
      if (!before.lines.has(n)) wholeLines.add(n);
    }
  } else {
    if (req.scope.keys.length === 0) throw new BillingInputError("records", "name at least one record");
    for (const k of req.scope.keys) {
      if (!byKey.has(k)) throw new BillingInputError("records", `invoice ${content.number} does not cite record ${k}`);
      const line = byKey.get(k)!.lineNo;
      if (!before.records.has(k) && !before.lines.has(line)) recordKeys.add(k);
    }
  }
  // A whole line takes its records with it: listing them keeps the record-level history complete.
  for (const l of content.lines) {
    if (!wholeLines.has(l.lineNo)) continue;
    for (const r of l.records) if (!before.records.has(citationKey(r))) recordKeys.add(citationKey(r));
  }
  if (wholeLines.size === 0 && recordKeys.size === 0) throw new BillingConflictError(`invoice ${content.number}: everything named is already credited`);

  const now: Removal = { records: recordKeys, lines: wholeLines };
  const amounts = creditAmounts(content, before, now);
  const lines: CreditNoteLineContent[] = [];
  for (const l of content.lines) {
    const records = l.records.filter((r) => recordKeys.has(citationKey(r)));
    const whole = wholeLines.has(l.lineNo);
    const amount = amounts.get(l.lineNo) ?? 0n;
    if (!whole && records.length === 0 && amount === 0n) continue;
    lines.push({ lineNo: lines.length + 1, invoiceLineNo: l.lineNo, description: l.description, wholeLine: whole, amountMinor: amount.toString(), records });
  }
  const number = await nextCreditNoteNumber(client, req.tenantId);
  const head = await chainHead(client, req.tenantId);
  const note: CreditNoteContent = {
    deployment: parties.deployment,
    tenant: parties.tenant,
    creditNoteId: await nextCreditNoteId(client),
    number,
    invoiceId: req.invoiceId,
    invoiceNumber: content.number!,
    previousDocumentHash: head.hash,
    periodStart: content.periodStart,
    periodEnd: content.periodEnd,
    reason: req.reason,
    memo: req.memo,
    issuedAt: req.now.toISOString(),
    currency: content.currency,
    currencyExponent: content.currencyExponent,
    totalMinor: lines.reduce((a, l) => a + BigInt(l.amountMinor), 0n).toString(),
    lines,
  };
  const hash = creditNoteContentHash(note);
  await insertCreditNote(client, req.tenantId, note, hash, req.actor.subject);
  await appendDocument(client, req.tenantId, {
    kind: "credit_note",
    documentId: note.creditNoteId,
    number,
    periodStart: new Date(note.periodStart),
    periodEnd: new Date(note.periodEnd),
    contentHash: hash,
    previousHash: head.hash,
  });
  await recordAudit(client, req.tenantId, req.actor, {
    action: "credit_note.issue",
    entityType: "credit_note",
    entityId: note.creditNoteId,
    before: null,
    after: { number, invoiceNumber: note.invoiceNumber, reason: note.reason, memo: note.memo, totalMinor: note.totalMinor, records: recordKeys.size, wholeLines: [...wholeLines] },
  });
  await enqueueEvent(client, req.tenantId, "credit_note.issued", `credit_note.issued:${note.creditNoteId}`, {
    tenantId: req.tenantId,
    creditNoteId: note.creditNoteId,
    number,
    invoiceId: req.invoiceId,
    invoiceNumber: note.invoiceNumber,
    reason: note.reason,
    currency: note.currency,
    totalMinor: note.totalMinor,
    contentHash: hash,
  });
  return note;
}

/**
 * Voids a finalized invoice (a credit note for everything it still charges, reason `void`) and
 * finalizes its replacement for the same period from what is billable now, in the caller's
 * transaction. Returns both documents.
 */
export async function voidAndReissue(
  client: Tx,
  req: { tenantId: string; invoiceId: string; memo: string; actor: AuditActor; now: Date; confirmations: number },
): Promise<{ creditNote: CreditNoteContent; invoice: InvoiceContent }> {
  const row = await loadInvoiceRow(client, req.invoiceId);
  if (!row || row.tenant_id !== req.tenantId) throw new BillingNotFoundError(`invoice ${req.invoiceId} not found`);
  if (await isVoided(client, req.invoiceId)) throw new BillingConflictError(`invoice ${row.number ?? req.invoiceId} is already voided`);
  const progress = await chainProgress(client, req.tenantId, req.confirmations);
  if (!progress) throw new BillingConflictError("the chain has not been indexed far enough to reissue");
  const creditNote = await issueCreditNote(client, { ...req, reason: "void", scope: { kind: "invoice" } });
  const parties = (await loadTenantParties(client, req.tenantId))!;
  const period = { start: row.period_start, end: row.period_end };
  const versionId = (await planVersionFor(client, req.tenantId, period)) ?? row.plan_version_id;
  const plan = await loadPlanSnapshot(client, req.tenantId, versionId);
  const id = await insertDraft(client, {
    tenantId: req.tenantId,
    start: period.start,
    end: period.end,
    timeZone: row.time_zone,
    currency: plan.currency,
    exponent: plan.currencyExponent,
    planVersionId: versionId,
    snapshot: { plan, adjustmentPlans: [] },
    replaces: req.invoiceId,
  });
  const draft = id ? await loadInvoiceRow(client, id) : null;
  if (!draft) throw new BillingError(`could not create the reissue of invoice ${req.invoiceId}`);
  const invoice = await finalizeDraft(client, draft, parties, progress.confirmedBlock, req.now);
  await recordAudit(client, req.tenantId, req.actor, {
    action: "invoice.void_and_reissue",
    entityType: "invoice",
    entityId: req.invoiceId,
    before: { number: row.number, totalMinor: row.total_minor },
    after: { creditNoteNumber: creditNote.number, reissuedInvoiceId: invoice.invoiceId, reissuedNumber: invoice.number, totalMinor: invoice.totalMinor },
  });
  return { creditNote, invoice };
}

/**
 * Excludes records from billing for good, with a reason (e.g. fraudulent usage). Records already
 * charged by a finalized invoice are credited there (reason `excluded`); a draft drops them on its
 * next rebuild. Records must be on the indexed chain for this tenant.
 */
export async function excludeRecords(
  client: Tx,
  req: { tenantId: string; keys: string[]; reason: string; actor: AuditActor; now: Date },
): Promise<{ excluded: string[]; creditNotes: CreditNoteContent[] }> {
  if (req.keys.length === 0) throw new BillingInputError("records", "name at least one record");
  if (req.reason.trim() === "" || req.reason.length > 1000) throw new BillingInputError("reason", "1 to 1000 characters");
  const parsed = req.keys.map((k, i) => {
    const m = /^(0x[0-9a-f]{40}):(\d{1,20})$/.exec(k.toLowerCase());
    if (!m) throw new BillingInputError(`records.${i}`, `"${k}" is not <reporter address>:<sequence>`);
    return { reporter: m[1]!, sequence: BigInt(m[2]!).toString() };
  });
  const known = await recordsByIdentity(client, req.tenantId, parsed.map((p) => ({ reporter: fromHex(p.reporter), sequence: p.sequence })));
  const knownKeys = new Set(known.map((k) => `${toHex(k.reporter)}:${k.sequence}`));
  parsed.forEach((p, i) => {
    if (!knownKeys.has(`${p.reporter}:${p.sequence}`)) throw new BillingInputError(`records.${i}`, `no record ${p.reporter}:${p.sequence} of this tenant`);
  });
  const added = await insertExclusions(client, req.tenantId, parsed, req.reason, req.actor.subject, req.now);
  const addedKeys = added.map((a) => `${a.reporter}:${a.sequence}`);
  await recordAudit(client, req.tenantId, req.actor, { action: "usage.exclude", entityType: "usage_record", entityId: null, before: null, after: { records: addedKeys, reason: req.reason } });

  // Where each newly excluded record is charged now: credit it there.
  const byInvoice = await invoicesCharging(client, req.tenantId, added.map((a) => ({ reporter: fromHex(a.reporter), sequence: a.sequence })));
  const creditNotes: CreditNoteContent[] = [];
  for (const [invoiceId, keys] of byInvoice) {
    const scope: CreditScope = { kind: "records", keys: keys.map((k) => citationKey({ reporter: toHex(k.reporter), sequence: k.sequence })) };
    creditNotes.push(await issueCreditNote(client, { tenantId: req.tenantId, invoiceId, reason: "excluded", memo: req.reason, scope, actor: req.actor, now: req.now }));
  }
  return { excluded: addedKeys, creditNotes };
}
