import { expect } from "chai";
import { Writable } from "node:stream";
import pino from "pino";
import { platformRoles } from "../../api/auth/roles";
import { ConfigError, parseApiConfig } from "../../api/config";
import { readiness } from "../../api/http/readiness";
import { createTenantDb } from "../../api/tenancy/tenant-transaction";
import { startHarness, type ApiHarness } from "./fixtures";

const asApi = (h: ApiHarness) => createTenantDb(h.apiDb.pool, { role: "meterline_api", statementTimeoutMs: 2000 });

async function raw(h: ApiHarness, body: string, headers: Record<string, string> = {}, token?: string) {
  const res = await fetch(`${h.api.url}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
    body,
  });
  return { status: res.status, text: await res.text(), headers: res.headers };
}

describe("api: hardening", function () {
  describe("abusive documents", function () {
    let h: ApiHarness;
    let token: string;
    before(async () => {
      h = await startHarness();
      token = await h.token("acme", "admin");
    });
    after(async () => h?.close());

    const documents: [string, () => string][] = [
      ["deeply nested", () => `{ ${"viewer { tenant { ".repeat(40)}id${" } }".repeat(40)} }`],
      ["wide (thousands of fields)", () => `{ meters { ${"id ".repeat(5000)} } }`],
      ["aliased (hundreds of aliases)", () => `{ ${Array.from({ length: 300 }, (_, i) => `a${i}: meters { id }`).join(" ")} }`],
      ["costly (many connections)", () => `{ ${Array.from({ length: 14 }, (_, i) => `c${i}: usageRecords(first: 200) { edges { node { id onchain { txHash blockHash } } } }`).join(" ")} }`],
      ["directive flood", () => `{ meters ${"@include(if: true) ".repeat(200)} { id } }`],
      ["malformed syntax", () => "{ meters { id "],
      ["unknown field (no suggestions)", () => "{ meterz { id } }"],
      ["introspection when disabled", () => "{ __schema { types { name } } }"],
      ["fragment cycle", () => "{ meters { ...A } } fragment A on Meter { ...B } fragment B on Meter { ...A }"],
      ["huge argument list", () => `{ meter(${Array.from({ length: 3000 }, () => 'id: "x"').join(", ")}) { id } }`],
    ];

    for (const [name, make] of documents) {
      it(`${name} → 4xx, never 5xx`, async function () {
        const res = await raw(h, JSON.stringify({ query: make() }), {}, token);
        expect(res.status, res.text.slice(0, 300)).to.be.within(400, 499);
        expect(res.text).to.not.match(/Did you mean/);
        // Limits are not disclosed.
        expect(res.text).to.not.match(/\b(5000|15|10|2000)\b.*(limit|allowed)/i);
      });
    }

    const bodies: [string, string, Record<string, string>][] = [
      ["body that is not JSON", "{not json", {}],
      ["JSON that is not an object", "[1,2,3]", {}],
      ["query of the wrong type", JSON.stringify({ query: { a: 1 } }), {}],
      ["variables of the wrong type", JSON.stringify({ query: "query($id: ID!) { meter(id: $id) { id } }", variables: { id: { x: 1 } } }), {}],
      ["batched operations", JSON.stringify([{ query: "{ viewer { subject } }" }, { query: "{ viewer { subject } }" }]), {}],
      ["form content type (CSRF)", "query=%7B%20viewer%20%7B%20subject%20%7D%20%7D", { "content-type": "application/x-www-form-urlencoded" }],
      ["multipart upload", "--x\r\n\r\n--x--", { "content-type": "multipart/form-data; boundary=x" }],
      ["text/plain (CSRF simple request)", JSON.stringify({ query: "{ viewer { subject } }" }), { "content-type": "text/plain" }],
      ["body over the size limit", JSON.stringify({ query: `{ viewer { subject } } #${"x".repeat(200_000)}` }), {}],
    ];
    for (const [name, body, headers] of bodies) {
      it(`${name} → 4xx`, async function () {
        const res = await raw(h, body, headers, token);
        expect(res.status, res.text.slice(0, 200)).to.be.within(400, 499);
      });
    }

    it("a mutation over GET is refused", async function () {
      const res = await fetch(`${h.api.url}/graphql?query=${encodeURIComponent('mutation { createPlan(input: { name: "x" }) { id } }')}`, {
        headers: { authorization: `Bearer ${token}` },
      });
      expect(res.status).to.be.within(400, 499);
    });

    it("keeps serving after all of that", async function () {
      const res = await h.gql(token, "{ viewer { subject } }");
      expect(res.status).to.equal(200);
      expect(res.body.data).to.deep.equal({ viewer: { subject: "acme-admin" } });
    });

    it("a variable a scalar refuses is BAD_USER_INPUT naming the variable, not an unexpected error", async function () {
      const res = await h.gql(token, "query($m: ID!, $f: DateTime!) { usage(meter: $m, from: $f, to: $f, granularity: DAY) { quantity } }", { m: "x", f: "yesterday" });
      expect(res.status).to.equal(400);
      expect(res.body.errors?.[0]?.extensions?.code).to.equal("BAD_USER_INPUT");
      expect(res.body.errors?.[0]?.message).to.match(/^Variable "\$f" got invalid value "yesterday"; .*DateTime must be ISO-8601/);
    });

    it("masks unexpected errors", async function () {
      // A draft whose plan snapshot the billing module cannot read: exporting it fails inside the
      // server, and the client learns nothing of why.
      const { rows } = await h.db.pool.query<{ plan_version_id: string }>("SELECT plan_version_id::text FROM invoices WHERE tenant_id = $1 LIMIT 1", [h.tenantIds.acme]);
      await h.db.pool.query(
        `INSERT INTO invoices (tenant_id, period_start, period_end, time_zone, currency, currency_exponent, plan_version_id, plan_snapshot)
         VALUES ($1, '2025-01-01T00:00:00Z', '2025-02-01T00:00:00Z', 'UTC', 'USD', 2, $2, '{}')`,
        [h.tenantIds.acme, rows[0]!.plan_version_id],
      );
      const res = await h.gql(token, "{ invoices { edges { node { id export } } } }");
      expect(res.status).to.equal(200);
      expect(res.body.errors?.[0]?.message).to.equal("Unexpected error.");
      expect(res.body.errors?.[0]?.extensions?.code).to.equal("INTERNAL_SERVER_ERROR");
      // The good invoice exports normally; the error says nothing of the bad one.
      expect(JSON.stringify(res.body.errors)).to.not.match(/zod|snapshot|invalid_type|stack/i);
    });

    it("sends security headers, a request id, and no CORS grant to unknown origins", async function () {
      const res = await raw(h, JSON.stringify({ query: "{ viewer { subject } }" }), { origin: "https://evil.example" }, token);
      expect(res.headers.get("strict-transport-security")).to.match(/max-age=\d+/);
      expect(res.headers.get("content-security-policy")).to.contain("default-src 'none'");
      expect(res.headers.get("x-content-type-options")).to.equal("nosniff");
      expect(res.headers.get("x-frame-options")).to.equal("DENY");
      expect(res.headers.get("referrer-policy")).to.equal("no-referrer");
      expect(res.headers.get("x-request-id")).to.match(/^[0-9a-f-]{36}$/);
      expect(res.headers.get("access-control-allow-origin")).to.equal(null);
    });

    it("readiness follows the indexer's lag behind the chain head", async function () {
      // The seeded checkpoint is at block 1000; read as the API's own role.
      expect(await readiness(asApi(h), 50, async () => 1040n)).to.deep.equal({ ready: true, database: true, indexerLagBlocks: "40" });
      expect(await readiness(asApi(h), 50, async () => 1100n)).to.deep.equal({ ready: false, database: true, indexerLagBlocks: "100" });
      expect((await readiness(asApi(h), 50, async () => Promise.reject(new Error("rpc down")))).ready).to.equal(false);
    });

    it("serves /healthz and /readyz without a token, and /metrics on its own listener only", async function () {
      expect((await fetch(`${h.api.url}/healthz`)).status).to.equal(200);
      const ready = await fetch(`${h.api.url}/readyz`);
      expect(ready.status).to.equal(200);
      expect((await fetch(`${h.api.url}/metrics`)).status).to.equal(404);
      const metrics = await (await fetch(`${h.api.metricsUrl}/metrics`)).text();
      for (const m of ["meterline_api_requests_total", "meterline_api_request_duration_seconds_bucket", "meterline_api_db_pool_connections"]) {
        expect(metrics).to.contain(m);
      }
    });
  });

  describe("rate limits", function () {
    let h: ApiHarness;
    before(async () => {
      h = await startHarness({ RATE_LIMIT_TENANT_PER_S: "0.01", RATE_LIMIT_TENANT_BURST: "3" });
    });
    after(async () => h?.close());

    it("token bucket per tenant: RateLimit headers, then 429 with Retry-After", async function () {
      const token = await h.token("acme", "viewer");
      const seen: number[] = [];
      for (let i = 0; i < 3; i++) {
        const res = await h.gql(token, "{ viewer { subject } }");
        expect(res.status).to.equal(200);
        expect(res.headers.get("ratelimit-limit")).to.equal("3");
        seen.push(Number(res.headers.get("ratelimit-remaining")));
      }
      expect(seen).to.deep.equal([2, 1, 0]);
      const limited = await h.gql(token, "{ viewer { subject } }");
      expect(limited.status).to.equal(429);
      expect(Number(limited.headers.get("retry-after"))).to.be.greaterThan(0);
      expect(limited.body.errors?.[0]?.extensions?.code).to.equal("RATE_LIMITED");
      // Another tenant has its own bucket.
      expect((await h.gql(await h.token("globex", "viewer"), "{ viewer { subject } }")).status).to.equal(200);
      const metrics = await (await fetch(`${h.api.metricsUrl}/metrics`)).text();
      expect(metrics).to.match(/meterline_api_rate_limited_total\{scope="tenant"\} [1-9]/);
    });

    it("token bucket per IP, before authentication", async function () {
      const ip = await startHarness({ RATE_LIMIT_IP_PER_S: "0.01", RATE_LIMIT_IP_BURST: "2" });
      try {
        const statuses: number[] = [];
        for (let i = 0; i < 4; i++) statuses.push((await ip.gql(undefined, "{ viewer { subject } }")).status);
        expect(statuses).to.deep.equal([401, 401, 429, 429]);
      } finally {
        await ip.close();
      }
    });
  });

  describe("failures inside the server", function () {
    let h: ApiHarness;
    before(async () => {
      // A database role that does not exist: every tenant transaction fails.
      h = await startHarness({ API_DATABASE_ROLE: "meterline_missing" });
    });
    after(async () => h?.close());

    it("answer 'Unexpected error.' without details, before execution (platform audit) as during it", async function () {
      const platform = await h.gql(await h.token("acme", "platform:viewer"), "{ viewer { subject } }", {}, { "meterline-tenant": "globex" });
      expect(platform.status).to.equal(500);
      expect(platform.body.errors?.[0]).to.deep.equal({ message: "Unexpected error.", extensions: { code: "INTERNAL_SERVER_ERROR" } });
      const query = await h.gql(await h.token("acme", "viewer"), "{ meters { name } }");
      expect(query.body.errors?.[0]?.message).to.equal("Unexpected error.");
      for (const res of [platform, query]) expect(JSON.stringify(res.body)).to.not.match(/meterline_missing|does not exist|role|at .*\.ts|node_modules/);
      expect(platform.headers.get("content-security-policy")).to.contain("default-src 'none'");
    });
  });

  describe("logs", function () {
    it("one JSON line per request with id, tenant, operation and duration; never tokens, headers or bodies", async function () {
      const lines: string[] = [];
      const sink = new Writable({
        write(chunk: Buffer, _enc, done) {
          lines.push(...chunk.toString().split("\n").filter((l) => l !== ""));
          done();
        },
      });
      const h = await startHarness({}, { logger: pino({ level: "info" }, sink) });
      try {
        const token = await h.token("acme", "operator");
        await h.gql(token, "query Mine { viewer { subject } }");
        await h.gql(token, `mutation Hook { createWebhookEndpoint(input: { url: "https://93.184.215.14/acme/secret-path", eventTypes: ["invoice.finalized"] }) { secret } }`);
        await h.gql(`${token}x`, "{ viewer { subject } }");
        const text = lines.join("\n");
        const requests = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === "request");
        expect(requests.find((r) => r.operation === "Mine")).to.include({ tenant: "acme", sub: "acme-operator", status: 200 });
        expect(requests.every((r) => typeof r.reqId === "string" && typeof r.ms === "number")).to.equal(true);
        expect(requests.find((r) => r.status === 401)).to.include({ authFailure: "signature" });
        expect(text).to.not.contain(token.split(".")[2]!);
        expect(text).to.not.match(/eyJ|authorization|Bearer|whsec_|secret-path|viewer \{/i);
      } finally {
        await h.close();
      }
    });
  });

  describe("configuration", function () {
    const base = { OIDC_ISSUER: "https://idp.example", OIDC_AUDIENCE: "https://api.example" };
    const bad: [Record<string, string>, string][] = [
      [{ OIDC_ALGORITHMS: "HS256" }, "OIDC_ALGORITHMS"],
      [{ OIDC_ALGORITHMS: "ES256,none" }, "OIDC_ALGORITHMS"],
      [{ PORT: "70000" }, "PORT"],
      [{ OIDC_ISSUER: "not a url" }, "OIDC_ISSUER"],
      [{ OIDC_TOKEN_TYPES: "id+jwt" }, "OIDC_TOKEN_TYPES"],
      [{ CORS_ORIGINS: "https://a.example/path" }, "CORS_ORIGINS"],
      [{ TLS_CERT_FILE: "/tmp/cert.pem" }, "TLS_KEY_FILE"],
      [{ API_DATABASE_ROLE: "x; DROP" }, "API_DATABASE_ROLE"],
      [{ OIDC_ISSUER: "http://idp.example" }, "OIDC_ISSUER"],
      // The all-powerful platform role of earlier versions: refused, not silently reinterpreted.
      [{ PLATFORM_ROLE: "meterline_platform" }, "PLATFORM_ROLE"],
      [{ PLATFORM_ROLE_PREFIX: "has space:" }, "PLATFORM_ROLE_PREFIX"],
    ];
    for (const [env, variable] of bad) {
      it(`rejects ${JSON.stringify(env)} naming ${variable}`, function () {
        expect(() => parseApiConfig({ ...base, ...env })).to.throw(ConfigError, new RegExp(`^${variable}: `));
      });
    }
    it("parses claim paths, including Auth0 namespaced claims", function () {
      const c = parseApiConfig({ ...base, TENANT_CLAIM: "organization", ROLES_CLAIM: "realm_access.roles" });
      expect(c.oidc.rolesClaim).to.deep.equal(["realm_access", "roles"]);
      const a = parseApiConfig({ ...base, ROLES_CLAIM: "https://meterline.example/roles" });
      expect(a.oidc.rolesClaim).to.deep.equal(["https://meterline.example/roles"]);
      expect(parseApiConfig(base).oidc.algorithms).to.deep.equal(["ES256", "RS256"]);
      expect(parseApiConfig(base).oidc.platformRolePrefix).to.equal("platform:");
      expect(parseApiConfig({ ...base, PLATFORM_ROLE_PREFIX: "meterline-platform-" }).oidc.platformRolePrefix).to.equal("meterline-platform-");
      // Under any prefix, only the four platform roles count.
      expect([...platformRoles(["meterline-platform-admin", "meterline-platform-billing", "meterline-platform-root", "admin", "platform:auditor"], "meterline-platform-")]).to.deep.equal([
        "platform:admin",
        "platform:billing",
      ]);
    });
  });
});
