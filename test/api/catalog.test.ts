import { expect } from "chai";
import { toGlobalId } from "../../api/resolvers/ids";
import { documentHash } from "../../rating/document-hash";
import { hash32, startHarness, writableState, type ApiHarness, type GqlBody } from "./fixtures";

const ACME = { "meterline-tenant": "acme" };
const DAY = 86_400_000;

/** The first instant of the UTC month `months` after the current one. */
function monthStart(months: number): string {
  const now = new Date();
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + months, 1)).toISOString();
}

const errorOf = (body: GqlBody) => body.errors?.[0] as { message: string; extensions?: { code?: string; field?: string } } | undefined;

describe("api: billing configuration belongs to the platform; the tenant admin keeps its thresholds", function () {
  let h: ApiHarness;
  let admin: string;
  let plan: string;
  const meter = (n: number) => toGlobalId("Meter", h.tenantIds.acme, n);
  /** As the platform admin (homed in globex) acting on acme, optionally with a request id of ours. */
  const asAdmin = (doc: string, vars: Record<string, unknown> = {}, requestId?: string) =>
    h.gql(admin, doc, vars, { ...ACME, ...(requestId ? { "x-request-id": requestId } : {}) });

  const VERSION = `mutation($input: CreatePlanVersionInput!) {
    createPlanVersion(input: $input) { id version effectiveFrom currency minimumMinor snapshotHash
      prices { meterId model unitPrice includedUnits packageSize aggregation tiers { upTo unitPrice flatFee } } } }`;

  before(async () => {
    h = await startHarness();
    admin = await h.token("globex", "platform:admin");
    const res = await h.gql(await h.token("acme", "viewer"), "{ plans { id name } }");
    plan = (res.body.data!.plans as { id: string; name: string }[]).find((p) => p.name === "standard")!.id;
  });
  after(async () => h?.close());

  it("a tenant admin cannot change aggregation, prices, plans, subscriptions or limits; it sets its own thresholds and webhooks", async function () {
    const tenantAdmin = await h.token("acme", "admin");
    const refused: [string, string, Record<string, unknown>][] = [
      ["configureMeter", `mutation($m: ID!) { configureMeter(input: { meter: $m, aggregation: MAX, unit: "x", displayName: "x" }) { id } }`, { m: meter(1) }],
      ["createPlan", `mutation { createPlan(input: { name: "cheap" }) { id } }`, {}],
      [
        "createPlanVersion",
        VERSION,
        { input: { plan, effectiveFrom: monthStart(2), currency: "USD", prices: [{ meter: meter(1), model: "per_unit", unitPrice: "0" }] } },
      ],
      ["withdrawPlanVersion", `mutation($v: ID!) { withdrawPlanVersion(id: $v) }`, { v: toGlobalId("PlanVersion", 1) }],
      ["subscribe", `mutation($p: ID!, $at: DateTime!) { subscribe(input: { plan: $p, startsAt: $at }) { id } }`, { p: plan, at: monthStart(1) }],
      ["setQuotaLimits", `mutation($m: ID!) { setQuotaLimits(input: { meter: $m, hardLimit: "999999999" }) { id } }`, { m: meter(1) }],
      ["removeQuota", `mutation($m: ID!) { removeQuota(meter: $m) }`, { m: meter(1) }],
      ["setTimeZone", `mutation { setTimeZone(timeZone: "Pacific/Kiritimati") { timeZone } }`, {}],
    ];
    const before = await writableState(h.db);
    for (const [name, doc, vars] of refused) {
      const res = await h.gql(tenantAdmin, doc, vars);
      expect(errorOf(res.body)?.extensions?.code, name).to.equal("FORBIDDEN");
      expect(Object.values(res.body.data ?? {}).every((v) => v === null), name).to.equal(true);
    }
    expect(await writableState(h.db)).to.deep.equal(before);

    const thresholds = await h.gql(tenantAdmin, `mutation($m: ID!) { setAlertThresholds(input: { meter: $m, thresholds: [75, 25, 75] }) { thresholds hardLimit } }`, {
      m: meter(1),
    });
    expect(thresholds.body).to.deep.equal({ data: { setAlertThresholds: { thresholds: [25, 75], hardLimit: "100000" } } });
    const hook = await h.gql(tenantAdmin, `mutation { createWebhookEndpoint(input: { url: "https://93.184.215.14/acme/hook", eventTypes: ["credit_note.issued"] }) { endpoint { url } } }`);
    expect(hook.body.errors).to.equal(undefined);
  });

  it("bad inputs answer BAD_USER_INPUT naming the field (an argument path) and write nothing", async function () {
    // A version in the future of the standard plan, for the overlap case.
    const taken = new Date(Date.now() + 500 * DAY).toISOString();
    const made = await asAdmin(VERSION, { input: { plan, effectiveFrom: taken, currency: "USD", prices: [] } });
    expect(made.body.errors).to.equal(undefined);

    const digits = (n: number) => "9".repeat(n);
    const future = () => new Date(Date.now() + 600 * DAY).toISOString();
    const version = (over: Record<string, unknown>, price: Record<string, unknown> = {}) => ({
      input: { plan, effectiveFrom: future(), currency: "USD", prices: [{ meter: meter(1), model: "per_unit", unitPrice: "1", ...price }], ...over },
    });
    const tiered = (tier: Record<string, unknown>) => version({}, { model: "graduated", unitPrice: null, tiers: [{ unitPrice: "1", ...tier }] });
    const limits = `mutation($input: SetQuotaLimitsInput!) { setQuotaLimits(input: $input) { id } }`;
    const cases: [string, string, Record<string, unknown>, string, string?][] = [
      ["an unknown meter", `mutation($m: ID!) { configureMeter(input: { meter: $m, aggregation: MAX, unit: "u", displayName: "d" }) { id } }`, { m: meter(9) }, "input.meter"],
      ["another tenant's meter", `mutation($m: ID!) { configureMeter(input: { meter: $m, aggregation: MAX, unit: "u", displayName: "d" }) { id } }`, { m: toGlobalId("Meter", h.tenantIds.globex, 1) }, "input.meter"],
      ["an unknown meter in a price", VERSION, version({}, { meter: meter(9) }), "input.prices.0.meter"],
      ["a meter priced twice", VERSION, version({ prices: [{ meter: meter(1), model: "per_unit", unitPrice: "1" }, { meter: meter(1), model: "per_unit", unitPrice: "2" }] }), "input.prices.1.meter"],
      ["an unknown plan", VERSION, version({ plan: toGlobalId("Plan", "999999") }), "input.plan"],
      ["overlapping versions (same effective instant)", VERSION, version({ effectiveFrom: taken }), "input.effectiveFrom"],
      ["a version effective in the past", VERSION, version({ effectiveFrom: new Date(Date.now() - DAY).toISOString() }), "input.effectiveFrom"],
      ["an unsupported model", VERSION, version({}, { model: "flat" }), "input.prices.0.model"],
      ["per_unit without a unit price", VERSION, version({}, { unitPrice: null }), "input.prices.0"],
      ["a currency that is not ISO 4217", VERSION, version({ currency: "usd" }), "input.currency"],
      ["minimumMinor past 38 digits", VERSION, version({ minimumMinor: digits(39) }), "input.minimumMinor"],
      ["includedUnits past 38 digits", VERSION, version({}, { includedUnits: digits(39) }), "input.prices.0.includedUnits"],
      ["packageSize past 38 digits", VERSION, version({}, { model: "package", packageSize: digits(39) }), "input.prices.0.packageSize"],
      ["a tier bound past 38 digits", VERSION, tiered({ upTo: digits(40) }), "input.prices.0.tiers.0.upTo"],
      ["a unit price past 20 integer digits", VERSION, version({}, { unitPrice: `1${"0".repeat(20)}` }), "input.prices.0.unitPrice"],
      ["a unit price past 18 fraction digits", VERSION, version({}, { unitPrice: `0.${"0".repeat(18)}1` }), "input.prices.0.unitPrice"],
      ["a flat fee past 20 integer digits", VERSION, tiered({ flatFee: digits(21) }), "input.prices.0.tiers.0.flatFee"],
      ["a negative unit price", VERSION, version({}, { unitPrice: "-1" }), "input.prices.0.unitPrice"],
      ["a hard limit past 38 digits", limits, { input: { meter: meter(1), hardLimit: digits(39) } }, "input.hardLimit"],
      ["a soft limit past 38 digits", limits, { input: { meter: meter(1), softLimit: digits(39), hardLimit: "1" } }, "input.softLimit"],
      ["a negative hard limit", limits, { input: { meter: meter(1), hardLimit: "-5" } }, "input.hardLimit"],
      ["a soft limit above the hard limit", limits, { input: { meter: meter(1), softLimit: "10", hardLimit: "5" } }, "input.hardLimit"],
      ["a hard limit past 38 digits, inline", `mutation($m: ID!) { setQuotaLimits(input: { meter: $m, hardLimit: "${digits(40)}" }) { id } }`, { m: meter(1) }, "input.hardLimit"],
      ["a duplicate plan name", `mutation { createPlan(input: { name: "standard" }) { id } }`, {}, "input.name"],
      ["an empty display name", `mutation($m: ID!) { configureMeter(input: { meter: $m, aggregation: MAX, unit: "u", displayName: " " }) { id } }`, { m: meter(1) }, "input.displayName"],
      ["a start that is not a period boundary", `mutation($p: ID!, $at: DateTime!) { subscribe(input: { plan: $p, startsAt: $at }) { id } }`, { p: plan, at: new Date(Date.parse(monthStart(2)) + 3_600_000).toISOString() }, "input.startsAt"],
      ["a start in the past", `mutation($p: ID!, $at: DateTime!) { subscribe(input: { plan: $p, startsAt: $at }) { id } }`, { p: plan, at: monthStart(-1) }, "input.startsAt"],
      ["an unknown time zone", `mutation { setTimeZone(timeZone: "Mars/Olympus_Mons") { timeZone } }`, {}, "timeZone"],
      ["a threshold out of range", `mutation($m: ID!) { setAlertThresholds(input: { meter: $m, thresholds: [0] }) { id } }`, { m: meter(1) }, "input.thresholds.0", "admin"],
      ["thresholds on a meter without a quota", `mutation($m: ID!) { setAlertThresholds(input: { meter: $m, thresholds: [50] }) { id } }`, { m: meter(2) }, "input.meter", "admin"],
      ["an unknown meter for an entitlement", `{ entitlement(meter: "${"m".repeat(201)}") { allowed } }`, {}, "meter", "viewer"],
    ];
    const tenantAdmin = await h.token("acme", "admin");
    const viewer = await h.token("acme", "viewer");
    for (const [name, doc, vars, field, caller] of cases) {
      const before = await writableState(h.db);
      const res = caller === "admin" ? await h.gql(tenantAdmin, doc, vars) : caller === "viewer" ? await h.gql(viewer, doc, vars) : await asAdmin(doc, vars);
      const err = errorOf(res.body);
      expect(err?.extensions?.code, `${name}: ${JSON.stringify(res.body)}`).to.equal("BAD_USER_INPUT");
      expect(err?.extensions?.field, name).to.equal(field);
      expect(err?.message.startsWith(`${field}: `), `${name}: ${err?.message}`).to.equal(true);
      expect(await writableState(h.db), name).to.deep.equal(before);
    }
  });

  it("however long a number, it is BAD_USER_INPUT naming the argument, never an internal error", async function () {
    const before = await writableState(h.db);
    const huge = "9".repeat(5000);
    const limits = `mutation($input: SetQuotaLimitsInput!) { setQuotaLimits(input: $input) { id } }`;
    for (const res of [
      await asAdmin(limits, { input: { meter: meter(1), hardLimit: huge } }),
      await asAdmin(`mutation($m: ID!) { setQuotaLimits(input: { meter: $m, hardLimit: "${huge}" }) { id } }`, { m: meter(1) }),
    ]) {
      expect(errorOf(res.body)?.extensions).to.deep.equal({ code: "BAD_USER_INPUT", field: "input.hardLimit" });
      expect(errorOf(res.body)?.message).to.equal("input.hardLimit: must have at most 38 digits");
    }
    // Not a number at all: refused while the variables are read, naming the variable and the path.
    const decimal = await asAdmin(VERSION, {
      input: { plan, effectiveFrom: new Date(Date.now() + 700 * DAY).toISOString(), currency: "USD", prices: [{ meter: meter(1), model: "per_unit", unitPrice: "1e5" }] },
    });
    expect(decimal.status).to.equal(400);
    expect(errorOf(decimal.body)?.extensions?.code).to.equal("BAD_USER_INPUT");
    expect(errorOf(decimal.body)?.message).to.contain('"input.prices[0].unitPrice"');
    expect(await writableState(h.db)).to.deep.equal(before);
  });

  it("conflicts with the billing state answer CONFLICT and write nothing", async function () {
    const before = await writableState(h.db);
    // The seeded version has been in force since 2020.
    const standard = await h.gql(await h.token("acme", "viewer"), "{ plans { name versions { id version } } }");
    const inForce = (standard.body.data!.plans as { name: string; versions: { id: string; version: number }[] }[]).find((p) => p.name === "standard")!.versions.find((v) => v.version === 1)!.id;
    const withdraw = await asAdmin(`mutation($v: ID!) { withdrawPlanVersion(id: $v) }`, { v: inForce });
    expect(errorOf(withdraw.body)?.extensions?.code).to.equal("CONFLICT");
    expect(errorOf(withdraw.body)?.message).to.match(/in force/);
    // acme has an invoice: its periods cannot move under it.
    const zone = await asAdmin(`mutation { setTimeZone(timeZone: "Asia/Kolkata") { timeZone } }`);
    expect(errorOf(zone.body)?.extensions?.code).to.equal("CONFLICT");
    const unknown = await asAdmin(`mutation($v: ID!) { withdrawPlanVersion(id: $v) }`, { v: toGlobalId("PlanVersion", "999999") });
    expect(errorOf(unknown.body)?.extensions?.code).to.equal("NOT_FOUND");
    expect(await writableState(h.db)).to.deep.equal(before);
  });

  it("a platform admin prices in every model; each version's snapshot is frozen with it, hash included", async function () {
    const created = await asAdmin(`mutation { createPlan(input: { name: "pro" }) { id name versions { id } } }`);
    const pro = (created.body.data!.createPlan as { id: string; name: string; versions: unknown[] });
    expect(pro).to.deep.include({ name: "pro", versions: [] });
    const v1 = await asAdmin(VERSION, {
      input: {
        plan: pro.id,
        effectiveFrom: monthStart(1),
        currency: "EUR",
        currencyExponent: 2,
        minimumMinor: "5000",
        prices: [
          { meter: meter(1), model: "per_unit", unitPrice: "0.0015", includedUnits: "1000" },
          { meter: meter(2), model: "volume", tiers: [{ upTo: "100", unitPrice: "0.10" }, { unitPrice: "0.05", flatFee: "2.5" }] },
        ],
      },
    });
    expect(v1.body.errors, JSON.stringify(v1.body.errors)).to.equal(undefined);
    const first = v1.body.data!.createPlanVersion as { version: number; minimumMinor: string; snapshotHash: string; prices: unknown[] };
    expect(first).to.deep.include({ version: 1, minimumMinor: "5000" });
    expect(first.snapshotHash).to.match(/^0x[0-9a-f]{64}$/);
    expect(first.prices).to.deep.equal([
      { meterId: 1, model: "per_unit", unitPrice: "0.0015", includedUnits: "1000", packageSize: null, aggregation: "SUM", tiers: [] },
      {
        meterId: 2,
        model: "volume",
        unitPrice: null,
        includedUnits: "0",
        packageSize: null,
        aggregation: "SUM",
        tiers: [
          { upTo: "100", unitPrice: "0.1", flatFee: "0" },
          { upTo: null, unitPrice: "0.05", flatFee: "2.5" },
        ],
      },
    ]);

    // Meter 2 now aggregates by MAX: the version already written keeps SUM, the next one takes MAX.
    const configured = await asAdmin(`mutation($m: ID!) { configureMeter(input: { meter: $m, aggregation: MAX, unit: "GB", displayName: "Storage" }) { config { aggregation unit displayName } } }`, {
      m: meter(2),
    });
    expect(configured.body.data).to.deep.equal({ configureMeter: { config: { aggregation: "MAX", unit: "GB", displayName: "Storage" } } });
    const v2 = await asAdmin(VERSION, {
      input: {
        plan: pro.id,
        effectiveFrom: monthStart(2),
        currency: "EUR",
        prices: [
          { meter: meter(1), model: "graduated", tiers: [{ upTo: "1000", unitPrice: "0.002", flatFee: "1" }, { unitPrice: "0.001" }] },
          { meter: meter(2), model: "package", packageSize: "10", unitPrice: "3", includedUnits: "5" },
        ],
      },
    });
    expect(v2.body.errors, JSON.stringify(v2.body.errors)).to.equal(undefined);

    const listed = await h.gql(await h.token("acme", "viewer"), `{ plans { id name versions { id version effectiveFrom snapshotHash snapshot prices { meterId model aggregation packageSize } } } }`);
    const proListed = (listed.body.data!.plans as { name: string; versions: { version: number; effectiveFrom: string; snapshotHash: string; snapshot: string; prices: { meterId: number; model: string; aggregation: string }[] }[] }[]).find((p) => p.name === "pro")!;
    expect(proListed.versions.map((v) => [v.version, v.effectiveFrom, v.prices.map((p) => `${p.meterId}:${p.model}:${p.aggregation}`)])).to.deep.equal([
      [1, monthStart(1), ["1:per_unit:SUM", "2:volume:SUM"]],
      [2, monthStart(2), ["1:graduated:SUM", "2:package:MAX"]],
    ]);
    for (const v of proListed.versions) {
      // What a tenant verifies: the hash is the document hash of the frozen snapshot shown.
      expect(documentHash(JSON.parse(v.snapshot))).to.equal(v.snapshotHash);
    }
    expect(proListed.versions[0]!.snapshotHash).to.equal(first.snapshotHash);
    const frozen = JSON.parse(proListed.versions[0]!.snapshot) as { meters: { meterId: number; aggregation: string }[] };
    expect(frozen.meters.find((m) => m.meterId === 2)!.aggregation).to.equal("SUM");

    // A version not yet in force may be withdrawn; then it is gone.
    const v2Id = (v2.body.data!.createPlanVersion as { id: string }).id;
    const withdrawn = await asAdmin(`mutation($v: ID!) { withdrawPlanVersion(id: $v) }`, { v: v2Id });
    expect(withdrawn.body.data).to.deep.equal({ withdrawPlanVersion: true });
    const again = await asAdmin(`mutation($v: ID!) { withdrawPlanVersion(id: $v) }`, { v: v2Id });
    expect(errorOf(again.body)?.extensions?.code).to.equal("NOT_FOUND");

    // Subscribing from a later boundary ends nothing already billed.
    const sub = await asAdmin(`mutation($p: ID!, $at: DateTime!) { subscribe(input: { plan: $p, startsAt: $at }) { startsAt plan { name } } }`, { p: pro.id, at: monthStart(2) });
    expect(sub.body.data).to.deep.equal({ subscribe: { startsAt: monthStart(2), plan: { name: "pro" } } });
    const subs = await h.gql(await h.token("acme", "viewer"), "{ subscriptions { startsAt endsAt plan { name } } }");
    expect(subs.body.data).to.deep.equal({
      subscriptions: [
        { startsAt: "2026-01-01T00:00:00.000Z", endsAt: "2026-02-01T00:00:00.000Z", plan: { name: "standard" } },
        { startsAt: monthStart(2), endsAt: null, plan: { name: "pro" } },
      ],
    });
  });

  it("limits are the platform's and thresholds the tenant's: neither overwrites the other", async function () {
    const set = await asAdmin(`mutation($m: ID!) { setQuotaLimits(input: { meter: $m, softLimit: "10", hardLimit: "20" }) { meterId softLimit hardLimit thresholds } }`, { m: meter(2) });
    expect(set.body.data).to.deep.equal({ setQuotaLimits: { meterId: 2, softLimit: "10", hardLimit: "20", thresholds: [50, 80, 100] } });
    const mine = await h.gql(await h.token("acme", "admin"), `mutation($m: ID!) { setAlertThresholds(input: { meter: $m, thresholds: [90] }) { thresholds } }`, { m: meter(2) });
    expect(mine.body.data).to.deep.equal({ setAlertThresholds: { thresholds: [90] } });
    const raised = await asAdmin(`mutation($m: ID!) { setQuotaLimits(input: { meter: $m, hardLimit: "30" }) { softLimit hardLimit thresholds } }`, { m: meter(2) });
    expect(raised.body.data).to.deep.equal({ setQuotaLimits: { softLimit: null, hardLimit: "30", thresholds: [90] } });
    expect((await asAdmin(`mutation($m: ID!) { removeQuota(meter: $m) }`, { m: meter(2) })).body.data).to.deep.equal({ removeQuota: true });
    expect((await asAdmin(`mutation($m: ID!) { removeQuota(meter: $m) }`, { m: meter(2) })).body.data).to.deep.equal({ removeQuota: false });
  });

  it("the billing time zone is set by the platform, until the tenant's first invoice", async function () {
    // A tenant with no invoice yet.
    const { rows } = await h.db.pool.query<{ contract_id: number }>("SELECT contract_id FROM tenants WHERE id = $1", [h.tenantIds.acme]);
    await h.db.pool.query(
      `INSERT INTO tenants (contract_id, onchain_id, slug, chain_id, tx_hash, log_index, block_number, block_hash) VALUES ($1, 3, 'initech', 31337, $2, 0, 12, $3)`,
      [rows[0]!.contract_id, hash32(3, 1), hash32(12)],
    );
    const res = await h.gql(admin, `mutation { setTimeZone(timeZone: "Europe/Berlin") { slug timeZone } }`, {}, { "meterline-tenant": "initech" });
    expect(res.body.data).to.deep.equal({ setTimeZone: { slug: "initech", timeZone: "Europe/Berlin" } });
  });

  it("every mutation writes one audit row with before and after, the actor and the request id", async function () {
    const tenantAdmin = await h.token("acme", "admin");
    const operator = await h.token("acme", "operator");
    const pro = (await h.gql(tenantAdmin, "{ plans { id name } }")).body.data!.plans as { id: string; name: string }[];
    const proId = pro.find((p) => p.name === "pro")!.id;
    let n = 0;
    const calls: [string, () => Promise<{ body: GqlBody }>, string, string][] = [];
    const add = (action: string, subject: string, run: (requestId: string) => Promise<{ body: GqlBody }>) => {
      const id = `audit-${++n}`;
      calls.push([action, () => run(id), id, subject]);
    };
    const platform = "globex-platform-admin";
    add("meter.configure", platform, (id) => asAdmin(`mutation($m: ID!) { configureMeter(input: { meter: $m, aggregation: COUNT, unit: "call", displayName: "Calls" }) { id } }`, { m: meter(2) }, id));
    add("plan.create", platform, (id) => asAdmin(`mutation { createPlan(input: { name: "audited" }) { id } }`, {}, id));
    add("plan_version.create", platform, (id) =>
      asAdmin(VERSION, { input: { plan: proId, effectiveFrom: monthStart(3), currency: "EUR", prices: [{ meter: meter(1), model: "per_unit", unitPrice: "1" }] } }, id),
    );
    add("subscription.create", platform, (id) => asAdmin(`mutation($p: ID!, $at: DateTime!) { subscribe(input: { plan: $p, startsAt: $at }) { id } }`, { p: proId, at: monthStart(4) }, id));
    add("quota.set_limits", platform, (id) => asAdmin(`mutation($m: ID!) { setQuotaLimits(input: { meter: $m, hardLimit: "77" }) { id } }`, { m: meter(2) }, id));
    add("quota.set_thresholds", "acme-admin", (id) =>
      h.gql(tenantAdmin, `mutation($m: ID!) { setAlertThresholds(input: { meter: $m, thresholds: [60] }) { id } }`, { m: meter(2) }, { "x-request-id": id }),
    );
    add("quota.remove", platform, (id) => asAdmin(`mutation($m: ID!) { removeQuota(meter: $m) }`, { m: meter(2) }, id));
    add("webhook_endpoint.create", "acme-operator", (id) =>
      h.gql(operator, `mutation { createWebhookEndpoint(input: { url: "https://93.184.215.14/acme/audited", eventTypes: ["invoice.finalized"] }) { endpoint { id } } }`, {}, { "x-request-id": id }),
    );
    for (const [action, run, requestId, subject] of calls) {
      const res = await run();
      expect(res.body.errors, `${action}: ${JSON.stringify(res.body.errors)}`).to.equal(undefined);
      const { rows } = await h.db.pool.query<{ action: string; subject: string; platform: boolean; changes: { before: unknown; after: unknown }; ip: string; user_agent: string }>(
        "SELECT action, subject, platform, changes, ip, user_agent FROM audit_log WHERE tenant_id = $1 AND request_id = $2 AND action <> 'platform.request'",
        [h.tenantIds.acme, requestId],
      );
      expect(rows.map((r) => [r.action, r.subject, r.platform]), action).to.deep.equal([[action, subject, subject === platform]]);
      // Where the request came from, as the API saw it.
      expect(rows[0]!.ip, action).to.match(/127\.0\.0\.1$/);
      expect(rows[0]!.user_agent, action).to.not.equal("");
      expect(Object.keys(rows[0]!.changes).sort(), action).to.deep.equal(["after", "before"]);
      expect(rows[0]!.changes.after ?? rows[0]!.changes.before, action).to.not.equal(null);
    }
    // A change is shown as it was and as it became.
    const { rows } = await h.db.pool.query<{ changes: { before: { aggregation: string }; after: { aggregation: string } } }>(
      "SELECT changes FROM audit_log WHERE request_id = 'audit-1' AND action = 'meter.configure'",
    );
    expect([rows[0]!.changes.before.aggregation, rows[0]!.changes.after.aggregation]).to.deep.equal(["MAX", "COUNT"]);
    // The auditor reads it, request id included.
    const log = await h.gql(await h.token("acme", "auditor"), "{ auditLog(first: 100) { edges { node { action requestId platform } } } }");
    const entries = (log.body.data!.auditLog as { edges: { node: { action: string; requestId: string } }[] }).edges.map((e) => e.node);
    expect(entries).to.deep.include({ action: "plan.create", requestId: "audit-2", platform: true });
  });
});
