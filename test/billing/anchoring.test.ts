/**
 * Billing's anchoring against real PostgreSQL (billing's own role) and the in-process Hardhat chain
 * served over HTTP: plan versions are anchored before they take effect, invoices and credit notes
 * in each tenant's chain order; a crash between journal and broadcast re-sends the same
 * transaction once; a crash after the broadcast finds the anchor mined; a reorged anchor is sent
 * again; a plan version first seen after its effective time is unanchorable, not retried.
 */
import { expect } from "chai";
import { randomBytes } from "node:crypto";
import hre from "hardhat";
import { getAddress, toHex as hexOf, type Address, type Hex } from "viem";
import { generatePrivateKey, privateKeyToAddress } from "viem/accounts";
import { openAnchorChain, type AnchorChain } from "../../billing/anchoring/chain";
import { runAnchoringOnce, type AnchoringOptions, type AnchoringResult } from "../../billing/anchoring/run";
import { Secret } from "../../billing/anchoring/signer";
import { issueCreditNote } from "../../billing/corrections";
import { createBillingMetrics } from "../../billing/metrics";
import { runBillingOnce } from "../../billing/run";
import { billingConfigFromEnv } from "../../billing/config";
import { startBillingWorker } from "../../billing";
import { ANCHOR_ROLES } from "../../chain/roles";
import type { AnchorDeployment } from "../../chain/deployment";
import { auditAnchoring } from "../../scripts/audit/anchor-audit";
import { toHex } from "../../chain/hex";
import { withTransaction, type Database } from "../../db/connection";
import { nextPeriod, periodContaining, type BillingPeriod } from "../../rating/periods";
import type { InvoiceAnchor } from "../../scripts/typechain-types";
import { applySeed, seedSchema } from "../../stack/seed/apply-seed";
import { createTestDatabase, openAsRole, type TestDatabase } from "../helpers/database";
import { serveChain, type ChainServer } from "../indexer/helpers/chain";
import { addContract, addMeter, addRecord, addTenant, setCheckpoint } from "./helpers/chain-rows";

const HOUR = 3_600;
const DAY = 86_400;
const ZERO = `0x${"00".repeat(32)}`;
const actor = { subject: "billing-ops@platform", platform: true };
const sec = (d: Date) => Math.floor(d.getTime() / 1000);

const meters = [{ name: "calls", aggregation: "SUM" as const, unit: "call", displayName: "Calls" }];
const version = (minimumMinor: string) => ({ currency: "USD", minimumMinor, prices: [{ meter: "calls", model: "per_unit", unitPrice: "0.01" }] });

