import { expect } from "chai";
import pg from "pg";
import { excludeRecords, issueCreditNote, voidAndReissue } from "../../billing/corrections";
import { BillingConflictError, BillingInputError } from "../../billing/errors";
import { exportInvoice } from "../../billing/export";
import { runBillingOnce } from "../../billing/run";
import { checkEntitlement } from "../../billing/entitlement";
import { withTransaction } from "../../db/connection";
import { citationKey } from "../../rating/citation";
import { creditNoteContentHash } from "../../rating/credit-note";
import { recomputeInvoice } from "../../rating/recompute";
import { applySeed, seedSchema } from "../../stack/seed/apply-seed";
import { createTestDatabase, openAsRole, type TestDatabase } from "../helpers/database";
import type { Database } from "../../db/connection";
import { addContract, addMeter, addRecord, addTenant, setCheckpoint } from "./helpers/chain-rows";

const opts = { confirmations: 0, graceMs: 3_600_000 };
const actor = { subject: "billing-ops@platform", platform: true };
const at = new Date("2026-04-02T00:00:00Z");

const seed = seedSchema.parse({
  tenants: [
    {
      slug: "acme",
      meters: [
        { name: "calls", aggregation: "SUM", displayName: "Calls" },
        { name: "peak", aggregation: "MAX", displayName: "Peak" },
      ],
      plan: {
        name: "p",
        versions: [
          {
            currency: "USD",
            minimumMinor: "1000",
            prices: [
              { meter: "calls", model: "graduated", tiers: [{ upTo: "100", unitPrice: "0.10" }, { upTo: null, unitPrice: "0.05" }] },
              { meter: "peak", model: "per_unit", unitPrice: "1" },
            ],
          },
        ],
      },
      quotas: [{ meter: "calls", hardLimit: "500" }],
    },
  ],
});

