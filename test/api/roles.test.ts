import { expect } from "chai";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { isObjectType } from "graphql";
import type { Requirement } from "../../api/auth/roles";
import { fromGlobalId, toGlobalId } from "../../api/resolvers/ids";
import { buildSchema } from "../../api/schema";
import { PLATFORM_ROLES, startHarness, type ApiHarness } from "./fixtures";

type PlatformCaller = (typeof PLATFORM_ROLES)[number];
type Caller = "viewer" | "operator" | "admin" | "auditor" | "none" | PlatformCaller;
const CALLERS: Caller[] = ["viewer", "operator", "admin", "auditor", "none", ...PLATFORM_ROLES];
const isPlatform = (c: Caller): c is PlatformCaller => c.startsWith("platform:");

/**
 * The intended policy, written out here rather than taken from api/auth/roles.ts, so a change to
 * either shows up as a failing cell. Platform callers hold exactly the one role named.
 */
const ALLOWED: Record<Requirement, readonly Caller[]> = {
  VIEWER: ["viewer", "operator", "admin", "auditor", ...PLATFORM_ROLES],
  OPERATOR: ["operator", "admin"],
  ADMIN: ["admin"],
  AUDITOR: ["auditor", "platform:auditor"],
  PLATFORM_VIEWER: PLATFORM_ROLES,
  PLATFORM_ADMIN: ["platform:admin"],
  PLATFORM_BILLING: ["platform:billing"],
  PLATFORM_AUDITOR: ["platform:auditor"],
};

interface Operation {
  requires: Requirement;
  doc: string;
  vars?: (h: ApiHarness) => Promise<Record<string, unknown>>;
}

let seq = 0;
let months = 0;
let excluded = 0;
const meter1 = (h: ApiHarness) => toGlobalId("Meter", h.tenantIds.acme, 1);

async function standardPlan(h: ApiHarness): Promise<string> {
  const { rows } = await h.db.pool.query<{ id: string }>("SELECT id::text FROM rate_plans WHERE tenant_id = $1 AND name = 'standard'", [h.tenantIds.acme]);
  return toGlobalId("Plan", rows[0]!.id);
}

/** acme's current finalized invoice (not voided) and one record it cites that no note credited yet. */
async function creditable(h: ApiHarness): Promise<{ invoice: string; record: string }> {
  const { rows } = await h.db.pool.query<{ id: string; reporter: string; sequence: string }>(
    `SELECT i.id::text, encode(r.reporter, 'hex') AS reporter, r.sequence::text
       FROM invoices i JOIN invoice_lines l ON l.invoice_id = i.id JOIN invoice_line_records r ON r.line_id = l.id
      WHERE i.tenant_id = $1 AND i.status = 'finalized'
        AND NOT EXISTS (SELECT 1 FROM credit_notes n WHERE n.invoice_id = i.id AND n.reason = 'void')
        AND NOT EXISTS (SELECT 1 FROM credit_note_records cr JOIN credit_notes n ON n.id = cr.credit_note_id
                         WHERE n.invoice_id = i.id AND cr.reporter = r.reporter AND cr.sequence = r.sequence)
      ORDER BY i.id DESC, r.sequence LIMIT 1`,
    [h.tenantIds.acme],
  );
  const r = rows[0]!;
  return { invoice: toGlobalId("Invoice", r.id), record: `0x${r.reporter}:${r.sequence}` };
}

/** A version of acme's plan taking effect years from now, which may still be withdrawn. */
async function futureVersion(h: ApiHarness): Promise<string> {
  const n = ++seq;
  const { rows } = await h.db.pool.query<{ id: string }>(
    `INSERT INTO rate_plan_versions (tenant_id, plan_id, version, effective_from, currency)
     SELECT tenant_id, id, 1000 + $2::int, now() + make_interval(days => 1000 + $2::int), 'USD' FROM rate_plans WHERE tenant_id = $1 AND name = 'standard'
     RETURNING id::text`,
    [h.tenantIds.acme, n],
  );
  return toGlobalId("PlanVersion", rows[0]!.id);
}

const idpInput = () => ({ audience: "https://api.example", jwksUri: "https://idp.example/jwks", tenantClaim: "org", rolesClaim: "realm_access.roles" });

