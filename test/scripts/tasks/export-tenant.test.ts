import { expect } from "chai";
import hre from "hardhat";
import { mkdtemp, readFile, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { runBillingOnce } from "../../../billing/run";
import { applySeed, seedSchema } from "../../../stack/seed/apply-seed";
import { createEndpoint } from "../../../webhooks/endpoints";
import { keyRingFromEnv } from "../../../webhooks/secrets";
import { createTestDatabase, type TestDatabase } from "../../helpers/database";
import { addContract, addMeter, addRecord, addTenant, setCheckpoint } from "../../billing/helpers/chain-rows";

describe("meter:export-tenant", function () {
  this.timeout(120_000);
  let db: TestDatabase;
  let dir: string;
  let secret: string;

  before(async function () {
    db = await createTestDatabase();
    const contractId = await addContract(db.pool);
    const tenantId = await addTenant(db.pool, contractId, "acme", 1);
    const other = await addTenant(db.pool, contractId, "globex", 2);
    for (const t of [tenantId, other]) await addMeter(db.pool, t, 1, "calls");
    const seed = (slug: string) => ({ slug, meters: [{ name: "calls", aggregation: "SUM", displayName: "Calls" }], plan: { name: "p", versions: [{ currency: "USD", prices: [{ meter: "calls", model: "per_unit", unitPrice: "1" }] }] } });
    await applySeed(db, seedSchema.parse({ tenants: [seed("acme"), seed("globex")] }), { now: new Date("2026-01-15T00:00:00Z") });
    for (let i = 0; i < 25; i++) await addRecord(db.pool, { tenantId, contractId, meterId: 1, at: new Date(Date.UTC(2026, 1, 1 + (i % 20))), quantity: BigInt(i + 1), blockNumber: 5 });
    await addRecord(db.pool, { tenantId: other, contractId, meterId: 1, at: new Date("2026-02-03T00:00:00Z"), quantity: 9n, blockNumber: 5 });
    await setCheckpoint(db.pool, contractId, 50);
    await runBillingOnce(db, new Date("2026-03-02T00:00:00Z"), { confirmations: 0, graceMs: 3_600_000 });
    const ring = keyRingFromEnv({ WEBHOOK_ENCRYPTION_KEY: randomBytes(32).toString("base64") })!;
    secret = (await createEndpoint(db.pool, ring, { tenantId, url: "https://93.184.215.14/hook", eventTypes: ["invoice.finalized"] })).secret;
    dir = await mkdtemp(path.join(tmpdir(), "meterline-export-"));
  });
  after(async function () {
    await db?.drop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("writes the tenant's configuration, documents, records and audit log, nothing of another tenant, no secret", async function () {
    const out = path.join(dir, "acme");
    process.exitCode = 0;
    await hre.run("meter:export-tenant", { database: db.url, tenant: "acme", out });
    expect(process.exitCode).to.equal(0);
    const manifest = JSON.parse(await readFile(path.join(out, "manifest.json"), "utf8")) as { files: Array<{ file: string; rows: number }> };
    const rows = Object.fromEntries(manifest.files.map((f) => [f.file, f.rows]));
    expect(rows["usage-records.jsonl"]).to.equal(25);
    expect(rows["invoices.json"]).to.be.greaterThan(0);
    expect(rows["document-chain.json"]).to.equal(1);
    expect(rows["audit-log.jsonl"]).to.be.greaterThan(0);
    expect((await readdir(out)).sort()).to.include.members(["tenant.json", "plans.json", "subscriptions.json", "webhook-endpoints.json", "manifest.json"]);
    const all = (await Promise.all((await readdir(out)).map((f) => readFile(path.join(out, f), "utf8")))).join("\n");
    expect(all).to.not.include("globex");
    expect(all).to.not.include(secret);
    expect(all).to.not.include("secret_ciphertext");
    const invoices = JSON.parse(await readFile(path.join(out, "invoices.json"), "utf8")) as Array<{ format: string; status: string }>;
    expect(invoices.map((i) => i.format)).to.include("meterline.invoice.v2");
  });

  it("refuses an unknown tenant and a non-empty directory with one line, exit 1", async function () {
    process.exitCode = 0;
    await hre.run("meter:export-tenant", { database: db.url, tenant: "nobody", out: path.join(dir, "x") });
    expect(process.exitCode).to.equal(1);
    process.exitCode = 0;
    await hre.run("meter:export-tenant", { database: db.url, tenant: "acme", out: path.join(dir, "acme") });
    expect(process.exitCode).to.equal(1);
    process.exitCode = 0;
  });
});
