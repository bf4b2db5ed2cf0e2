import { expect } from "chai";
import { toGlobalId } from "../../api/resolvers/ids";
import { creditNoteContentHash } from "../../rating/credit-note";
import { invoiceContentHash } from "../../rating/invoice";
import { recomputeInvoice } from "../../rating/recompute";
import { creditNoteExportSchema, invoiceExportSchema } from "../../verifier/document";
import { startHarness, writableState, type ApiHarness, type GqlBody, type TestTenant } from "./fixtures";

interface Citation {
  identity: string;
  quantity: string;
}
interface InvoiceView {
  id: string;
  number: number;
  status: string;
  totalMinor: string;
  replaces: { id: string } | null;
  lines: { lineNo: number; meterId: number | null; citations: Citation[] }[];
}

const INVOICES = `{ invoices { edges { node { id number status totalMinor replaces { id } lines { lineNo meterId citations { identity quantity } } } } } }`;
const NOTE_FIELDS = "id number reason memo totalMinor contentHash invoiceNumber invoice { id } lines { invoiceLineNo wholeLine amountMinor records { identity quantity } } export";
const ISSUE = `mutation($input: IssueCreditNoteInput!) { issueCreditNote(input: $input) { ${NOTE_FIELDS} } }`;
const VOID = `mutation($input: VoidAndReissueInput!) { voidAndReissue(input: $input) { creditNote { ${NOTE_FIELDS} } invoice { id number status totalMinor replaces { id } export } } }`;
const EXCLUDE = `mutation($input: ExcludeRecordsInput!) { excludeRecords(input: $input) { excluded creditNotes { ${NOTE_FIELDS} } } }`;

const errorOf = (body: GqlBody) => body.errors?.[0] as { message: string; extensions?: { code?: string; field?: string } } | undefined;