async function newIdentityProvider(h: ApiHarness, issuer: string): Promise<string> {
  const { rows } = await h.db.pool.query<{ id: string }>(
    `INSERT INTO identity_providers (issuer, audience, jwks_uri, algorithms, token_types, tenant_claim, roles_claim)
     VALUES ($1, 'https://api.example', 'https://idp.example/jwks', '{ES256}', '{at+jwt}', 'org', 'roles') RETURNING id::text`,
    [issuer],
  );
  return toGlobalId("IdentityProvider", rows[0]!.id);
}

async function newEndpoint(h: ApiHarness): Promise<string> {
  const res = await h.gql(
    await h.token("acme", "operator"),
    `mutation { createWebhookEndpoint(input: { url: "https://93.184.215.14/hooks/x", eventTypes: ["invoice.finalized"] }) { endpoint { id } } }`,
  );
  return (res.body.data!.createWebhookEndpoint as { endpoint: { id: string } }).endpoint.id;
}

/** A dead letter of acme's, a new one each time (fanned out to a new endpoint, then dead-lettered). */
async function deadDelivery(h: ApiHarness): Promise<string> {
  const endpoint = fromGlobalId(await newEndpoint(h), "WebhookEndpoint", 1)![0]!;
  await h.db.pool.query("SELECT enqueue_webhook_event($1, 'invoice.finalized', $2, '{}'::jsonb)", [h.tenantIds.acme, `roles-dead-${++seq}`]);
  const { rows } = await h.db.pool.query<{ id: string }>(
    "UPDATE webhook_deliveries SET status = 'dead', attempts = 8, last_error = 'HTTP 500' WHERE endpoint_id = $1 RETURNING id::text",
    [endpoint],
  );
  return toGlobalId("WebhookDelivery", rows[0]!.id);
}

