import { expect } from "chai";
import { applySeed, seedSchema } from "../../stack/seed/apply-seed";
import { createTestDatabase, openAsRole, urlAsRole, type TestDatabase } from "../helpers/database";
import { spawnService, type ServiceProcess } from "../helpers/process";
import { addContract, addMeter, addRecord, addTenant, setCheckpoint } from "./helpers/chain-rows";

const getJson = async (url: string) => {
  const res = await fetch(url);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};

/** `npm run billing` as production runs it: its own process, its own database role, one active instance. */
describe("npm run billing (the billing worker as a service)", function () {
  this.timeout(120_000);
  let db: TestDatabase;
  const running: ServiceProcess[] = [];
  const start = (env: Record<string, string> = {}) => {
    const p = spawnService("billing/cli.ts", [], {
      DATABASE_URL: urlAsRole(db.url, "meterline_billing"),
      METRICS_PORT: "0",
      LOG_LEVEL: "info",
      BILLING_INTERVAL_MS: "200",
      BILLING_GRACE_MS: "0",
      CONFIRMATIONS: "0",
      LEASE_TTL_MS: "1500",
      ...env,
    });
    running.push(p);
    return p;
  };
  const opsUrl = async (p: ServiceProcess) => {
    await p.waitFor(/"msg":"ops listener"/);
    return /"url":"(http:\/\/[^"]+)"/.exec(p.output())![1]!;
  };

  before(async function () {
    db = await createTestDatabase();
    const contractId = await addContract(db.pool);
    const tenantId = await addTenant(db.pool, contractId, "acme", 1);
    await addMeter(db.pool, tenantId, 1, "calls");
    await applySeed(
      await openAsRole(db, "meterline_billing"),
      seedSchema.parse({ tenants: [{ slug: "acme", meters: [{ name: "calls", aggregation: "SUM", displayName: "Calls" }], plan: { name: "p", versions: [{ currency: "USD", prices: [{ meter: "calls", model: "per_unit", unitPrice: "1" }] }] } }] }),
      { now: new Date(Date.now() - 100 * 86_400_000) },
    );
    await addRecord(db.pool, { tenantId, contractId, meterId: 1, at: new Date(Date.now() - 40 * 86_400_000), quantity: 7n, blockNumber: 3 });
    await setCheckpoint(db.pool, contractId, 10);
  });
  after(async function () {
    for (const p of running) await p.stop("SIGKILL");
    await db?.drop();
  });

  it("--help prints every setting and exits 0; a bad setting is one line naming it, exit 1", async function () {
    const help = spawnService("billing/cli.ts", ["--help"], {});
    expect((await help.exited).code).to.equal(0);
    for (const name of ["DATABASE_URL", "METRICS_PORT", "METRICS_HOST", "BILLING_INTERVAL_MS", "BILLING_GRACE_MS", "CONFIRMATIONS", "LEASE_TTL_MS"]) expect(help.output()).to.include(name);
    const bad = spawnService("billing/cli.ts", [], { DATABASE_URL: db.url, CONFIRMATIONS: "many" });
    expect((await bad.exited).code).to.equal(1);
    expect(bad.output().trim()).to.match(/^billing: CONFIRMATIONS: expected an integer/);
    expect(bad.output().trim().split("\n")).to.have.length(1);
  });

  it("with a billing signer: a keystore that does not open, or a key without RPC_URL, stops the start with one line, exit 1", async function () {
    const help = spawnService("billing/cli.ts", ["--help"], {});
    expect((await help.exited).code).to.equal(0);
    for (const name of ["BILLING_SIGNER_KEY", "BILLING_SIGNER_KEYSTORE", "BILLING_SIGNER_PASSWORD", "RPC_URL", "ANCHOR_ADDRESS", "ANCHOR_CONFIRMATIONS"]) expect(help.output()).to.include(name);
    const keystore = spawnService("billing/cli.ts", [], { DATABASE_URL: db.url, BILLING_SIGNER_KEYSTORE: "/nonexistent/biller.json", BILLING_SIGNER_PASSWORD: "pw", RPC_URL: "http://127.0.0.1:1" });
    expect((await keystore.exited).code).to.equal(1);
    expect(keystore.output().trim()).to.equal("billing: BILLING_SIGNER_KEYSTORE: cannot read /nonexistent/biller.json (ENOENT)");
    const key = `0x${"ab".repeat(32)}`;
    const noRpc = spawnService("billing/cli.ts", [], { DATABASE_URL: db.url, BILLING_SIGNER_KEY: key });
    expect((await noRpc.exited).code).to.equal(1);
    expect(noRpc.output().trim()).to.equal("billing: RPC_URL: required when a billing signer is configured (anchors are sent there)");
    expect(noRpc.output()).to.not.contain("ab".repeat(32));
  });

  it("refuses a database whose schema is behind, naming the fix", async function () {
    const empty = await createTestDatabase({ migrate: false });
    try {
      const p = spawnService("billing/cli.ts", [], { DATABASE_URL: empty.url, METRICS_PORT: "off" });
      expect((await p.exited).code).to.equal(1);
      expect(p.output()).to.match(/schema is behind .*npm run db:migrate/);
    } finally {
      await empty.drop();
    }
  });

  it("runs as meterline_billing: one active worker finalizes, a standby waits and takes over; SIGTERM exits 0", async function () {
    const a = start();
    await a.waitFor(/"msg":"active: holding the billing lease"/);
    const readyA = await getJson(`${await opsUrl(a)}/readyz`);
    expect(readyA.status).to.equal(200);
    expect(readyA.body.checks).to.deep.include({ database: true, role: "meterline_billing", lease: "active" });
    // the active worker finalizes last month's invoice
    const deadline = Date.now() + 20_000;
    let finalized = 0;
    while (finalized === 0 && Date.now() < deadline) {
      finalized = (await db.pool.query<{ n: number }>("SELECT count(*)::int AS n FROM invoices WHERE status = 'finalized'")).rows[0]!.n;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(finalized).to.equal(1);
    const metrics = await (await fetch(`${await opsUrl(a)}/metrics`)).text();
    expect(metrics).to.match(/meterline_billing_invoices_finalized_total 1/).and.match(/meterline_billing_lease_held 1/);

    const b = start();
    await b.waitFor(/"msg":"standby: the billing lease is held elsewhere"/);
    expect((await getJson(`${await opsUrl(b)}/readyz`)).body.checks).to.deep.include({ lease: "standby" });

    expect((await a.stop("SIGTERM")).code).to.equal(0);
    await b.waitFor(/"msg":"active: holding the billing lease"/, 10_000);
    expect((await b.stop("SIGTERM")).code).to.equal(0);
    // Finalized once, whatever the takeovers.
    const { rows } = await db.pool.query<{ n: number }>("SELECT count(*)::int AS n FROM invoices WHERE status = 'finalized'");
    expect(rows[0]!.n).to.equal(1);
  });
});
