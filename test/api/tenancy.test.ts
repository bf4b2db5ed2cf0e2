import { expect } from "chai";
import { isObjectType } from "graphql";
import { buildSchema } from "../../api/schema";
import { fromGlobalId, toGlobalId } from "../../api/resolvers/ids";
import { openSecret } from "../../webhooks/secrets";
import { startHarness, type ApiHarness } from "./fixtures";

describe("api: tenancy enforced twice (token-only tenant + row-level security)", function () {
  let h: ApiHarness;
  type Ids = { meter: string; invoice: string; endpoint: string; plan: string; version: string };
  let foreign: Ids;
  const unknown: Ids = {
    meter: toGlobalId("Meter", "999999", 1),
    invoice: toGlobalId("Invoice", "999999"),
    endpoint: toGlobalId("WebhookEndpoint", "00000000-0000-4000-8000-000000000000"),
    plan: toGlobalId("Plan", "999999"),
    version: toGlobalId("PlanVersion", "999999"),
  };

  before(async () => {
    h = await startHarness();
    const g = await h.token("globex", "admin");
    const meters = await h.gql(g, "{ meters { id } invoices { edges { node { id } } } plans { id versions { id } } }");
    const ep = await h.gql(
      await h.token("globex", "operator"),
      `mutation { createWebhookEndpoint(input: { url: "https://93.184.215.14/globex/h", eventTypes: ["invoice.finalized"] }) { endpoint { id } } }`,
    );
    const plans = meters.body.data!.plans as { id: string; versions: { id: string }[] }[];
    foreign = {
      meter: (meters.body.data!.meters as { id: string }[])[0]!.id,
      invoice: (meters.body.data!.invoices as { edges: { node: { id: string } }[] }).edges[0]!.node.id,
      endpoint: (ep.body.data!.createWebhookEndpoint as { endpoint: { id: string } }).endpoint.id,
      plan: plans[0]!.id,
      version: plans[0]!.versions[0]!.id,
    };
  });
  after(async () => h?.close());

  const strip = (body: unknown) => JSON.parse(JSON.stringify(body).replace(/"locations":\[[^\]]*\],?/g, "")) as unknown;

  // Every query and mutation that takes an id: another tenant's id must answer exactly like an id
  // that does not exist.
  const future = () => new Date(Date.now() + 400 * 86_400_000).toISOString();
  const nextMonth = () => {
    const now = new Date();
    return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1)).toISOString();
  };
  const probes: [string, string, (id: Ids) => Record<string, unknown>, "admin" | "operator" | "platform:admin"][] = [
    ["meter(id)", "query($id: ID!) { meter(id: $id) { id name } }", (i) => ({ id: i.meter }), "admin"],
    [
      "usage(meter)",
      "query($id: ID!, $f: DateTime!, $t: DateTime!) { usage(meter: $id, from: $f, to: $t, granularity: DAY) { quantity } }",
      (i) => ({ id: i.meter, f: new Date(Date.now() - 30 * 86_400_000).toISOString(), t: new Date().toISOString() }),
      "admin",
    ],
    ["usageRecords(filter.meter)", "query($id: ID!) { usageRecords(filter: { meter: $id }) { totalCount edges { node { id } } } }", (i) => ({ id: i.meter }), "admin"],
    ["invoice(id)", "query($id: ID!) { invoice(id: $id) { id totalMinor lines { lineNo } } }", (i) => ({ id: i.invoice }), "admin"],
    ["configureMeter(meter)", `mutation($id: ID!) { configureMeter(input: { meter: $id, aggregation: MAX, unit: "x", displayName: "x" }) { id } }`, (i) => ({ id: i.meter }), "platform:admin"],
    ["setQuotaLimits(meter)", `mutation($id: ID!) { setQuotaLimits(input: { meter: $id, hardLimit: "1" }) { id } }`, (i) => ({ id: i.meter }), "platform:admin"],
    ["removeQuota(meter)", `mutation($id: ID!) { removeQuota(meter: $id) }`, (i) => ({ id: i.meter }), "platform:admin"],
    ["setAlertThresholds(meter)", `mutation($id: ID!) { setAlertThresholds(input: { meter: $id, thresholds: [10] }) { id } }`, (i) => ({ id: i.meter }), "admin"],
    [
      "createPlanVersion(plan)",
      `mutation($id: ID!, $m: ID!, $at: DateTime!) { createPlanVersion(input: { plan: $id, effectiveFrom: $at, currency: "USD", prices: [{ meter: $m, model: "per_unit", unitPrice: "1" }] }) { id } }`,
      (i) => ({ id: i.plan, m: toGlobalId("Meter", h.tenantIds.acme, 1), at: future() }),
      "platform:admin",
    ],
    [
      "createPlanVersion(prices.meter)",
      `mutation($p: ID!, $id: ID!, $at: DateTime!) { createPlanVersion(input: { plan: $p, effectiveFrom: $at, currency: "USD", prices: [{ meter: $id, model: "per_unit", unitPrice: "1" }] }) { id } }`,
      (i) => ({ id: i.meter, p: acmePlan, at: future() }),
      "platform:admin",
    ],
    ["withdrawPlanVersion(id)", `mutation($id: ID!) { withdrawPlanVersion(id: $id) }`, (i) => ({ id: i.version }), "platform:admin"],
    ["subscribe(plan)", `mutation($id: ID!, $at: DateTime!) { subscribe(input: { plan: $id, startsAt: $at }) { id } }`, (i) => ({ id: i.plan, at: nextMonth() }), "platform:admin"],
    ["rotateWebhookSecret(id)", `mutation($id: ID!) { rotateWebhookSecret(id: $id) { secret } }`, (i) => ({ id: i.endpoint }), "operator"],
    ["deleteWebhookEndpoint(id)", `mutation($id: ID!) { deleteWebhookEndpoint(id: $id) }`, (i) => ({ id: i.endpoint }), "operator"],
  ];
  let acmePlan = "";
  before(async () => {
    const res = await h.gql(await h.token("acme", "viewer"), "{ plans { id } }");
    acmePlan = (res.body.data!.plans as { id: string }[])[0]!.id;
  });

  for (const [name, doc, vars, role] of probes) {
    it(`${name}: another tenant's id answers like an unknown id`, async function () {
      const token = await h.token(role.startsWith("platform:") ? "globex" : "acme", role);
      // A platform operator acts on acme by name; its token's own tenant (globex) gives it nothing.
      const headers: Record<string, string> = role.startsWith("platform:") ? { "meterline-tenant": "acme" } : {};
      const probe = await h.gql(token, doc, vars(foreign), headers);
      const control = await h.gql(token, doc, vars(unknown), headers);
      expect(probe.status).to.equal(control.status);
      expect(strip(probe.body)).to.deep.equal(strip(control.body));
      expect(JSON.stringify(probe.body)).to.not.contain("globex");
      const codes = (probe.body.errors ?? []).map((e) => e.extensions?.code);
      const data = Object.values(probe.body.data ?? {});
      expect(codes.includes("NOT_FOUND") || codes.includes("BAD_USER_INPUT") || data.every((v) => v === null || (v as { totalCount?: number }).totalCount === 0)).to.equal(true);
    });
  }

  it("foreign rows were not changed by the probes", async function () {
    const { rows } = await h.db.pool.query(
      `SELECT (SELECT count(*) FROM webhook_endpoints WHERE tenant_id = $1)::int AS endpoints,
              (SELECT count(*) FROM quotas WHERE tenant_id = $1 AND hard_limit = 100000 AND thresholds = '{50,80,100}')::int AS quotas,
              (SELECT count(*) FROM meter_configs WHERE tenant_id = $1 AND aggregation = 'MAX')::int AS maxed,
              (SELECT count(*) FROM rate_plan_versions WHERE tenant_id = $1)::int AS versions,
              (SELECT count(*) FROM subscriptions WHERE tenant_id = $1)::int AS subscriptions,
              (SELECT count(*) FROM audit_log WHERE tenant_id = $1 AND action <> 'platform.request' AND subject NOT LIKE 'globex-%')::int AS audited`,
      [h.tenantIds.globex],
    );
    expect(rows[0]).to.deep.equal({ endpoints: 1, quotas: 1, maxed: 0, versions: 1, subscriptions: 1, audited: 0 });
    // Nor were acme's: every probe failed, and a failed request writes nothing.
    const acme = await h.db.pool.query(
      "SELECT count(*)::int AS n FROM audit_log WHERE tenant_id = $1 AND action <> 'platform.request'",
      [h.tenantIds.acme],
    );
    expect(acme.rows[0].n).to.equal(0);
  });

  it("every list shows only the caller's tenant", async function () {
    const doc = `{ tenant { slug } meters { name } usageRecords { totalCount } commitments { totalCount } quotas { meterId }
      invoices { totalCount } plans { name } subscriptions { startsAt } webhookEndpoints { url } }`;
    for (const tenant of ["acme", "globex"] as const) {
      const res = await h.gql(await h.token(tenant, "admin"), doc);
      const d = res.body.data as Record<string, unknown> & { meters: { name: string }[]; webhookEndpoints: { url: string }[] };
      expect(d.tenant).to.deep.equal({ slug: tenant });
      expect(d.meters.map((m) => m.name)).to.deep.equal([`${tenant}-meter-1`, `${tenant}-meter-2`]);
      expect(d.usageRecords).to.deep.equal({ totalCount: 33 });
      expect(d.commitments).to.deep.equal({ totalCount: 3 });
      expect(d.invoices).to.deep.equal({ totalCount: 1 });
      expect(d.webhookEndpoints.every((w) => (tenant === "globex" ? w.url.includes("globex") : !w.url.includes("globex")))).to.equal(true);
    }
    const audit = await h.gql(await h.token("acme", "auditor"), "{ auditLog(first: 200) { edges { node { subject platform } } } }");
    const entries = (audit.body.data!.auditLog as { edges: { node: { subject: string; platform: boolean } }[] }).edges.map((e) => e.node);
    // acme's own users, and platform operators who acted on acme; nothing globex's users did.
    expect(entries.length).to.be.greaterThan(0);
    expect(entries.every((e) => e.platform || e.subject.startsWith("acme-"))).to.equal(true);
    expect(entries.some((e) => e.subject === "globex-operator")).to.equal(false);
  });

  it("a platform operator acts only on the tenant it names, and that request is audit-logged", async function () {
    const token = await h.token("acme", "platform:viewer");
    // Without naming a tenant a platform role grants nothing, not even on its own token's tenant.
    const own = await h.gql(token, "{ viewer { platform } }");
    expect(own.body.errors?.[0]?.extensions?.code).to.equal("FORBIDDEN");
    const acting = await h.gql(token, "{ tenant { slug } viewer { platform roles } meters { name } }", {}, { "meterline-tenant": "globex" });
    expect(acting.body.data).to.deep.equal({
      tenant: { slug: "globex" },
      viewer: { platform: true, roles: ["PLATFORM_VIEWER"] },
      meters: [{ name: "globex-meter-1" }, { name: "globex-meter-2" }],
    });
    const { rows } = await h.db.pool.query("SELECT subject, platform, request_id FROM audit_log WHERE tenant_id = $1 AND action = 'platform.request'", [h.tenantIds.globex]);
    expect(rows.map((r) => ({ subject: r.subject, platform: r.platform }))).to.deep.include({ subject: "acme-platform-viewer", platform: true });
    expect(rows.every((r) => typeof r.request_id === "string" && r.request_id !== "")).to.equal(true);
    const missing = await h.gql(token, "{ tenant { slug } }", {}, { "meterline-tenant": "no-such-tenant" });
    expect(missing.status).to.equal(403);
  });

  it("a platform operator gets exactly its token's platform roles, never a tenant role", async function () {
    const globex = { "meterline-tenant": "globex" };
    // Both a tenant admin and a platform admin: on a named tenant only the platform role counts,
    // on its own tenant (no header) only the tenant role.
    const mixed = await h.token("acme", "admin+platform:admin");
    const acting = await h.gql(mixed, "{ viewer { roles platform } }", {}, globex);
    expect(acting.body.data).to.deep.equal({ viewer: { roles: ["PLATFORM_ADMIN"], platform: true } });
    const hook = await h.gql(mixed, `mutation { createWebhookEndpoint(input: { url: "https://93.184.215.14/x/h", eventTypes: ["invoice.finalized"] }) { secret } }`, {}, globex);
    expect(hook.body.errors?.[0]?.extensions?.code).to.equal("FORBIDDEN");
    const home = await h.gql(mixed, "{ viewer { roles platform } }");
    expect(home.body.data).to.deep.equal({ viewer: { roles: ["ADMIN"], platform: false } });
    // The single all-powerful role of earlier versions is no platform role at all.
    const legacy = await h.gql(await h.token("acme", "legacy-platform"), "{ viewer { roles } }", {}, globex);
    expect(legacy.status).to.equal(401);
  });

  it("a platform operator without platform:auditor cannot read the audit log that records it", async function () {
    const globex = { "meterline-tenant": "globex" };
    for (const role of ["platform:viewer", "platform:admin", "platform:billing"] as const) {
      const res = await h.gql(await h.token("acme", role), "{ auditLog { totalCount } }", {}, globex);
      expect(res.body.errors?.[0]?.extensions?.code, role).to.equal("FORBIDDEN");
      expect(res.body.data ?? null, role).to.equal(null);
    }
    const auditor = await h.gql(await h.token("acme", "platform:auditor"), "{ auditLog(first: 200) { edges { node { subject platform action } } } }", {}, globex);
    const entries = (auditor.body.data!.auditLog as { edges: { node: { subject: string; platform: boolean; action: string } }[] }).edges.map((e) => e.node);
    // The refused operators are on record, in the log they could not read.
    for (const subject of ["acme-platform-viewer", "acme-platform-admin", "acme-platform-billing"]) {
      expect(entries).to.deep.include({ subject, platform: true, action: "platform.request" });
    }
  });

  it("webhook secrets are shown once and stored as the dispatcher reads them", async function () {
    const token = await h.token("acme", "operator");
    const created = await h.gql(token, `mutation { createWebhookEndpoint(input: { url: "https://93.184.215.14/acme/h", eventTypes: ["quota.threshold_crossed"] }) { secret endpoint { id } } }`);
    const { secret, endpoint } = created.body.data!.createWebhookEndpoint as { secret: string; endpoint: { id: string } };
    const id = fromGlobalId(endpoint.id, "WebhookEndpoint", 1)![0]!;
    const key = h.config.webhookEncryptionKey!;
    const row = async () => (await h.db.pool.query("SELECT secret_ciphertext, secret_key_id, previous_secret_ciphertext, previous_secret_key_id FROM webhook_endpoints WHERE id = $1", [id])).rows[0];
    const stored = await row();
    expect(openSecret(key, id, { keyId: stored.secret_key_id, ciphertext: stored.secret_ciphertext })).to.equal(secret);
    const listed = await h.gql(token, "{ webhookEndpoints { id url } }");
    expect(JSON.stringify(listed.body)).to.not.contain(secret);
    const rotated = await h.gql(token, "mutation($id: ID!) { rotateWebhookSecret(id: $id) { secret } }", { id: endpoint.id });
    const next = (rotated.body.data!.rotateWebhookSecret as { secret: string }).secret;
    expect(next).to.not.equal(secret);
    const r = await row();
    expect(openSecret(key, id, { keyId: r.secret_key_id, ciphertext: r.secret_ciphertext })).to.equal(next);
    expect(openSecret(key, id, { keyId: r.previous_secret_key_id, ciphertext: r.previous_secret_ciphertext })).to.equal(secret);
  });

  it("an argument cannot choose the tenant: only entitlement takes one, and it must name the request's own", async function () {
    const res = await h.gql(await h.token("acme", "admin"), `{ meters(tenant: "globex") { name } }`);
    expect(res.status).to.equal(400);
    const withTenant: string[] = [];
    const schema = buildSchema();
    for (const root of ["Query", "Mutation", "Subscription"]) {
      const type = schema.getType(root);
      if (!isObjectType(type)) continue;
      for (const field of Object.values(type.getFields())) if (field.args.some((a) => /tenant/i.test(a.name))) withTenant.push(`${root}.${field.name}`);
    }
    expect(withTenant).to.deep.equal(["Query.entitlement"]);
    const named = await h.gql(await h.token("acme", "viewer"), `{ entitlement(tenant: "globex", meter: "globex-meter-1") { allowed } }`);
    expect(named.body.errors?.[0]?.extensions?.code).to.equal("FORBIDDEN");
  });

  describe("row-level security at the database", function () {
    it("is enabled and forced, with the tenant policy, on every table with a tenant_id column", async function () {
      const { rows } = await h.db.pool.query<{ table_name: string; rls: boolean; forced: boolean; policies: string[] }>(
        `SELECT c.table_name, k.relrowsecurity AS rls, k.relforcerowsecurity AS forced,
                coalesce((SELECT array_agg(polname::text) FROM pg_policy p WHERE p.polrelid = k.oid), '{}') AS policies
         FROM information_schema.columns c
         JOIN pg_class k ON k.relname = c.table_name AND k.relnamespace = 'public'::regnamespace
         WHERE c.table_schema = 'public' AND c.column_name = 'tenant_id' AND k.relkind IN ('r', 'p')`,
      );
      expect(rows.length).to.be.greaterThan(15);
      for (const r of rows) {
        expect(r.rls, r.table_name).to.equal(true);
        expect(r.forced, r.table_name).to.equal(true);
        expect(r.policies, r.table_name).to.include("meterline_tenant_isolation");
      }
      const views = await h.db.pool.query(
        `SELECT c.relname FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id'
         WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'm'`,
      );
      // Row-level security does not apply to materialized views: there must be none with tenant data.
      expect(views.rows).to.deep.equal([]);
    });

    it("the API role is neither superuser, nor owner, nor BYPASSRLS", async function () {
      const { rows } = await h.db.pool.query(
        `SELECT rolsuper, rolbypassrls, rolcanlogin,
           (SELECT count(*)::int FROM pg_class WHERE relowner = r.oid) AS owned FROM pg_roles r WHERE rolname = 'meterline_api'`,
      );
      expect(rows[0]).to.deep.equal({ rolsuper: false, rolbypassrls: false, rolcanlogin: false, owned: 0 });
    });

    it("the API under test connects as meterline_api itself, not as the owner", async function () {
      const { rows } = await h.apiDb.pool.query("SELECT current_user AS u, (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS su");
      expect(rows[0]).to.deep.equal({ u: "meterline_api", su: false });
      // What the owner's pool may do, the API's may not.
      const err = await h.apiDb.pool.query("INSERT INTO chains (chain_id, name) VALUES (1, 'x')").catch((e: Error) => e);
      expect(String(err)).to.match(/permission denied/);
    });

    it("as the API role: no tenant set sees nothing; a tenant sees only its rows and cannot write others'", async function () {
      const tables = (
        await h.db.pool.query<{ t: string }>(
          "SELECT table_name AS t FROM information_schema.columns WHERE table_schema = 'public' AND column_name = 'tenant_id'",
        )
      ).rows.map((r) => r.t);
      const client = await h.db.pool.connect();
      try {
        await client.query("BEGIN");
        await client.query("SET LOCAL ROLE meterline_api");
        for (const t of tables) {
          const granted = (await client.query("SELECT has_table_privilege($1, 'SELECT') AS g", [t])).rows[0].g as boolean;
          if (!granted) continue;
          expect((await client.query(`SELECT count(*)::int AS n FROM ${t}`)).rows[0].n, t).to.equal(0);
        }
        await client.query("SELECT set_config('meterline.tenant_id', $1, true)", [h.tenantIds.acme]);
        for (const t of tables) {
          const granted = (await client.query("SELECT has_table_privilege($1, 'SELECT') AS g", [t])).rows[0].g as boolean;
          if (!granted) continue;
          const { rows } = await client.query(`SELECT count(*)::int AS n FROM ${t} WHERE tenant_id <> $1`, [h.tenantIds.acme]);
          expect(rows[0].n, t).to.equal(0);
        }
        expect((await client.query("SELECT count(*)::int AS n FROM usage_records")).rows[0].n).to.equal(34);
        expect((await client.query("SELECT slug FROM tenants")).rows).to.deep.equal([{ slug: "acme" }]);
        await client.query("SAVEPOINT s");
        let error = "";
        try {
          await client.query("INSERT INTO rate_plans (tenant_id, name) VALUES ($1, 'intruder')", [h.tenantIds.globex]);
        } catch (err) {
          error = (err as Error).message;
        }
        expect(error).to.match(/row-level security/);
        await client.query("ROLLBACK TO SAVEPOINT s");
        // Transaction-local settings do not survive into the next use of the pooled connection.
        await client.query("COMMIT");
        const after = await client.query("SELECT current_user AS u, coalesce(current_setting('meterline.tenant_id', true), '') AS t");
        expect(after.rows[0]).to.deep.equal({ u: "postgres", t: "" });
      } finally {
        await client.query("ROLLBACK").catch(() => undefined);
        client.release();
      }
    });

    it("audit_log is append-only for every role, the owner included", async function () {
      for (const sql of ["UPDATE audit_log SET action = 'x'", "DELETE FROM audit_log", "TRUNCATE audit_log"]) {
        let error = "";
        try {
          await h.db.pool.query(sql);
        } catch (err) {
          error = (err as Error).message;
        }
        expect(error, sql).to.match(/append-only/);
      }
    });
  });
});