const OPERATIONS: Record<string, Operation> = {
  "Query.viewer": { requires: "VIEWER", doc: "{ viewer { subject roles platform tenant { slug } } }" },
  "Query.tenant": { requires: "VIEWER", doc: "{ tenant { id slug timeZone chainId onchainId } }" },
  "Query.meters": { requires: "VIEWER", doc: "{ meters { id meterId name config { aggregation } onchain { txHash } } }" },
  "Query.meter": { requires: "VIEWER", doc: "query($id: ID!) { meter(id: $id) { name } }", vars: async (h) => ({ id: meter1(h) }) },
  "Query.usage": {
    requires: "VIEWER",
    doc: "query($m: ID!, $f: DateTime!, $t: DateTime!) { usage(meter: $m, from: $f, to: $t, granularity: HOUR) { bucketStart quantity } }",
    vars: async (h) => ({ m: meter1(h), f: new Date(Date.now() - 86_400_000).toISOString(), t: new Date().toISOString() }),
  },
  "Query.usageRecords": { requires: "VIEWER", doc: "{ usageRecords(first: 3, filter: { duplicate: true }) { totalCount edges { node { id quantity identity duplicate } } } }" },
  "Query.commitments": { requires: "VIEWER", doc: "{ commitments(status: COMMITTED) { totalCount edges { node { id status } } } }" },
  "Query.quotas": { requires: "VIEWER", doc: "{ quotas { id status usage } }" },
  "Query.entitlement": {
    requires: "VIEWER",
    doc: `{ entitlement(meter: "acme-meter-1") { meterId allowed usage limit softLimit remaining status periodStart resetsAt } }`,
  },
  "Query.invoices": {
    requires: "VIEWER",
    doc: "{ invoices { totalCount edges { node { id totalMinor export replaces { id } creditNotes { number } lines { lineNo records { txHash } citations { identity } } } } } }",
  },
  "Query.creditNotes": {
    requires: "VIEWER",
    doc: "{ creditNotes { totalCount edges { node { id number reason totalMinor contentHash export invoice { id } lines { amountMinor records { identity } } } } } }",
  },
  "Query.creditNote": { requires: "VIEWER", doc: "query($id: ID!) { creditNote(id: $id) { id } }", vars: async () => ({ id: toGlobalId("CreditNote", 1) }) },
  "Query.exclusions": { requires: "VIEWER", doc: "{ exclusions { totalCount edges { node { identity reason excludedAt } } } }" },
  "Query.invoice": { requires: "VIEWER", doc: "query($id: ID!) { invoice(id: $id) { id } }", vars: async () => ({ id: toGlobalId("Invoice", 1) }) },
  "Query.plans": {
    requires: "VIEWER",
    doc: "{ plans { id name versions { id version effectiveFrom snapshotHash prices { meterId model unitPrice tiers { upTo unitPrice flatFee } } } } }",
  },
  "Query.subscriptions": { requires: "VIEWER", doc: "{ subscriptions { id startsAt endsAt plan { name } } }" },
  "Query.webhookEndpoints": { requires: "OPERATOR", doc: "{ webhookEndpoints { id url } }" },
  "Query.webhookDeliveries": { requires: "OPERATOR", doc: "{ webhookDeliveries(first: 5) { totalCount edges { node { id status endpoint { url } lastError } } } }" },
  "Query.auditLog": { requires: "AUDITOR", doc: "{ auditLog { totalCount edges { node { action } } } }" },
  "Mutation.configureMeter": {
    requires: "PLATFORM_ADMIN",
    doc: `mutation($m: ID!) { configureMeter(input: { meter: $m, aggregation: SUM, unit: "req", displayName: "Requests" }) { id } }`,
    vars: async (h) => ({ m: meter1(h) }),
  },
  "Mutation.createPlan": {
    requires: "PLATFORM_ADMIN",
    doc: `mutation($n: String!) { createPlan(input: { name: $n }) { id name } }`,
    vars: async () => ({ n: `plan-${++seq}` }),
  },
  "Mutation.createPlanVersion": {
    requires: "PLATFORM_ADMIN",
    doc: `mutation($p: ID!, $at: DateTime!, $m: ID!) {
      createPlanVersion(input: { plan: $p, effectiveFrom: $at, currency: "USD", prices: [{ meter: $m, model: "per_unit", unitPrice: "0.01" }] }) { id snapshotHash }
    }`,
    vars: async (h) => ({ p: await standardPlan(h), at: new Date(Date.now() + 365 * 86_400_000 + ++seq * 60_000).toISOString(), m: meter1(h) }),
  },
  "Mutation.withdrawPlanVersion": {
    requires: "PLATFORM_ADMIN",
    doc: `mutation($v: ID!) { withdrawPlanVersion(id: $v) }`,
    vars: async (h) => ({ v: await futureVersion(h) }),
  },
  "Mutation.subscribe": {
    requires: "PLATFORM_ADMIN",
    doc: `mutation($p: ID!, $at: DateTime!) { subscribe(input: { plan: $p, startsAt: $at }) { id startsAt plan { name } } }`,
    vars: async (h) => {
      // Each change takes effect at a later month boundary (the seed's tenants bill in UTC).
      const now = new Date();
      return { p: await standardPlan(h), at: new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + ++months, 1)).toISOString() };
    },
  },
  "Mutation.setQuotaLimits": {
    requires: "PLATFORM_ADMIN",
    doc: `mutation($m: ID!) { setQuotaLimits(input: { meter: $m, softLimit: "100", hardLimit: "1000000" }) { status } }`,
    vars: async (h) => ({ m: toGlobalId("Meter", h.tenantIds.acme, 2) }),
  },
  "Mutation.removeQuota": {
    requires: "PLATFORM_ADMIN",
    doc: `mutation($m: ID!) { removeQuota(meter: $m) }`,
    vars: async (h) => {
      await h.db.pool.query("INSERT INTO quotas (tenant_id, meter_id, hard_limit) VALUES ($1, 2, 5) ON CONFLICT DO NOTHING", [h.tenantIds.acme]);
      return { m: toGlobalId("Meter", h.tenantIds.acme, 2) };
    },
  },
  "Mutation.setAlertThresholds": {
    requires: "ADMIN",
    doc: `mutation($m: ID!) { setAlertThresholds(input: { meter: $m, thresholds: [50, 90] }) { thresholds } }`,
    vars: async (h) => ({ m: meter1(h) }),
  },
  "Mutation.setTimeZone": {
    requires: "PLATFORM_ADMIN",
    // The tenant has invoices, so its zone is fixed: setting the one it has changes nothing.
    doc: `mutation { setTimeZone(timeZone: "UTC") { timeZone } }`,
  },
  "Mutation.issueCreditNote": {
    requires: "PLATFORM_BILLING",
    doc: `mutation($i: ID!, $r: String!) { issueCreditNote(input: { invoice: $i, reason: "dispute", memo: "double-counted", scope: { records: [$r] } }) { id number totalMinor } }`,
    vars: async (h) => {
      const { invoice, record } = await creditable(h);
      return { i: invoice, r: record };
    },
  },
  "Mutation.voidAndReissue": {
    requires: "PLATFORM_BILLING",
    doc: `mutation($i: ID!) { voidAndReissue(input: { invoice: $i, memo: "wrong plan" }) { creditNote { reason } invoice { number status } } }`,
    vars: async (h) => ({ i: (await creditable(h)).invoice }),
  },
  "Mutation.excludeRecords": {
    requires: "PLATFORM_BILLING",
    doc: `mutation($r: String!) { excludeRecords(input: { records: [$r], reason: "fraudulent reporter key" }) { excluded creditNotes { id } } }`,
    // One of acme's recent records (reporter 0x…aa01, sequences 1-30), a new one each time.
    vars: async () => ({ r: `0x${"aa01".padStart(40, "0")}:${++excluded}` }),
  },
  "Mutation.createWebhookEndpoint": {
    requires: "OPERATOR",
    doc: `mutation { createWebhookEndpoint(input: { url: "https://93.184.215.14/hooks/a", eventTypes: ["quota.threshold_crossed"] }) { secret } }`,
  },
  "Mutation.rotateWebhookSecret": {
    requires: "OPERATOR",
    doc: `mutation($id: ID!) { rotateWebhookSecret(id: $id) { secret } }`,
    vars: async (h) => ({ id: await newEndpoint(h) }),
  },
  "Mutation.deleteWebhookEndpoint": {
    requires: "OPERATOR",
    doc: `mutation($id: ID!) { deleteWebhookEndpoint(id: $id) }`,
    vars: async (h) => ({ id: await newEndpoint(h) }),
  },
  "Mutation.redeliverWebhook": {
    requires: "OPERATOR",
    doc: `mutation($id: ID!) { redeliverWebhook(id: $id) { id status attempts } }`,
    vars: async (h) => ({ id: await deadDelivery(h) }),
  },
  "Query.identityProviders": { requires: "PLATFORM_VIEWER", doc: "{ identityProviders { id issuer } }" },
  "Query.tenantIdentityProvider": { requires: "PLATFORM_VIEWER", doc: "{ tenantIdentityProvider { issuer } }" },
  "Mutation.createIdentityProvider": {
    requires: "PLATFORM_ADMIN",
    doc: `mutation($input: IdentityProviderInput!) { createIdentityProvider(input: $input) { id } }`,
    vars: async () => ({ input: { ...idpInput(), issuer: `https://idp-${++seq}.example` } }),
  },
  "Mutation.updateIdentityProvider": {
    requires: "PLATFORM_ADMIN",
    doc: `mutation($id: ID!, $input: IdentityProviderInput!) { updateIdentityProvider(id: $id, input: $input) { id } }`,
    vars: async (h) => {
      const issuer = `https://idp-${++seq}.example`;
      return { id: await newIdentityProvider(h, issuer), input: { ...idpInput(), issuer } };
    },
  },
  "Mutation.bindIdentityProvider": {
    requires: "PLATFORM_ADMIN",
    // Bound and unbound again in the one request, so acme's own tokens keep working for the rest.
    doc: `mutation($id: ID!) { bindIdentityProvider(id: $id) { id } unbindIdentityProvider }`,
    vars: async (h) => ({ id: await newIdentityProvider(h, `https://idp-${++seq}.example`) }),
  },
  "Mutation.unbindIdentityProvider": { requires: "PLATFORM_ADMIN", doc: "mutation { unbindIdentityProvider }" },
  "Subscription.usageRecorded": { requires: "VIEWER", doc: "subscription { usageRecorded { records toBlock } }" },
  "Subscription.quotaAlert": { requires: "VIEWER", doc: "subscription { quotaAlert { meterId threshold } }" },
};

