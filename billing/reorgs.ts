/**
 * Invoiced usage that a reorg took off the canonical chain. Billing reconciles finalized invoices
 * with the indexed chain by record identity: a record re-included in another block (another tx,
 * log or block) is the same record and stays billed once; a record gone for good (still missing
 * after the chain moved `confirmations` blocks on) is credited with reason `reorg`, announced
 * (log, metric, webhook event) and, should it ever come back, billed again as late usage.
 */
import { systemActor } from "../db/audit-log";
import { toHex } from "../chain/hex";
import { citationKey, type RecordCitation } from "../rating/citation";
import { enqueueEvent } from "../webhooks/outbox";
import { issueCreditNote } from "./corrections";
import { forgetMissing, refreshMissingRecords, settledMissing } from "./store/missing-records";
import type { Tx } from "./store/invoice-store";

export interface ReorgCredit {
  invoiceId: string;
  invoiceNumber: number;
  creditNoteNumber: number;
  records: number;
  totalMinor: string;
}

const MEMO = "records left the canonical chain in a reorg deeper than the confirmations";

export async function creditReorgedRecords(
  client: Tx,
  tenantId: string,
  chain: { checkpoint: bigint },
  confirmations: number,
  now: Date,
): Promise<{ missing: number; credits: ReorgCredit[] }> {
  const missing = await refreshMissingRecords(client, tenantId, chain.checkpoint);
  if (missing === 0) return { missing, credits: [] };
  const credits: ReorgCredit[] = [];
  for (const [invoiceId, keys] of await settledMissing(client, tenantId, chain.checkpoint, confirmations)) {
    const scope = { kind: "records" as const, keys: keys.map((k) => citationKey({ reporter: toHex(k.reporter), sequence: k.sequence })) };
    const note = await issueCreditNote(client, { tenantId, invoiceId, reason: "reorg", memo: MEMO, scope, actor: systemActor("meterline-billing"), now });
    await forgetMissing(client, tenantId, keys);
    const records: RecordCitation[] = note.lines.flatMap((l) => l.records);
    await enqueueEvent(client, tenantId, "billing.record_reorged", `billing.record_reorged:${note.creditNoteId}`, {
      tenantId,
      invoiceId,
      invoiceNumber: note.invoiceNumber,
      creditNoteNumber: note.number,
      totalMinor: note.totalMinor,
      records: records.map((r) => ({ reporter: r.reporter, sequence: r.sequence, seenAt: r.seenAt })),
    });
    credits.push({ invoiceId, invoiceNumber: note.invoiceNumber, creditNoteNumber: note.number, records: records.length, totalMinor: note.totalMinor });
  }
  return { missing: missing - credits.reduce((n, c) => n + c.records, 0), credits };
}
