import { expect } from "chai";
import hre from "hardhat";
import { lastMonthStart, startTopology, TENANTS, type Topology } from "./harness";

async function eventually<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * The README's production outline as it runs: separate processes, least-privilege roles, two API
 * replicas behind nginx, an indexer with a standby. The tour goes through nginx only.
 */
describe("topology: every service its own process, two API replicas behind nginx", function () {
  this.timeout(300_000);
  let topo: Topology;
  const [acme, globex] = TENANTS as [(typeof TENANTS)[0], (typeof TENANTS)[1]];
  const start = lastMonthStart();

  before(async function () {
    topo = await startTopology(hre);
  });
  after(async function () {
    await topo?.close();
  });

  const totalUsage = async (tenant: string): Promise<number | undefined> => {
    const token = await topo.token(tenant, "viewer");
    const { status, body } = await topo.gql(token, "{ usageRecords(first: 1) { totalCount } }");
    if (status !== 200 || body.errors) throw new Error(`usageRecords: ${status} ${JSON.stringify(body.errors)}`);
    return (body.data!.usageRecords as { totalCount: number }).totalCount;
  };

  it("each service answers its own readiness as its own database role", async function () {
    for (const [name, role] of [
      ["billing", "meterline_billing"],
      ["webhooks", "meterline_webhooks"],
    ] as const) {
      const res = await fetch(`${await topo.opsUrl(name)}/readyz`);
      const body = (await res.json()) as { checks?: { role?: string } };
      expect(res.status, `${name} /readyz`).to.equal(200);
      expect(body.checks?.role, name).to.equal(role);
    }
  });

  it("the tour through nginx: usage reported by the reporter client is visible to its tenant only, and last month is invoiced once", async function () {
    const rows = Array.from({ length: 5 }, (_, i) => ({ meter: "api_calls", periodStart: start + i * 3600, periodEnd: start + i * 3600 + 60, quantity: 100 * (i + 1) }));
    await topo.report(acme, rows);
    await topo.report(globex, rows.slice(0, 2));
    await eventually("acme's records", async () => ((await totalUsage("acme")) === 5 ? true : undefined));
    await eventually("globex's records", async () => ((await totalUsage("globex")) === 2 ? true : undefined));
    // Each tenant sees its own records only, through either replica.
    for (let i = 0; i < 4; i++) expect(await totalUsage("acme")).to.equal(5);

    const token = await topo.token("acme", "viewer");
    const invoice = await eventually("a finalized invoice for last month", async () => {
      const { body } = await topo.gql(token, "{ invoices(status: FINALIZED) { edges { node { number periodStart totalMinor lines { quantity } } } } }");
      const edges = (body.data?.invoices as { edges: Array<{ node: { number: number; periodStart: string; totalMinor: string; lines: Array<{ quantity: string }> } }> } | undefined)?.edges ?? [];
      return edges.find((e) => Date.parse(e.node.periodStart) === start * 1000)?.node;
    });
    // 1,500 calls at 0.01 USD.
    expect(invoice.totalMinor).to.equal("1500");
    expect(invoice.lines.map((l) => l.quantity)).to.include("1500");
  });

  it("an API replica killed with SIGKILL: nginx keeps serving from the other, every request answered", async function () {
    await topo.kill("api-1");
    for (let i = 0; i < 20; i++) expect(await totalUsage("acme")).to.equal(5);
    await topo.start("api-1");
    for (let i = 0; i < 10; i++) expect(await totalUsage("acme")).to.equal(5);
  });

  it("the active indexer killed with SIGKILL: the standby takes the lease and new usage still arrives exactly once", async function () {
    const a = topo.services.get("indexer-a")!;
    const b = topo.services.get("indexer-b")!;
    const active = /writer lease acquired/.test(a.output()) ? "indexer-a" : "indexer-b";
    const standby = active === "indexer-a" ? b : a;
    expect(standby.output()).to.match(/standing by/);
    await topo.kill(active);
    await standby.waitFor(/writer lease acquired/, 30_000);
    const now = Math.floor(Date.now() / 1000) - 3600;
    await topo.report(acme, [{ meter: "api_calls", periodStart: now, periodEnd: now + 60, quantity: 7 }]);
    await eventually("the record after failover", async () => ((await totalUsage("acme")) === 6 ? true : undefined));
    const { rows } = await topo.db.pool.query<{ n: string }>(
      "SELECT count(*) AS n FROM (SELECT reporter, sequence FROM usage_records GROUP BY tenant_id, reporter, sequence HAVING count(*) > 1) d",
    );
    expect(rows[0]!.n).to.equal("0");
  });
});