describe("api: role matrix", function () {
  let h: ApiHarness;
  before(async () => {
    h = await startHarness();
  });
  after(async () => h?.close());

  it("covers every root field of the schema", function () {
    const schema = buildSchema();
    const fields: string[] = [];
    for (const name of ["Query", "Mutation", "Subscription"]) {
      const type = schema.getType(name);
      if (isObjectType(type)) for (const f of Object.keys(type.getFields())) fields.push(`${name}.${f}`);
    }
    expect(Object.keys(OPERATIONS).sort()).to.deep.equal(fields.sort());
  });

  for (const [field, op] of Object.entries(OPERATIONS)) {
    for (const caller of CALLERS) {
      const allowed = ALLOWED[op.requires].includes(caller);
      it(`${field} (${op.requires}) is ${allowed ? "allowed" : "forbidden"} for ${caller}`, async function () {
        // A platform operator homed in globex acts on acme, which its request names.
        const token = isPlatform(caller) ? await h.token("globex", caller) : await h.token("acme", caller);
        const headers: Record<string, string> = isPlatform(caller) ? { "meterline-tenant": "acme" } : {};
        const vars = op.vars ? await op.vars(h) : {};
        if (field.startsWith("Subscription.")) {
          const res = await fetch(`${h.api.url}/graphql`, {
            method: "POST",
            headers: { "content-type": "application/json", accept: "text/event-stream", authorization: `Bearer ${token}`, ...headers },
            body: JSON.stringify({ query: op.doc }),
            signal: AbortSignal.timeout(10_000),
          });
          expect(res.status).to.equal(200);
          const reader = res.body!.getReader();
          if (allowed) {
            // An allowed subscription stays open with no event: read nothing and hang up.
            const first = await Promise.race([reader.read().then((r) => new TextDecoder().decode(r.value)), new Promise((r) => setTimeout(() => r("open"), 300))]);
            expect(String(first)).to.not.contain("FORBIDDEN");
          } else {
            let text = "";
            for (;;) {
              const { done, value } = await reader.read();
              if (done) break;
              text += new TextDecoder().decode(value);
              if (text.includes("FORBIDDEN")) break;
            }
            expect(text).to.contain("FORBIDDEN");
          }
          await reader.cancel();
          return;
        }
        const res = await h.gql(token, op.doc, vars, headers);
        const codes = (res.body.errors ?? []).map((e) => e.extensions?.code);
        if (allowed) {
          expect(res.status).to.equal(200);
          expect(res.body.errors, JSON.stringify(res.body.errors)).to.equal(undefined);
        } else {
          expect(codes).to.include("FORBIDDEN");
          // Nothing of the field leaks: data is null, or the nullable field itself is null.
          expect(Object.values(res.body.data ?? {}).every((v) => v === null)).to.equal(true);
        }
      });
    }
  }

  it("records every mutation and every platform request in the audit log", async function () {
    const { rows } = await h.db.pool.query<{ action: string; platform: boolean; subject: string }>(
      "SELECT action, platform, subject FROM audit_log WHERE tenant_id = $1",
      [h.tenantIds.acme],
    );
    const actions = new Set(rows.map((r) => r.action));
    for (const a of [
      "meter.configure",
      "plan.create",
      "plan_version.create",
      "plan_version.withdraw",
      "subscription.create",
      "quota.set_limits",
      "quota.remove",
      "quota.set_thresholds",
      "credit_note.issue",
      "invoice.void_and_reissue",
      "usage.exclude",
      "webhook_endpoint.create",
      "webhook_endpoint.rotate_secret",
      "webhook_endpoint.delete",
      "webhook_delivery.redeliver",
      "identity_provider.create",
      "identity_provider.update",
      "identity_provider.bind",
      "identity_provider.unbind",
      "platform.request",
    ]) {
      expect(actions, a).to.include(a);
    }
    const platform = rows.filter((r) => r.action === "platform.request");
    expect(new Set(platform.map((r) => r.subject))).to.deep.equal(new Set(PLATFORM_ROLES.map((r) => `globex-${r.replace(":", "-")}`)));
    expect(platform.every((r) => r.platform)).to.equal(true);
  });

  it("the API writes the audit trail only through db/audit-log.ts, the one writer", function () {
    const root = path.join(__dirname, "../../api");
    const files = (readdirSync(root, { recursive: true }) as string[]).filter((f) => f.endsWith(".ts"));
    expect(files.length).to.be.greaterThan(30);
    for (const f of files) expect(readFileSync(path.join(root, f), "utf8"), f).to.not.match(/INSERT\s+INTO\s+audit_log/i);
  });
});