describe("api: corrections by platform billing operators, read and verified by the tenant", function () {
  let h: ApiHarness;
  let billing: string;
  let first: InvoiceView;
  /** acme's January records by quantity (5, 7 and 11 on meter 2). */
  let byQuantity: Record<string, string>;

  const asBilling = (doc: string, input: Record<string, unknown>, tenant: TestTenant = "acme", requestId?: string) =>
    h.gql(billing, doc, { input }, { "meterline-tenant": tenant, ...(requestId ? { "x-request-id": requestId } : {}) });
  const invoicesOf = async (tenant: TestTenant) =>
    ((await h.gql(await h.token(tenant, "viewer"), INVOICES)).body.data!.invoices as { edges: { node: InvoiceView }[] }).edges.map((e) => e.node);
  const auditOf = async (requestId: string) =>
    (
      await h.db.pool.query<{ action: string; subject: string; platform: boolean; changes: { before: unknown; after: Record<string, unknown> | null } }>(
        "SELECT action, subject, platform, changes FROM audit_log WHERE request_id = $1 AND action <> 'platform.request' ORDER BY id",
        [requestId],
      )
    ).rows;

  before(async () => {
    h = await startHarness();
    billing = await h.token("globex", "platform:billing");
    first = (await invoicesOf("acme"))[0]!;
    const usage = first.lines.find((l) => l.meterId === 2)!;
    byQuantity = Object.fromEntries(usage.citations.map((c) => [c.quantity, c.identity]));
  });
  after(async () => h?.close());

  it("the seeded invoice is finalized and cites its records by identity, without the duplicate", async function () {
    expect(first).to.deep.include({ number: 1, status: "FINALIZED", totalMinor: "2300", replaces: null });
    expect(Object.keys(byQuantity).sort()).to.deep.equal(["11", "5", "7"]);
    expect(Object.values(byQuantity).every((k) => /^0x[0-9a-f]{40}:\d+$/.test(k))).to.equal(true);
  });

  it("credits a record off a finalized invoice; the tenant reads the note and verifies both documents", async function () {
    const res = await asBilling(ISSUE, { invoice: first.id, reason: "dispute", memo: "double-counted batch", scope: { records: [byQuantity["5"]] } }, "acme", "cn-1");
    expect(res.body.errors, JSON.stringify(res.body.errors)).to.equal(undefined);
    const note = res.body.data!.issueCreditNote as { number: number; reason: string; totalMinor: string; invoiceNumber: number; invoice: { id: string }; lines: unknown[] };
    expect(note).to.deep.include({ number: 1, reason: "dispute", totalMinor: "500", invoiceNumber: 1, invoice: { id: first.id } });
    expect(note.lines).to.deep.equal([{ invoiceLineNo: first.lines.find((l) => l.meterId === 2)!.lineNo, wholeLine: false, amountMinor: "500", records: [{ identity: byQuantity["5"], quantity: "5" }] }]);

    // Everyone on the tenant reads it, per invoice and per tenant, with its export.
    const viewer = await h.token("acme", "viewer");
    const listed = await h.gql(viewer, `query($i: ID!) { creditNotes(invoice: $i) { totalCount edges { node { id contentHash export } } } all: creditNotes { totalCount } }`, { i: first.id });
    const { totalCount, edges } = listed.body.data!.creditNotes as { totalCount: number; edges: { node: { contentHash: string; export: string } }[] };
    expect([totalCount, (listed.body.data!.all as { totalCount: number }).totalCount]).to.deep.equal([1, 1]);
    const exported = creditNoteExportSchema.parse(JSON.parse(edges[0]!.node.export));
    expect(exported.format).to.equal("meterline.credit-note.v2");
    expect(exported.contentHash).to.equal(creditNoteContentHash(exported.creditNote));
    expect(exported.contentHash).to.equal(edges[0]!.node.contentHash);
    expect(exported.creditNote.memo).to.equal("double-counted batch");

    // The invoice itself never changed; its v2 export carries the note.
    const invoice = await h.gql(viewer, `query($i: ID!) { invoice(id: $i) { totalMinor contentHash export creditNotes { number } } }`, { i: first.id });
    const inv = invoice.body.data!.invoice as { totalMinor: string; contentHash: string; export: string; creditNotes: { number: number }[] };
    expect(inv.totalMinor).to.equal("2300");
    expect(inv.creditNotes).to.deep.equal([{ number: 1 }]);
    const doc = invoiceExportSchema.parse(JSON.parse(inv.export));
    expect(doc.format).to.equal("meterline.invoice.v2");
    expect(doc.contentHash).to.equal(invoiceContentHash(doc.invoice));
    expect(doc.contentHash).to.equal(inv.contentHash);
    expect(recomputeInvoice(doc.invoice).totalOk).to.equal(true);
    expect(doc.creditNotes.map((n) => [n.creditNote.number, n.contentHash])).to.deep.equal([[1, exported.contentHash]]);

    // Audited, as the operator and the request that did it; another tenant sees nothing of it.
    const audit = await auditOf("cn-1");
    expect(audit.map((a) => [a.action, a.subject, a.platform])).to.deep.equal([["credit_note.issue", "globex-platform-billing", true]]);
    expect(audit[0]!.changes.before).to.equal(null);
    expect(audit[0]!.changes.after).to.deep.include({ number: 1, reason: "dispute", totalMinor: "500" });
    const globex = await h.gql(await h.token("globex", "viewer"), "{ creditNotes { totalCount } }");
    expect(globex.body.data).to.deep.equal({ creditNotes: { totalCount: 0 } });
  });

  it("excludes a record for good: credited where invoiced, listed as excluded", async function () {
    const res = await asBilling(EXCLUDE, { records: [byQuantity["7"]], reason: "fraudulent reporter key" }, "acme", "ex-1");
    expect(res.body.errors, JSON.stringify(res.body.errors)).to.equal(undefined);
    const done = res.body.data!.excludeRecords as { excluded: string[]; creditNotes: { number: number; reason: string; totalMinor: string; memo: string }[] };
    expect(done.excluded).to.deep.equal([byQuantity["7"]]);
    expect(done.creditNotes.map((n) => [n.number, n.reason, n.totalMinor, n.memo])).to.deep.equal([[2, "excluded", "700", "fraudulent reporter key"]]);
    const listed = await h.gql(await h.token("acme", "viewer"), "{ exclusions { totalCount edges { node { identity reason excludedAt } } } }");
    const exclusions = listed.body.data!.exclusions as { totalCount: number; edges: { node: { identity: string; reason: string } }[] };
    expect(exclusions.totalCount).to.equal(1);
    expect(exclusions.edges[0]!.node).to.deep.include({ identity: byQuantity["7"], reason: "fraudulent reporter key" });
    expect((await auditOf("ex-1")).map((a) => a.action)).to.deep.equal(["usage.exclude", "credit_note.issue"]);
    // Excluding it again excludes nothing new.
    const again = await asBilling(EXCLUDE, { records: [byQuantity["7"]], reason: "again" });
    expect(again.body.data).to.deep.equal({ excludeRecords: { excluded: [], creditNotes: [] } });
  });

  it("voids and reissues in one step: a void note for what was still charged, a new number for the same period", async function () {
    const res = await asBilling(VOID, { invoice: first.id, memo: "wrong plan assignment" }, "acme", "void-1");
    expect(res.body.errors, JSON.stringify(res.body.errors)).to.equal(undefined);
    const { creditNote, invoice } = res.body.data!.voidAndReissue as {
      creditNote: { number: number; reason: string; totalMinor: string };
      invoice: { id: string; number: number; status: string; totalMinor: string; replaces: { id: string }; export: string };
    };
    // Still charged: the 11-unit record (5 was disputed, 7 excluded).
    expect(creditNote).to.deep.include({ number: 3, reason: "void", totalMinor: "1100" });
    // Released by the void, the 11 units are billed again on the reissue; disputed and excluded records are not.
    expect(invoice).to.deep.include({ number: 2, status: "FINALIZED", totalMinor: "1100", replaces: { id: first.id } });
    const doc = invoiceExportSchema.parse(JSON.parse(invoice.export));
    expect(doc.invoice.replacesInvoiceNumber).to.equal(1);
    expect(doc.contentHash).to.equal(invoiceContentHash(doc.invoice));
    expect((await auditOf("void-1")).map((a) => a.action)).to.deep.equal(["credit_note.issue", "invoice.void_and_reissue"]);
    expect((await invoicesOf("acme")).map((i) => i.number)).to.deep.equal([2, 1]);

    const before = await writableState(h.db);
    const again = await asBilling(VOID, { invoice: first.id, memo: "" });
    expect(errorOf(again.body)?.extensions?.code).to.equal("CONFLICT");
    expect(errorOf(again.body)?.message).to.match(/already voided/);
    expect(await writableState(h.db)).to.deep.equal(before);
  });

  it("credits whole lines and whole invoices; what is already credited is a CONFLICT", async function () {
    const [reissued] = await invoicesOf("acme");
    const line = reissued!.lines.find((l) => l.meterId === 2)!;
    const goodwill = await asBilling(ISSUE, { invoice: reissued!.id, reason: "goodwill", memo: "outage in January", scope: { lines: [line.lineNo] } });
    expect(goodwill.body.errors, JSON.stringify(goodwill.body.errors)).to.equal(undefined);
    expect(goodwill.body.data!.issueCreditNote).to.deep.include({ number: 4, reason: "goodwill", totalMinor: "1100" });
    expect((goodwill.body.data!.issueCreditNote as { lines: { wholeLine: boolean }[] }).lines.map((l) => l.wholeLine)).to.deep.equal([true]);

    const before = await writableState(h.db);
    const whole = await asBilling(ISSUE, { invoice: reissued!.id, reason: "goodwill", memo: "", scope: { wholeInvoice: true } });
    expect(errorOf(whole.body)?.extensions?.code).to.equal("CONFLICT");
    expect(errorOf(whole.body)?.message).to.match(/already credited/);
    expect(await writableState(h.db)).to.deep.equal(before);
  });

  it("bad correction inputs answer BAD_USER_INPUT naming the field and write nothing", async function () {
    const invoice = first.id;
    const cases: [string, string, Record<string, unknown>, string][] = [
      ["a reason billing keeps for itself", ISSUE, { invoice, reason: "void", memo: "", scope: { wholeInvoice: true } }, "input.reason"],
      ["an unknown reason", ISSUE, { invoice, reason: "because", memo: "", scope: { wholeInvoice: true } }, "input.reason"],
      ["no scope", ISSUE, { invoice, reason: "dispute", memo: "", scope: {} }, "input.scope"],
      ["two scopes", ISSUE, { invoice, reason: "dispute", memo: "", scope: { wholeInvoice: true, lines: [1] } }, "input.scope"],
      ["wholeInvoice false", ISSUE, { invoice, reason: "dispute", memo: "", scope: { wholeInvoice: false } }, "input.scope.wholeInvoice"],
      ["a line the invoice does not have", ISSUE, { invoice, reason: "dispute", memo: "", scope: { lines: [99] } }, "input.scope.lines"],
      ["a record the invoice does not cite", ISSUE, { invoice, reason: "dispute", memo: "", scope: { records: [`0x${"ab".repeat(20)}:1`] } }, "input.scope.records"],
      ["a memo over 1000 characters", ISSUE, { invoice, reason: "dispute", memo: "x".repeat(1001), scope: { wholeInvoice: true } }, "input.memo"],
      ["a record key that is not <reporter>:<sequence>", EXCLUDE, { records: ["0x12:3"], reason: "fraud" }, "input.records.0"],
      ["a record of no one", EXCLUDE, { records: [`0x${"ab".repeat(20)}:1`], reason: "fraud" }, "input.records.0"],
      ["no records", EXCLUDE, { records: [], reason: "fraud" }, "input.records"],
      ["an empty exclusion reason", EXCLUDE, { records: [byQuantity["11"]], reason: " " }, "input.reason"],
    ];
    for (const [name, doc, input, field] of cases) {
      const before = await writableState(h.db);
      const res = await asBilling(doc, input);
      const err = errorOf(res.body);
      expect(err?.extensions, `${name}: ${JSON.stringify(res.body)}`).to.deep.equal({ code: "BAD_USER_INPUT", field });
      expect(err?.message.startsWith(`${field}: `), name).to.equal(true);
      expect(await writableState(h.db), name).to.deep.equal(before);
    }
  });

  describe("another tenant's ids answer like unknown ids", function () {
    let foreign: { invoice: string; creditNote: string; record: string };
    const unknown = { invoice: toGlobalId("Invoice", "999999"), creditNote: toGlobalId("CreditNote", "999999"), record: `0x${"cd".repeat(20)}:1` };
    const strip = (body: unknown, ids: Record<string, string>) => {
      let text = JSON.stringify(body).replace(/"locations":\[[^\]]*\],?/g, "");
      for (const v of Object.values(ids)) text = text.split(v).join("<id>");
      return JSON.parse(text) as unknown;
    };

    before(async () => {
      const [g] = await invoicesOf("globex");
      const record = g!.lines.find((l) => l.meterId === 2)!.citations[0]!.identity;
      const note = await asBilling(ISSUE, { invoice: g!.id, reason: "goodwill", memo: "globex", scope: { records: [record] } }, "globex");
      foreign = { invoice: g!.id, creditNote: (note.body.data!.issueCreditNote as { id: string }).id, record: g!.lines.find((l) => l.meterId === 2)!.citations[1]!.identity };
    });

    const probes: [string, "viewer" | "platform:billing", string, (i: { invoice: string; creditNote: string; record: string }) => Record<string, unknown>][] = [
      ["creditNote(id)", "viewer", `query($id: ID!) { creditNote(id: $id) { id memo } }`, (i) => ({ id: i.creditNote })],
      ["creditNotes(invoice)", "viewer", `query($id: ID!) { creditNotes(invoice: $id) { totalCount edges { node { id } } } }`, (i) => ({ id: i.invoice })],
      ["invoice(id) with its credit notes", "viewer", `query($id: ID!) { invoice(id: $id) { id creditNotes { id } export } }`, (i) => ({ id: i.invoice })],
      ["issueCreditNote(invoice)", "platform:billing", ISSUE, (i) => ({ input: { invoice: i.invoice, reason: "goodwill", memo: "", scope: { wholeInvoice: true } } })],
      ["voidAndReissue(invoice)", "platform:billing", VOID, (i) => ({ input: { invoice: i.invoice, memo: "" } })],
      ["excludeRecords(records)", "platform:billing", EXCLUDE, (i) => ({ input: { records: [i.record], reason: "probe" } })],
    ];
    for (const [name, role, doc, vars] of probes) {
      it(name, async function () {
        const token = role === "viewer" ? await h.token("acme", "viewer") : billing;
        const headers: Record<string, string> = role === "viewer" ? {} : { "meterline-tenant": "acme" };
        const before = await writableState(h.db);
        const probe = await h.gql(token, doc, vars(foreign), headers);
        const control = await h.gql(token, doc, vars(unknown), headers);
        expect(probe.status).to.equal(control.status);
        expect(strip(probe.body, foreign)).to.deep.equal(strip(control.body, unknown));
        expect(JSON.stringify(probe.body)).to.not.contain("globex");
        expect(await writableState(h.db)).to.deep.equal(before);
      });
    }
  });

  describe("entitlement", function () {
    const QUERY = `query($t: String, $m: String!) { entitlement(tenant: $t, meter: $m) { meterId allowed usage limit softLimit remaining status periodStart resetsAt } }`;
    let expected: { usage: string; periodStart: string; resetsAt: string };

    before(async () => {
      // acme's meter 1 this UTC month, each idempotency key once: what the rollups hold.
      const { rows } = await h.db.pool.query<{ usage: string; start: Date; end: Date }>(
        `SELECT coalesce(sum(quantity), 0)::text AS usage, date_trunc('month', now(), 'UTC') AS start, date_trunc('month', now(), 'UTC') + interval '1 month' AS end
           FROM usage_records WHERE tenant_id = $1 AND meter_id = 1 AND NOT is_duplicate AND period_start >= date_trunc('month', now(), 'UTC')`,
        [h.tenantIds.acme],
      );
      expected = { usage: rows[0]!.usage, periodStart: rows[0]!.start.toISOString(), resetsAt: rows[0]!.end.toISOString() };
    });

    it("a tenant asks about its own meters, by name or number", async function () {
      const viewer = await h.token("acme", "viewer");
      const usage = BigInt(expected.usage);
      const want = {
        meterId: 1,
        allowed: true,
        usage: expected.usage,
        limit: "100000",
        softLimit: "100",
        remaining: (100000n - usage).toString(),
        status: usage >= 100n ? "WARNING" : "OK",
        periodStart: expected.periodStart,
        resetsAt: expected.resetsAt,
      };
      for (const vars of [{ m: "acme-meter-1" }, { m: "1" }, { t: "acme", m: "acme-meter-1" }]) {
        const res = await h.gql(viewer, QUERY, vars);
        expect(res.body, JSON.stringify(vars)).to.deep.equal({ data: { entitlement: want } });
      }
      // No hard limit: always allowed, nothing remaining to count down.
      const open = await h.gql(viewer, QUERY, { m: "acme-meter-2" });
      expect(open.body.data!.entitlement).to.deep.include({ meterId: 2, allowed: true, limit: null, remaining: null, status: "OK" });
    });

    it("a tenant cannot ask about another tenant, named or not existing alike", async function () {
      const viewer = await h.token("acme", "viewer");
      const other = await h.gql(viewer, QUERY, { t: "globex", m: "globex-meter-1" });
      const none = await h.gql(viewer, QUERY, { t: "no-such-tenant", m: "globex-meter-1" });
      expect(errorOf(other.body)?.extensions?.code).to.equal("FORBIDDEN");
      expect(JSON.stringify(other.body)).to.equal(JSON.stringify(none.body));
      // Its own tenant's data never answers a question about another's meter name either.
      const foreignMeter = await h.gql(viewer, QUERY, { m: "globex-meter-1" });
      expect(errorOf(foreignMeter.body)?.extensions?.code).to.equal("NOT_FOUND");
    });

    it("a platform operator names the tenant in its header (audited); the argument must agree", async function () {
      const token = await h.token("acme", "platform:viewer");
      const res = await h.gql(token, QUERY, { m: "globex-meter-1" }, { "meterline-tenant": "globex", "x-request-id": "ent-1" });
      expect(res.body.data!.entitlement).to.deep.include({ meterId: 1, limit: "100000" });
      const agreed = await h.gql(token, QUERY, { t: "globex", m: "globex-meter-1" }, { "meterline-tenant": "globex" });
      expect(agreed.body.errors).to.equal(undefined);
      const { rows } = await h.db.pool.query("SELECT subject, platform, entity_id FROM audit_log WHERE tenant_id = $1 AND request_id = 'ent-1'", [h.tenantIds.globex]);
      expect(rows).to.deep.equal([{ subject: "acme-platform-viewer", platform: true, entity_id: "globex" }]);
      // The argument never selects a tenant: naming another than the header's is refused.
      const disagreeing = await h.gql(token, QUERY, { t: "acme", m: "acme-meter-1" }, { "meterline-tenant": "globex" });
      expect(errorOf(disagreeing.body)?.extensions?.code).to.equal("FORBIDDEN");
      // Without the header a platform role grants nothing, the argument notwithstanding.
      const headerless = await h.gql(token, QUERY, { t: "globex", m: "globex-meter-1" });
      expect(errorOf(headerless.body)?.extensions?.code).to.equal("FORBIDDEN");
    });
  });
});