describe("billing corrections: credit notes, exclusions, void and reissue", function () {
  let db: TestDatabase;
  /** The billing service under test runs as its own database role (meterline_billing). */
  let billing: Database;
  let tenantId: string;
  let contractId: number;
  let march: string;

  const invoiceOf = async (id: string) => (await exportInvoice(billing, tenantId, id)).invoice;
  const marchContent = () => invoiceOf(march);

  before(async function () {
    db = await createTestDatabase();
    billing = await openAsRole(db, "meterline_billing");
    contractId = await addContract(db.pool);
    tenantId = await addTenant(db.pool, contractId, "acme", 1);
    await addMeter(db.pool, tenantId, 1, "calls");
    await addMeter(db.pool, tenantId, 2, "peak");
    await applySeed(billing, seed, { now: new Date("2026-02-15T00:00:00Z") });
    await setCheckpoint(db.pool, contractId, 100);
    // March: 120 calls in three records (10.00 + 1.00 = 11.00) and a peak of 7 (7.00)
    for (const q of [50n, 40n, 30n]) await addRecord(db.pool, { tenantId, contractId, meterId: 1, at: new Date("2026-03-05T00:00:00Z"), quantity: q, blockNumber: 10 });
    for (const q of [7n, 3n]) await addRecord(db.pool, { tenantId, contractId, meterId: 2, at: new Date("2026-03-06T00:00:00Z"), quantity: q, blockNumber: 11 });
    const r = await runBillingOnce(billing, at, opts);
    expect(r.finalized).to.have.length(1);
    march = r.finalized[0]!.invoiceId;
    expect((await marchContent()).totalMinor).to.equal("1800");
  });
  after(async function () {
    await db?.drop();
  });

  it("credits records off a finalized invoice without changing it; amounts recompute from the invoice alone", async function () {
    const before = await marchContent();
    const calls = before.lines.find((l) => l.meterId === 1)!;
    const key = citationKey(calls.records.find((r) => r.quantity === "50")!);
    const note = await withTransaction(billing.pool, (c) =>
      issueCreditNote(c, { tenantId, invoiceId: march, reason: "dispute", memo: "double-counted batch", scope: { kind: "records", keys: [key] }, actor, now: at }),
    );
    // 120 -> 70 calls: 11.00 -> 7.00, a credit of 4.00 on the calls line; the minimum (10.00) is
    // still exceeded (7.00 + 7.00), so no minimum line moves.
    expect(note.lines.map((l) => [l.invoiceLineNo, l.amountMinor, l.records.length])).to.deep.equal([[calls.lineNo, "400", 1]]);
    expect(note.totalMinor).to.equal("400");
    expect(note.number).to.equal(1);
    expect(creditNoteContentHash(note)).to.match(/^0x[0-9a-f]{64}$/);
    const after = await exportInvoice(billing, tenantId, march);
    expect(after.invoice).to.deep.equal(before);
    expect(after.creditNotes.map((n) => n.creditNote.number)).to.deep.equal([1]);
    expect(after.creditNotes[0]!.contentHash).to.equal(creditNoteContentHash(after.creditNotes[0]!.creditNote));
    expect(recomputeInvoice(after.invoice).totalOk).to.equal(true);

    // The same record again: nothing left to credit.
    const twice = await withTransaction(billing.pool, (c) =>
      issueCreditNote(c, { tenantId, invoiceId: march, reason: "dispute", memo: "", scope: { kind: "records", keys: [key] }, actor, now: at }),
    ).catch((e: unknown) => e);
    expect(twice).to.be.instanceOf(BillingConflictError);
    const unknown = await withTransaction(billing.pool, (c) =>
      issueCreditNote(c, { tenantId, invoiceId: march, reason: "dispute", memo: "", scope: { kind: "records", keys: ["0xabc:1"] }, actor, now: at }),
    ).catch((e: unknown) => e);
    expect((unknown as BillingInputError).field).to.equal("records");

    // A disputed record is settled: the April draft does not bill it again.
    await runBillingOnce(billing, new Date("2026-04-03T00:00:00Z"), opts);
    const { rows } = await db.pool.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM invoice_lines l JOIN invoices i ON i.id = l.invoice_id WHERE i.status = 'draft' AND l.kind = 'adjustment'",
    );
    expect(rows[0]!.n).to.equal(0);
  });

  it("excludes fraudulent records for good, crediting them where invoiced", async function () {
    const content = await marchContent();
    const peak = content.lines.find((l) => l.meterId === 2)!;
    const top = peak.records.find((r) => r.quantity === "7")!;
    const r = await withTransaction(billing.pool, (c) => excludeRecords(c, { tenantId, keys: [citationKey(top)], reason: "fraudulent reporter key", actor, now: at }));
    expect(r.excluded).to.deep.equal([citationKey(top)]);
    expect(r.creditNotes).to.have.length(1);
    const note = r.creditNotes[0]!;
    // peak 7 -> 3: 7.00 -> 3.00 (credit 4.00); usage 7.00 + 3.00 = 10.00 meets the minimum exactly
    expect(note.reason).to.equal("excluded");
    expect(note.number).to.equal(2);
    expect(note.totalMinor).to.equal("400");
    const bad = await withTransaction(billing.pool, (c) => excludeRecords(c, { tenantId, keys: ["0x12:3"], reason: "x", actor, now: at })).catch((e: unknown) => e);
    expect((bad as BillingInputError).field).to.equal("records.0");
  });

  it("crediting a whole line credits what it charged; no minimum line appears after the fact", async function () {
    const content = await marchContent();
    const calls = content.lines.find((l) => l.meterId === 1)!;
    const note = await withTransaction(billing.pool, (c) =>
      issueCreditNote(c, { tenantId, invoiceId: march, reason: "goodwill", memo: "outage", scope: { kind: "lines", lineNos: [calls.lineNo] }, actor, now: at }),
    );
    // calls 7.00 -> 0, peak 3.00: usage 3.00 < minimum 10.00. The invoice had no minimum line, so
    // nothing tops it up after the fact: the note credits 7.00.
    expect(note.lines.map((l) => [l.invoiceLineNo, l.wholeLine, l.amountMinor])).to.deep.equal([[calls.lineNo, true, "700"]]);
  });

  it("voids and reissues in one transaction: the period's billable records go on a new number", async function () {
    const { creditNote, invoice } = await withTransaction(billing.pool, (c) => voidAndReissue(c, { tenantId, invoiceId: march, memo: "wrong plan assignment fixed", actor, now: at, confirmations: 0 }));
    expect(creditNote.reason).to.equal("void");
    // What March still charged: peak 3.00 (calls fully credited, 7 excluded).
    expect(creditNote.totalMinor).to.equal("300");
    expect(invoice.number).to.equal(2);
    expect(invoice.replacesInvoiceNumber).to.equal(1);
    // Billable again: the calls of the goodwill line? No: goodwill settles them. The void released
    // only what March still charged: peak 3 (7 is excluded). Usage 3.00, minimum tops up to 10.00.
    expect(invoice.lines.map((l) => [l.kind, l.amountMinor])).to.deep.equal([
      ["usage", "300"],
      ["minimum", "700"],
    ]);
    expect(recomputeInvoice(invoice).totalOk).to.equal(true);
    const again = await withTransaction(billing.pool, (c) => voidAndReissue(c, { tenantId, invoiceId: march, memo: "", actor, now: at, confirmations: 0 })).catch((e: unknown) => e);
    expect(again).to.be.instanceOf(BillingConflictError);
    const { rows } = await db.pool.query<{ event_type: string; n: number }>("SELECT event_type, count(*)::int AS n FROM webhook_outbox GROUP BY 1 ORDER BY 1");
    expect(rows).to.deep.include({ event_type: "credit_note.issued", n: 4 });
    expect(rows).to.deep.include({ event_type: "invoice.finalized", n: 2 });
    const { rows: numbers } = await db.pool.query<{ number: number }>("SELECT number FROM credit_notes WHERE tenant_id = $1 ORDER BY number", [tenantId]);
    expect(numbers.map((n) => n.number)).to.deep.equal([1, 2, 3, 4]);
  });

  it("every issued document extends the tenant's hash chain, in issue order; plan assignments are recorded", async function () {
    const { rows } = await db.pool.query<{ seq: number; kind: string; number: number; content_hash: Buffer; previous_hash: Buffer }>(
      "SELECT seq, kind, number, content_hash, previous_hash FROM billing_documents WHERE tenant_id = $1 ORDER BY seq",
      [tenantId],
    );
    expect(rows.map((r) => `${r.kind}:${r.number}`)).to.deep.equal(["invoice:1", "credit_note:1", "credit_note:2", "credit_note:3", "credit_note:4", "invoice:2"]);
    expect(rows[0]!.previous_hash.equals(Buffer.alloc(32))).to.equal(true);
    for (let i = 1; i < rows.length; i++) expect(rows[i]!.previous_hash.equals(rows[i - 1]!.content_hash), `link ${i}`).to.equal(true);
    // The documents themselves name the same links and hash to what the chain records.
    const march = await exportInvoice(billing, tenantId, (await db.pool.query<{ id: string }>("SELECT id::text AS id FROM invoices WHERE number = 1 AND tenant_id = $1", [tenantId])).rows[0]!.id);
    expect(march.invoice.previousDocumentHash).to.equal(`0x${"00".repeat(32)}`);
    expect(march.contentHash).to.equal(`0x${rows[0]!.content_hash.toString("hex")}`);
    expect(march.creditNotes.map((n) => n.creditNote.previousDocumentHash)).to.deep.equal(rows.slice(0, 4).map((r) => `0x${r.content_hash.toString("hex")}`));
    const { rows: plans } = await db.pool.query<{ effective_from: Date }>("SELECT effective_from FROM plan_assignments WHERE tenant_id = $1", [tenantId]);
    expect(plans.map((p) => p.effective_from.toISOString())).to.deep.equal(["2026-03-01T00:00:00.000Z"]);
  });

  it("nobody can change or wipe invoices, credit notes, exclusions or the audit log, the owner included", async function () {
    for (const sql of ["UPDATE credit_notes SET memo = 'x'", "DELETE FROM credit_note_records", "DELETE FROM billing_exclusions", "UPDATE credit_note_lines SET amount_minor = 0"]) {
      const err = await db.pool.query(sql).catch((e: Error) => e);
      expect(String(err), sql).to.match(/append-only/);
    }
    const tables = ["invoices", "invoice_lines", "invoice_line_records", "credit_notes", "credit_note_lines", "credit_note_records", "billing_exclusions", "audit_log", "rate_plan_versions", "subscriptions", "billing_documents", "plan_assignments"];
    // The test database's owner (a superuser here) and a member role with every grant.
    const owner = new pg.Client({ connectionString: db.url });
    await owner.connect();
    try {
      for (const t of tables) {
        const err = await owner.query(`TRUNCATE ${t} CASCADE`).catch((e: Error) => e);
        expect(String(err), t).to.match(/cannot be truncated|append-only/);
      }
    } finally {
      await owner.end();
    }
  });

  it("answers entitlement checks from rollups: allowed, usage, limit, remaining, reset", async function () {
    // The chain-rows helper writes records without rollups; the indexer keeps both, so mirror it here.
    await db.pool.query(
      `INSERT INTO usage_rollups (tenant_id, meter_id, bucket_start, quantity_sum, quantity_max, record_count)
       SELECT tenant_id, meter_id, date_trunc('hour', period_start, 'UTC'), sum(quantity), max(quantity), count(*) FROM usage_records
        WHERE tenant_id = $1 GROUP BY 1, 2, 3 ON CONFLICT DO NOTHING`,
      [tenantId],
    );
    const e = await checkEntitlement(db.pool, tenantId, "calls", new Date("2026-03-20T00:00:00Z"));
    expect(e).to.deep.include({ allowed: true, usage: "120", limit: "500", remaining: "380", status: "ok" });
    expect(e.resetsAt.toISOString()).to.equal("2026-04-01T00:00:00.000Z");
    await addRecord(db.pool, { tenantId, contractId, meterId: 1, at: new Date("2026-03-21T00:00:00Z"), quantity: 400n, blockNumber: 50 });
    await db.pool.query(
      `INSERT INTO usage_rollups (tenant_id, meter_id, bucket_start, quantity_sum, quantity_max, record_count) VALUES ($1, 1, '2026-03-21T00:00:00Z', 400, 400, 1)`,
      [tenantId],
    );
    const over = await checkEntitlement(db.pool, tenantId, "calls", new Date("2026-03-22T00:00:00Z"));
    expect(over).to.deep.include({ allowed: false, usage: "520", remaining: "0", status: "exceeded" });
    const unlimited = await checkEntitlement(db.pool, tenantId, "peak", new Date("2026-03-22T00:00:00Z"));
    expect(unlimited).to.deep.include({ allowed: true, limit: null, remaining: null });
  });
});