describe("billing anchoring", function () {
  this.timeout(120_000);
  let server: ChainServer;
  let db: TestDatabase;
  let billing: Database;
  let anchor: InvoiceAnchor;
  let chain: AnchorChain;
  let billerKey: Hex;
  let anchorDeployment: AnchorDeployment;
  const audit = async () => {
    const section = await auditAnchoring(db.pool, hre.ethers.provider, anchorDeployment, await hre.ethers.provider.getBlockNumber());
    return Object.fromEntries(section.items.map((i) => [i.label, i]));
  };
  let contractId: number;
  const tenants: Record<"t1" | "t2" | "t3", string> = { t1: "", t2: "", t3: "" };
  let months: [BillingPeriod, BillingPeriod, BillingPeriod];
  const opts: AnchoringOptions = { confirmations: 0, receiptTimeoutMs: 5_000 };

  const rpc = (method: string, params: unknown[] = []) => hre.network.provider.request({ method, params });
  const jump = async (to: number) => {
    await rpc("evm_setNextBlockTimestamp", [to]);
    await rpc("evm_mine");
  };
  const pass = (o: Partial<AnchoringOptions> = {}): Promise<AnchoringResult> => runAnchoringOnce(billing, chain, { ...opts, ...o });
  const documentEvents = async (onchainId: number) =>
    (await anchor.queryFilter(anchor.filters.DocumentAnchored(onchainId))).map((e) => ({
      contentHash: e.args.contentHash,
      previousHash: e.args.previousHash,
      kind: Number(e.args.kind),
      number: Number(e.args.number),
      txHash: e.transactionHash,
    }));
  const chainOf = async (tenantId: string) =>
    (
      await db.pool.query<{ seq: number; kind: string; number: number; content_hash: Buffer; previous_hash: Buffer }>(
        "SELECT seq, kind, number, content_hash, previous_hash FROM billing_documents WHERE tenant_id = $1 ORDER BY seq",
        [tenantId],
      )
    ).rows.map((r) => ({ contentHash: toHex(r.content_hash), previousHash: toHex(r.previous_hash), kind: r.kind === "invoice" ? 0 : 1, number: r.number }));
  const jobOf = async (hash: string) =>
    (await db.pool.query<{ status: string; raw_tx: Buffer | null; tx_hash: Buffer | null; nonce: string | null; attempts: number; confirmed: boolean }>(
      "SELECT status, raw_tx, tx_hash, nonce::text AS nonce, attempts, confirmed FROM anchor_jobs WHERE hash = $1",
      [Buffer.from(hash.slice(2), "hex")],
    )).rows[0]!;
  /** One record of `tenantId` billed on its latest finalized invoice, as a credit note names it. */
  const creditOneRecord = async (tenantId: string) =>
    withTransaction(billing.pool, async (c) => {
      const { rows } = await c.query<{ invoice_id: string; reporter: Buffer; sequence: string }>(
        `SELECT i.id::text AS invoice_id, r.reporter, r.sequence::text AS sequence
           FROM invoices i JOIN invoice_lines l ON l.invoice_id = i.id JOIN invoice_line_records lr ON lr.line_id = l.id
           JOIN usage_records r ON r.chain_id = lr.chain_id AND r.tx_hash = lr.tx_hash AND r.log_index = lr.log_index AND r.record_index = lr.record_index
          WHERE i.tenant_id = $1 AND i.status = 'finalized'
            AND NOT EXISTS (SELECT 1 FROM credit_note_records cr WHERE cr.tenant_id = i.tenant_id AND cr.reporter = r.reporter AND cr.sequence = r.sequence)
          ORDER BY i.period_start DESC, r.sequence LIMIT 1`,
        [tenantId],
      );
      const r = rows[0]!;
      return issueCreditNote(c, {
        tenantId,
        invoiceId: r.invoice_id,
        reason: "dispute",
        memo: "test",
        scope: { kind: "records", keys: [`${toHex(r.reporter)}:${r.sequence}`] },
        actor,
        now: new Date(),
      });
    });

  before(async function () {
    await rpc("hardhat_reset");
    server = await serveChain(hre);
    const [admin] = await hre.ethers.getSigners();
    const meterAddress = getAddress(hexOf(randomBytes(20)));
    anchor = (await (await hre.ethers.getContractFactory("InvoiceAnchor", admin)).deploy(0, admin!.address, meterAddress)) as unknown as InvoiceAnchor;
    await anchor.waitForDeployment();
    const key = generatePrivateKey();
    billerKey = key;
    const biller = privateKeyToAddress(key);
    await rpc("hardhat_setBalance", [biller, "0x56BC75E2D63100000"]);
    await (await anchor.grantRole(ANCHOR_ROLES.BILLER_ROLE, biller)).wait();
    await (await anchor.grantRole(ANCHOR_ROLES.PAUSER_ROLE, admin!.address)).wait();
    chain = await openAnchorChain({ signer: { kind: "key", key: new Secret(key) }, rpcUrl: server.url, anchorAddress: (await anchor.getAddress()) as Address, confirmations: 0, receiptTimeoutMs: 5_000 });
    expect(chain.usageMeter).to.equal(meterAddress);
    anchorDeployment = {
      contract: "InvoiceAnchor",
      address: chain.anchor,
      deployBlock: 0,
      deployBlockHash: ZERO as Hex,
      txHash: ZERO as Hex,
      constructorArgs: { adminDelay: 0, admin: admin!.address as Address, usageMeter: meterAddress },
      abiHash: ZERO as Hex,
    };

    db = await createTestDatabase();
    billing = await openAsRole(db, "meterline_billing");
    contractId = await addContract(db.pool, Buffer.from(meterAddress.slice(2), "hex"));
    for (const [name, onchainId] of [["t1", 1], ["t2", 2], ["t3", 3]] as const) {
      tenants[name] = await addTenant(db.pool, contractId, `tenant-${onchainId}`, onchainId);
      await addMeter(db.pool, tenants[name], 1, "calls");
    }
    const t0 = Number((await hre.ethers.provider.getBlock("latest"))!.timestamp);
    const m1 = periodContaining(periodContaining(new Date(t0 * 1000), "UTC").end, "UTC");
    months = [m1, nextPeriod(m1, "UTC"), nextPeriod(nextPeriod(m1, "UTC"), "UTC")];
    const tenantSeed = (slug: string, versions: unknown[]) => ({ slug, meters, plan: { name: "standard", versions } });
    await applySeed(
      billing,
      seedSchema.parse({ tenants: [tenantSeed("tenant-1", [version("100"), { ...version("200"), effectiveFrom: months[1].start.toISOString() }]), tenantSeed("tenant-2", [version("100")])] }),
      { now: new Date(t0 * 1000) },
    );
    // tenant-3 was configured two months ago while billing was down: its plan took effect unpublished.
    await applySeed(billing, seedSchema.parse({ tenants: [tenantSeed("tenant-3", [version("100")])] }), { now: new Date((t0 - 62 * DAY) * 1000) });
  });

  after(async function () {
    await db?.drop();
    await server?.close();
    await rpc("hardhat_reset");
  });

  it("anchors each plan version before it takes effect; one already in effect is unanchorable, logged and counted, never retried", async function () {
    const metrics = createBillingMetrics();
    const logged: string[] = [];
    const logger = { info: () => undefined, warn: () => undefined, error: (_o: object, msg?: string) => void logged.push(msg ?? "") };
    const r = await pass({ logger });
    metrics.observeAnchoring(r);
    expect(r.anchored.filter((a) => a.kind === "plan")).to.have.length(3);
    expect(r.unanchorable).to.have.length(1);
    expect(r.unanchorable[0]!.tenantId).to.equal(tenants.t3);
    expect(r.unanchorable[0]!.reason).to.match(/^plan version takes effect at .* before the chain's time .*: it can no longer be published before it prices usage$/);
    expect(logged.some((m) => m.startsWith("plan version unanchorable: plan version takes effect at"))).to.equal(true);
    expect(await metrics.registry.getSingleMetricAsString("meterline_billing_anchor_unanchorable_total")).to.match(/ 1$/m);
    expect(await metrics.registry.getSingleMetricAsString("meterline_billing_anchored_total")).to.contain('kind="plan"} 3');

    const plans = await anchor.queryFilter(anchor.filters.PlanAnchored());
    const { rows } = await db.pool.query<{ onchain_id: number; plan_hash: Buffer; effective_from: Date }>(
      "SELECT t.onchain_id, a.plan_hash, a.effective_from FROM plan_assignments a JOIN tenants t ON t.id = a.tenant_id WHERE t.onchain_id <> 3 ORDER BY t.onchain_id, a.effective_from",
    );
    expect(plans.map((p) => [Number(p.args.tenantId), p.args.planHash, Number(p.args.effectiveFrom), p.args.biller])).to.deep.equal(
      rows.map((row) => [row.onchain_id, toHex(row.plan_hash), sec(row.effective_from), chain.biller]),
    );
    for (const p of plans) expect((await p.getBlock()).timestamp).to.be.below(Number(p.args.effectiveFrom));

    // meter:audit --database: tenant-3's plan is in effect unpublished, and billing says why.
    const report = await audit();
    expect(report["plan versions"]!.status).to.equal("attention");
    expect(report["plan versions"]!.summary).to.equal("1 plan version(s) in effect without having been anchored first");
    expect(report["unanchorable (tenant-3)"]!.summary).to.equal(r.unanchorable[0]!.reason);

    const again = await pass();
    expect([again.sent, again.anchored.length, again.unanchorable.length]).to.deep.equal([0, 0, 0]);
    const { rows: t3 } = await db.pool.query<{ status: string; attempts: number; reason: string }>("SELECT status, attempts, reason FROM anchor_jobs WHERE tenant_id = $1", [tenants.t3]);
    expect(t3.map((j) => [j.status, j.attempts])).to.deep.equal([["unanchorable", 0]]);
  });

  it("anchors finalized invoices and credit notes in each tenant's chain order", async function () {
    const [m1, m2, m3] = months;
    let block = 1;
    for (const t of [tenants.t1, tenants.t2]) {
      for (const d of [2, 3, 4]) await addRecord(db.pool, { tenantId: t, contractId, meterId: 1, at: new Date((sec(m1.start) + d * DAY) * 1000), quantity: 100n, blockNumber: block++ });
    }
    await setCheckpoint(db.pool, contractId, 100, new Date((sec(m2.start) + 3 * HOUR) * 1000));
    await jump(sec(m2.start) + 2 * HOUR);
    const first = await runBillingOnce(billing, new Date((sec(m2.start) + 3 * HOUR) * 1000), { confirmations: 0, graceMs: HOUR * 1000 });
    expect(first.finalized.filter((f) => f.tenantId !== tenants.t3)).to.have.length(2);
    await creditOneRecord(tenants.t1);
    for (const t of [tenants.t1, tenants.t2]) {
      for (const d of [2, 3, 4, 5]) await addRecord(db.pool, { tenantId: t, contractId, meterId: 1, at: new Date((sec(m2.start) + d * DAY) * 1000), quantity: 50n, blockNumber: block++ });
    }
    await setCheckpoint(db.pool, contractId, 200, new Date((sec(m3.start) + 3 * HOUR) * 1000));
    await jump(sec(m3.start) + 2 * HOUR);
    await runBillingOnce(billing, new Date((sec(m3.start) + 3 * HOUR) * 1000), { confirmations: 0, graceMs: HOUR * 1000 });

    // tenant-1: invoice 1, credit note 1, invoice 2, all waiting; anchored in one pass, in order.
    expect(await chainOf(tenants.t1)).to.have.length(3);
    const waiting = await audit();
    expect(waiting.documents!.status).to.equal("attention");
    expect(waiting.documents!.summary).to.match(/^\d+ of \d+ finalized document\(s\) not on the anchor/);
    const r = await pass();
    expect(r.failures).to.deep.equal([]);
    for (const [t, onchainId] of [[tenants.t1, 1], [tenants.t2, 2], [tenants.t3, 3]] as const) {
      const expected = await chainOf(t);
      const events = await documentEvents(onchainId);
      expect(events.map(({ txHash: _t, ...e }) => e), `tenant ${onchainId}`).to.deep.equal(expected);
      expect(expected[0]?.previousHash ?? ZERO).to.equal(ZERO);
      expect(await anchor.lastDocument(onchainId)).to.equal(expected.at(-1)?.contentHash ?? ZERO);
    }
    const { rows } = await db.pool.query<{ status: string; confirmed: boolean; n: number }>(
      "SELECT status, confirmed, count(*)::int AS n FROM anchor_jobs WHERE kind = 'document' GROUP BY status, confirmed",
    );
    expect(rows.map((x) => [x.status, x.confirmed])).to.deep.equal([["anchored", true]]);
    const idle = await pass();
    expect([idle.sent, idle.resent, idle.pending]).to.deep.equal([0, 0, 0]);
    const done = await audit();
    expect(done.documents!.status).to.equal("ok");
    expect(done["unknown anchored documents"]).to.equal(undefined);
  });

  it("a crash between journal and broadcast sends the same transaction once on restart (no double anchor)", async function () {
    const note = await creditOneRecord(tenants.t2);
    const [doc] = (await chainOf(tenants.t2)).slice(-1);
    const crash = new Error("crash after journal");
    const crashed = await pass({ hooks: { afterJournal: () => Promise.reject(crash) } }).catch((e: unknown) => e);
    expect(crashed).to.equal(crash);
    const journaled = await jobOf(doc!.contentHash);
    expect(journaled.status).to.equal("sent");
    expect(journaled.raw_tx).to.not.equal(null);
    expect((await documentEvents(2)).map((e) => e.contentHash)).to.not.include(doc!.contentHash);
    expect(note.number).to.be.a("number");

    const restarted = await pass();
    expect([restarted.sent, restarted.resent]).to.deep.equal([0, 1]);
    const events = (await documentEvents(2)).filter((e) => e.contentHash === doc!.contentHash);
    expect(events).to.have.length(1);
    expect(events[0]!.txHash).to.equal(toHex(journaled.tx_hash!));
    const done = await jobOf(doc!.contentHash);
    expect([done.status, done.nonce, done.attempts]).to.deep.equal(["anchored", journaled.nonce, 1]);
    await pass();
    expect((await documentEvents(2)).filter((e) => e.contentHash === doc!.contentHash)).to.have.length(1);
  });

  it("a crash after the broadcast finds the anchor mined and sends nothing new", async function () {
    await creditOneRecord(tenants.t1);
    const [doc] = (await chainOf(tenants.t1)).slice(-1);
    const crash = new Error("crash after broadcast");
    expect(await pass({ hooks: { afterBroadcast: () => Promise.reject(crash) } }).catch((e: unknown) => e)).to.equal(crash);
    expect((await jobOf(doc!.contentHash)).status).to.equal("sent");
    const restarted = await pass();
    expect([restarted.sent, restarted.resent, restarted.anchored.length]).to.deep.equal([0, 0, 1]);
    expect((await documentEvents(1)).filter((e) => e.contentHash === doc!.contentHash)).to.have.length(1);
  });

  it("an anchor whose block leaves the chain is sent again, same transaction, and watched until deep enough", async function () {
    const snapshot = (await rpc("evm_snapshot")) as string;
    await creditOneRecord(tenants.t2);
    const [doc] = (await chainOf(tenants.t2)).slice(-1);
    const landed = await pass({ confirmations: 3 });
    expect(landed.anchored.map((a) => a.hash)).to.deep.equal([doc!.contentHash]);
    const before = await jobOf(doc!.contentHash);
    expect([before.status, before.confirmed]).to.deep.equal(["anchored", false]);

    // The reorg: the block with the anchor is replaced by empty ones.
    await rpc("evm_revert", [snapshot]);
    for (let i = 0; i < 2; i++) await rpc("evm_mine");
    expect((await documentEvents(2)).map((e) => e.contentHash)).to.not.include(doc!.contentHash);

    const healed = await pass({ confirmations: 3 });
    expect([healed.reorged, healed.resent, healed.sent]).to.deep.equal([1, 1, 0]);
    const events = (await documentEvents(2)).filter((e) => e.contentHash === doc!.contentHash);
    expect(events).to.have.length(1);
    expect(events[0]!.txHash).to.equal(toHex(before.tx_hash!));
    expect((await jobOf(doc!.contentHash)).confirmed).to.equal(false);
    for (let i = 0; i < 3; i++) await rpc("evm_mine");
    await pass({ confirmations: 3 });
    expect((await jobOf(doc!.contentHash)).confirmed).to.equal(true);
  });

  it("while the anchor is paused, jobs wait with the reason counted; after unpausing they land", async function () {
    const metrics = createBillingMetrics();
    await (await anchor.pause()).wait();
    await creditOneRecord(tenants.t1);
    const [doc] = (await chainOf(tenants.t1)).slice(-1);
    const waiting = await pass();
    metrics.observeAnchoring(waiting);
    expect(waiting.failures.map((f) => f.reason)).to.deep.equal(["paused"]);
    expect(waiting.pending).to.equal(1);
    expect(await metrics.registry.getSingleMetricAsString("meterline_billing_anchor_failures_total")).to.contain('reason="paused"} 1');
    expect(await metrics.registry.getSingleMetricAsString("meterline_billing_anchor_jobs_pending")).to.match(/ 1$/m);
    expect((await jobOf(doc!.contentHash)).status).to.equal("pending");

    await (await anchor.unpause()).wait();
    const landed = await pass();
    expect(landed.anchored.map((a) => a.hash)).to.deep.equal([doc!.contentHash]);
    expect(landed.pending).to.equal(0);
  });

  it("a pending job whose anchor is already on chain (sent by another process) is done without a transaction", async function () {
    await creditOneRecord(tenants.t2);
    const [doc] = (await chainOf(tenants.t2)).slice(-1);
    const { rows } = await db.pool.query<{ number: number; period_start: Date; period_end: Date }>(
      "SELECT number, period_start, period_end FROM billing_documents WHERE content_hash = $1",
      [Buffer.from(doc!.contentHash.slice(2), "hex")],
    );
    const d = rows[0]!;
    // Another worker with the same key anchored it and died before writing its job.
    await hre.network.provider.request({ method: "hardhat_impersonateAccount", params: [chain.biller] });
    const other = await hre.ethers.getSigner(chain.biller);
    await (await anchor.connect(other).anchorDocument(2, 1, d.number, sec(d.period_start), sec(d.period_end), doc!.contentHash, doc!.previousHash as Hex)).wait();
    // Some blocks later, and searched in ranges of 3 blocks: the scan walks back to it.
    for (let i = 0; i < 10; i++) await rpc("evm_mine");
    chain.scanBlocks = 3n;
    const r = await pass().finally(() => delete chain.scanBlocks);
    expect(r.failures).to.deep.equal([]);
    expect([r.sent, r.resent, r.anchored.length]).to.deep.equal([0, 0, 1]);
    expect((await documentEvents(2)).filter((e) => e.contentHash === doc!.contentHash)).to.have.length(1);

    // The same key (leaked) anchors a document billing never issued at tenant-2's head: the audit
    // flags it, and billing's next document is refused by the chain rule, counted as "rejected".
    const bogus = hexOf(randomBytes(32));
    await (await anchor.connect(other).anchorDocument(2, 0, 99, sec(d.period_start), sec(d.period_end), bogus, doc!.contentHash as Hex)).wait();
    expect((await audit())["unknown anchored documents"]!.status).to.equal("attention");
    await creditOneRecord(tenants.t2);
    const refused = await pass();
    expect(refused.failures.map((f) => f.reason)).to.deep.equal(["rejected"]);
    expect(refused.failures[0]!.message).to.match(/^anchorDocument would revert: NotChainHead\(2, 0x[0-9a-f]{64}, 0x[0-9a-f]{64}\)$/);
    expect(refused.pending).to.equal(1);
  });

  it("the billing worker anchors after each billing pass when a signer is configured, and reports to its metrics", async function () {
    await creditOneRecord(tenants.t1);
    const [doc] = (await chainOf(tenants.t1)).slice(-1);
    const config = billingConfigFromEnv({
      BILLING_INTERVAL_MS: "100",
      CONFIRMATIONS: "0",
      BILLING_SIGNER_KEY: billerKey,
      RPC_URL: server.url,
      ANCHOR_ADDRESS: await anchor.getAddress(),
    });
    const metrics = createBillingMetrics();
    const lines: string[] = [];
    const logger = { info: () => undefined, warn: () => undefined, error: (o: object, m?: string) => void lines.push(`${m} ${JSON.stringify(o)}`) };
    const worker = startBillingWorker(config, {
      db: billing,
      logger,
      clock: () => new Date((sec(months[2].start) + 4 * HOUR) * 1000),
      openAnchor: () => openAnchorChain(config.anchoring!),
      onAnchoring: (r) => metrics.observeAnchoring(r),
      onAnchoringError: () => metrics.anchoringFailed("rpc"),
    });
    try {
      const deadline = Date.now() + 20_000;
      const status = async () => (await db.pool.query<{ status: string }>("SELECT status FROM anchor_jobs WHERE hash = $1", [Buffer.from(doc!.contentHash.slice(2), "hex")])).rows[0]?.status;
      while ((await status()) !== "anchored" && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    } finally {
      await worker.stop();
    }
    expect((await jobOf(doc!.contentHash)).status).to.equal("anchored");
    expect(await metrics.registry.getSingleMetricAsString("meterline_billing_anchored_total")).to.contain('kind="document"} 1');
    // tenant-2's document refused by the foreign head (previous test) is the one still pending.
    expect(await metrics.registry.getSingleMetricAsString("meterline_billing_anchor_jobs_pending")).to.match(/ 1$/m);
    expect(await metrics.registry.getSingleMetricAsString("meterline_billing_anchor_failures_total")).to.contain('reason="rejected"}');
    expect(lines.join("\n")).to.not.contain(billerKey.slice(2));
  });
});
