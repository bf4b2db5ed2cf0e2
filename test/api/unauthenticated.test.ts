import { expect } from "chai";
import { startHarness, type ApiHarness } from "./fixtures";

const METHODS = ["GET", "POST", "OPTIONS", "PUT", "PATCH", "DELETE", "HEAD"] as const;
const ACCEPTS: (string | undefined)[] = [
  "application/json",
  "application/graphql-response+json",
  "text/html",
  "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
  "text/event-stream",
  "*/*",
  "multipart/mixed",
  undefined,
];
// No credentials at all, and credentials that do not verify.
const CREDENTIALS: Record<string, Record<string, string>> = {
  none: {},
  garbage: { authorization: "Bearer not-a-token" },
  "platform header only": { "meterline-tenant": "acme" },
};

/**
 * Every request shape that could reach GraphQL, without a verified token: a mutation with a side
 * effect (a rate plan and its audit row), a tenant read and a subscription must never run.
 */
describe("api: no GraphQL executes without a verified principal", function () {
  for (const graphiql of [false, true]) {
    describe(`GraphiQL ${graphiql ? "on" : "off"}`, function () {
      let h: ApiHarness;
      let counts: () => Promise<{ plans: number; audit: number }>;
      let initial: { plans: number; audit: number };
      before(async () => {
        h = await startHarness({ GRAPHIQL: String(graphiql), INTROSPECTION: "true" });
        counts = async () => {
          const { rows } = await h.db.pool.query<{ plans: number; audit: number }>(
            "SELECT (SELECT count(*) FROM rate_plans)::int AS plans, (SELECT count(*) FROM audit_log)::int AS audit",
          );
          return rows[0]!;
        };
        initial = await counts();
      });
      after(async () => h?.close());

      let n = 0;
      const operations = () => {
        n++;
        return [
          { kind: "mutation", query: `mutation Intrude { createPlan(input: { name: "intruder-${n}" }) { id } }` },
          { kind: "tenant read", query: "query Peek { meters { name } tenant { slug } }" },
          { kind: "subscription", query: "subscription Listen { usageRecorded { records } }" },
        ];
      };

      for (const method of METHODS) {
        for (const accept of ACCEPTS) {
          for (const [credential, headers] of Object.entries(CREDENTIALS)) {
            it(`${method} × Accept ${accept ?? "(none)"} × ${credential}`, async function () {
              for (const op of operations()) {
                const params = new URLSearchParams({ query: op.query, variables: "{}" });
                const hasBody = method !== "GET" && method !== "HEAD";
                const res = await fetch(`${h.api.url}/graphql?${params}`, {
                  method,
                  headers: {
                    ...(accept !== undefined ? { accept } : {}),
                    ...(hasBody ? { "content-type": "application/json" } : {}),
                    ...headers,
                  },
                  ...(hasBody ? { body: JSON.stringify({ query: op.query, variables: {} }) } : {}),
                  signal: AbortSignal.timeout(5000),
                });
                // A stream that stays open would mean a subscription started: read to the end.
                const text = await res.text();
                const type = res.headers.get("content-type") ?? "";
                const page = graphiql && method === "GET" && (accept ?? "").includes("text/html");
                if (page) {
                  // The GraphiQL page: a shell that runs nothing (see graphiql.test.ts).
                  expect(res.status, `${op.kind}: ${text.slice(0, 200)}`).to.equal(200);
                  expect(type).to.match(/^text\/html/);
                } else {
                  expect(res.status, `${op.kind}: ${text.slice(0, 200)}`).to.be.within(400, 499);
                  if (method !== "HEAD") expect(type).to.match(/^application\/json/);
                }
                expect(text, op.kind).to.not.match(/acme-meter|"slug"|"createPlan"|"usageRecorded"|event: next/);
                if (res.status === 401) expect(res.headers.get("www-authenticate")).to.match(/^Bearer realm="meterline"/);
              }
            });
          }
        }
      }

      it("left no rate plan and no audit row behind", async function () {
        expect(await counts()).to.deep.equal(initial);
        const { rows } = await h.db.pool.query("SELECT name FROM rate_plans WHERE name LIKE 'intruder-%'");
        expect(rows).to.deep.equal([]);
      });

      it("counted the refusals by reason", async function () {
        const metrics = await (await fetch(`${h.api.metricsUrl}/metrics`)).text();
        expect(metrics).to.match(/meterline_api_auth_failures_total\{reason="missing_token"\} [1-9]/);
        expect(metrics).to.match(/meterline_api_auth_failures_total\{reason="malformed"\} [1-9]/);
      });

      it("control: the same mutation with a token runs once and is audited", async function () {
        const token = await h.token("globex", "platform:admin");
        const res = await h.gql(token, `mutation { createPlan(input: { name: "control-${graphiql}" }) { id } }`, {}, { "meterline-tenant": "acme" });
        expect(res.status).to.equal(200);
        expect(res.body.errors).to.equal(undefined);
        const now = await counts();
        // The plan's row, and the platform request's.
        expect(now).to.deep.equal({ plans: initial.plans + 1, audit: initial.audit + 2 });
      });
    });
  }
});

describe("api: CORS preflights run nothing either", function () {
  let h: ApiHarness;
  before(async () => {
    h = await startHarness({ CORS_ORIGINS: "https://dashboard.example" });
  });
  after(async () => h?.close());

  it("a preflight is answered 204 without a body; the cross-origin request itself needs a token", async function () {
    const before = (await h.db.pool.query("SELECT count(*)::int AS n FROM rate_plans")).rows[0].n as number;
    const query = 'mutation { createPlan(input: { name: "preflight" }) { id } }';
    const preflight = await fetch(`${h.api.url}/graphql?${new URLSearchParams({ query })}`, {
      method: "OPTIONS",
      headers: { origin: "https://dashboard.example", "access-control-request-method": "POST", "access-control-request-headers": "authorization, content-type" },
    });
    expect(preflight.status).to.equal(204);
    expect(await preflight.text()).to.equal("");
    expect(preflight.headers.get("access-control-allow-origin")).to.equal("https://dashboard.example");
    expect(preflight.headers.get("access-control-allow-headers")).to.contain("authorization");
    const anonymous = await fetch(`${h.api.url}/graphql`, {
      method: "POST",
      headers: { origin: "https://dashboard.example", "content-type": "application/json" },
      body: JSON.stringify({ query }),
    });
    expect(anonymous.status).to.equal(401);
    expect(anonymous.headers.get("access-control-expose-headers")).to.contain("x-request-id");
    expect((await h.db.pool.query("SELECT count(*)::int AS n FROM rate_plans")).rows[0].n).to.equal(before);
  });
});
