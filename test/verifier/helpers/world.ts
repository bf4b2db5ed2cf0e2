/**
 * A tenant's billing history on a real chain, built by the real indexer and billing, with an
 * InvoiceAnchor deployed here and documents and plans anchored by a biller account through viem
 * (billing does not anchor by itself yet):
 *
 *   month 1  tenant-1 uses both meters (one record repeats another's idempotency key), tenant-2
 *            uses meter 1; invoice 1 is finalized; a record of it is excluded: credit note 1.
 *   month 2  more usage, and late usage of month 1; invoice 2 is finalized with usage lines and
 *            adjustment lines for month 1 (priced with plan version 1, month 2 with version 2);
 *            a record of it is disputed: credit note 2.
 *
 * Plans are anchored before they take effect, invoice 1 and credit note 1 after month 1. `base` is
 * a chain snapshot taken before invoice 2 is anchored: every forgery starts from it.
 */
import { randomBytes } from "node:crypto";
import { expect } from "chai";
import type { HardhatRuntimeEnvironment } from "hardhat/types";
import { createPublicClient, encodeFunctionData, http, parseEventLogs, toHex, type Abi, type Address, type Hex, type PublicClient } from "viem";
import { excludeRecords, issueCreditNote } from "../../../billing/corrections";
import { exportInvoice } from "../../../billing/export";
import { runBillingOnce } from "../../../billing/run";
import { invoiceAnchorAbi, usageMeterAbi } from "../../../chain/abi.generated";
import { decodeRecordWord, encodeRecordWord, type PackedRecord } from "../../../chain/record";
import type { Database } from "../../../db/connection";
import { withTransaction } from "../../../db/connection";
import type { RecordCitation } from "../../../rating/citation";
import { nextPeriod, periodContaining, type BillingPeriod } from "../../../rating/periods";
import { applySeed, seedSchema } from "../../../stack/seed/apply-seed";
import { BILLER_ROLE } from "../../../verifier/chain/anchor-history";
import { invoiceContentHash, type InvoiceContent } from "../../../rating/invoice";
import { creditNoteContentHash, type CreditNoteContent } from "../../../rating/credit-note";
import type { InvoiceExport } from "../../../verifier/document";
import { verifyInvoice, type TrustAnchors, type VerificationReport, type VerifyOptions } from "../../../verifier";
import { createTestDatabase, openAsRole, type TestDatabase } from "../../helpers/database";
import { COMMIT_GAS, revealGas, serveChain, Workload, type ChainServer } from "../../indexer/helpers/chain";
import { runIndexer, testConfig } from "../../indexer/helpers/indexer";
import { waitForCheckpoint } from "../../indexer/helpers/truth";

const DAY = 86_400;
const HOUR = 3_600;
const sec = (d: Date) => Math.floor(d.getTime() / 1000);
const actor = { subject: "billing-ops@platform", platform: true };

const meters = [
  { name: "meter-1", aggregation: "SUM" as const, unit: "call", displayName: "Calls" },
  { name: "meter-2", aggregation: "MAX" as const, unit: "GB", displayName: "Peak storage" },
];
const version1 = {
  currency: "USD",
  minimumMinor: "2000",
  prices: [
    { meter: "meter-1", model: "graduated", includedUnits: "1000", tiers: [{ upTo: "5000", unitPrice: "0.01" }, { upTo: null, unitPrice: "0.005" }] },
    { meter: "meter-2", model: "per_unit", unitPrice: "0.002" },
  ],
};
const version2 = {
  currency: "USD",
  minimumMinor: "2500",
  prices: [
    { meter: "meter-1", model: "graduated", includedUnits: "500", tiers: [{ upTo: "4000", unitPrice: "0.012" }, { upTo: null, unitPrice: "0.006" }] },
    { meter: "meter-2", model: "volume", tiers: [{ upTo: "500", unitPrice: "0.003" }, { upTo: null, unitPrice: "0.002" }] },
  ],
};

export interface Usage {
  meterId: number;
  /** Usage time, Unix seconds. */
  at: number;
  quantity: bigint;
  ref?: Hex;
}

export interface World {
  hre: HardhatRuntimeEnvironment;
  server: ChainServer;
  w: Workload;
  db: TestDatabase;
  billing: Database;
  client: PublicClient;
  anchor: Address;
  biller: Address;
  attacker: Address;
  outsider: Address;
  /** tenant-1's reporters, then tenant-2's. */
  reporters: { t1: [Address, Address]; t2: Address };
  tenantIds: { t1: string; t2: string };
  months: [BillingPeriod, BillingPeriod, BillingPeriod];
  /** Exports as billing issued them. */
  invoice1: InvoiceExport;
  invoice2: InvoiceExport;
  tenant2Invoice2: InvoiceExport;
  /** The current month's draft of tenant-1. */
  draft3: InvoiceExport;
  /** tenant-1's plan version 2 snapshot, as the tenant keeps it. */
  planV2: unknown;
  /** A record repeating the idempotency key of an earlier record (billing skips it). */
  duplicate: RecordCitation;
  /** A record of tenant-1 on another UsageMeter deployment. */
  foreignRecord: RecordCitation;
  trust: TrustAnchors;
  /** Back to the chain before invoice 2 was anchored (and a new snapshot of it). */
  reset(): Promise<void>;
  /** Anchors invoice 2 and credit note 2 as billing issued them. */
  anchorGenuine(): Promise<void>;
  anchorInvoice(content: InvoiceContent, opts?: AnchorOptions): Promise<bigint>;
  anchorCreditNote(content: CreditNoteContent, opts?: AnchorOptions): Promise<bigint>;
  deployAnchor(admin: Address): Promise<Address>;
  verify(file: InvoiceExport, trust?: Partial<TrustAnchors>, options?: VerifyOptions): Promise<VerificationReport>;
  close(): Promise<void>;
}

export interface AnchorOptions {
  anchor?: Address;
  from?: Address;
  /** The period to anchor with, when not the document's own (Unix seconds). */
  period?: { start: number; end: number };
  previous?: Hex;
}

async function send(w: Workload, to: Address, abi: Abi, functionName: string, args: unknown[], from: Address): Promise<bigint> {
  const data = encodeFunctionData({ abi, functionName, args } as Parameters<typeof encodeFunctionData>[0]);
  const hash = await w.wallet.sendTransaction({ account: from, to, data, chain: null, gas: 1_000_000n });
  const receipt = await w.pub.waitForTransactionReceipt({ hash, pollingInterval: 5 });
  expect(receipt.status, `${functionName} from ${from}`).to.equal("success");
  return receipt.blockNumber;
}

/** Commits and reveals `usage` for a tenant as one batch; returns the reveal's transaction. */
export async function report(w: Workload, tenantId: number, reporter: Address, usage: Usage[]): Promise<Hex> {
  let sequence = (await w.lastSequence(tenantId, reporter)) + 1n;
  const records: PackedRecord[] = usage.map((u) => ({
    packed: encodeRecordWord({ meterId: u.meterId, periodStart: u.at, periodEnd: u.at + 60, sequence: sequence++, quantity: u.quantity }),
    ref: u.ref ?? toHex(randomBytes(32)),
  }));
  const c = w.commitData(tenantId, reporter, records);
  await w.send(c.data, reporter, COMMIT_GAS);
  await w.mine(1);
  const hash = await w.send(w.revealData(tenantId, reporter, c.salt, records), reporter, revealGas(records.length));
  const receipt = await w.pub.waitForTransactionReceipt({ hash, pollingInterval: 5 });
  expect(receipt.status).to.equal("success");
  return hash;
}

/** A record as a document cites it, read from its reveal's receipt. */
export async function citationOf(w: Workload, txHash: Hex, recordIndex = 0): Promise<RecordCitation> {
  const receipt = await w.pub.getTransactionReceipt({ hash: txHash });
  const [log] = parseEventLogs({ abi: usageMeterAbi, logs: receipt.logs, eventName: "UsageRevealed" });
  if (!log) throw new Error(`no UsageRevealed in ${txHash}`);
  const r = log.args.records[recordIndex]!;
  const f = decodeRecordWord(r.packed);
  const iso = (s: number) => new Date(s * 1000).toISOString();
  return {
    reporter: log.args.reporter.toLowerCase(),
    sequence: f.sequence.toString(),
    meterId: f.meterId,
    periodStart: iso(f.periodStart),
    periodEnd: iso(f.periodEnd),
    quantity: f.quantity.toString(),
    ref: r.ref.toLowerCase(),
    seenAt: {
      blockNumber: receipt.blockNumber.toString(),
      txHash: txHash.toLowerCase(),
      logIndex: log.logIndex,
      recordIndex,
      commitment: log.args.commitment.toLowerCase(),
    },
  };
}

export async function buildWorld(hre: HardhatRuntimeEnvironment): Promise<World> {
  await hre.network.provider.request({ method: "hardhat_reset", params: [] });
  const server = await serveChain(hre);
  const w = new Workload(hre, { tenants: 2, metersPerTenant: 2, reportersPerTenant: 2, minRevealDelay: 1, maxRevealDelay: 60 });
  await w.deploy();
  const accounts = await w.wallet.getAddresses();
  const [biller, attacker, outsider] = [accounts[10]!, accounts[11]!, accounts[12]!];
  const reporters = { t1: [w.tenantReporters.get(1)![0]!, w.tenantReporters.get(1)![1]!] as [Address, Address], t2: w.tenantReporters.get(2)![0]! };
  const client = createPublicClient({ transport: http(server.url, { retryCount: 0 }) }) as PublicClient;

  const deployAnchor = async (admin: Address): Promise<Address> => {
    const artifact = await hre.artifacts.readArtifact("InvoiceAnchor");
    const hash = await w.wallet.deployContract({ abi: invoiceAnchorAbi, bytecode: artifact.bytecode as Hex, args: [0, admin, w.address], account: admin, chain: null });
    const receipt = await w.pub.waitForTransactionReceipt({ hash, pollingInterval: 5 });
    return receipt.contractAddress!;
  };
  const anchor = await deployAnchor(w.admin);
  await send(w, anchor, invoiceAnchorAbi, "grantRole", [BILLER_ROLE, biller], w.admin);

  const db = await createTestDatabase();
  const billing = await openAsRole(db, "meterline_billing");
  const indexer = await runIndexer(testConfig(w, server.url, { REORG_WINDOW: "128", MAX_BLOCK_RANGE: "500" }), db);
  const sync = async () => waitForCheckpoint(db.pool, await w.head(), 60_000);
  const jump = async (to: number) => {
    await w.rpc("evm_setNextBlockTimestamp", [to]);
    await w.mine(1);
  };

  try {
    await sync();
    const t0 = await w.latestTimestamp();
    const m1 = periodContaining(periodContaining(new Date(t0 * 1000), "UTC").end, "UTC");
    const m2 = nextPeriod(m1, "UTC");
    const m3 = nextPeriod(m2, "UTC");
    await applySeed(
      billing,
      seedSchema.parse({
        tenants: [
          { slug: "tenant-1", meters, plan: { name: "standard", versions: [version1, { ...version2, effectiveFrom: m2.start.toISOString() }] } },
          { slug: "tenant-2", meters, plan: { name: "standard", versions: [version1] } },
        ],
      }),
      { now: new Date(t0 * 1000) },
    );
    const { rows: tenants } = await db.pool.query<{ id: string; slug: string }>("SELECT id::text AS id, slug FROM tenants");
    const tenantIds = { t1: tenants.find((t) => t.slug === "tenant-1")!.id, t2: tenants.find((t) => t.slug === "tenant-2")!.id };

    // The platform publishes every plan assignment before it takes effect.
    const { rows: plans } = await db.pool.query<{ onchain_id: number; plan_hash: Buffer; effective_from: Date }>(
      "SELECT t.onchain_id, a.plan_hash, a.effective_from FROM plan_assignments a JOIN tenants t ON t.id = a.tenant_id ORDER BY a.effective_from, t.onchain_id",
    );
    expect(plans).to.have.length(3);
    for (const p of plans) await send(w, anchor, invoiceAnchorAbi, "anchorPlan", [p.onchain_id, toHex(p.plan_hash), sec(p.effective_from)], biller);

    // Month 1.
    const d1 = sec(m1.start) + 5 * DAY;
    await jump(d1);
    const keyed = toHex(randomBytes(32));
    await report(w, 1, reporters.t1[0], [
      { meterId: 1, at: d1 - 10 * HOUR, quantity: 1200n },
      { meterId: 1, at: d1 - 9 * HOUR, quantity: 800n },
      { meterId: 1, at: d1 - 8 * HOUR, quantity: 500n },
      { meterId: 2, at: d1 - 8 * HOUR, quantity: 300n },
      { meterId: 2, at: d1 - 7 * HOUR, quantity: 700n },
    ]);
    await report(w, 1, reporters.t1[1], [{ meterId: 1, at: d1 - 6 * HOUR, quantity: 400n, ref: keyed }]);
    await report(w, 2, reporters.t2, [
      { meterId: 1, at: d1 - 6 * HOUR, quantity: 1000n },
      { meterId: 1, at: d1 - 5 * HOUR, quantity: 2000n },
    ]);
    const dupTx = await report(w, 1, reporters.t1[0], [{ meterId: 1, at: d1 - 4 * HOUR, quantity: 999n, ref: keyed }]);
    const duplicate = await citationOf(w, dupTx);

    await jump(sec(m2.start) + 2 * HOUR);
    await sync();
    // The indexer is to mark later occurrences of an idempotency key (docs/billing.md); on this
    // branch nothing sets the flag yet, so the fixture marks the one duplicate the way it will.
    const marked = await db.pool.query("UPDATE usage_records SET is_duplicate = true WHERE reporter = $1 AND sequence = $2", [
      Buffer.from(duplicate.reporter.slice(2), "hex"),
      duplicate.sequence,
    ]);
    expect(marked.rowCount).to.equal(1);
    const first = await runBillingOnce(billing, new Date((sec(m2.start) + 3 * HOUR) * 1000), { confirmations: 0, graceMs: HOUR * 1000 });
    const invoice1Id = first.finalized.find((f) => f.tenantId === tenantIds.t1)!.invoiceId;
    await withTransaction(billing.pool, async (c) => {
      const inv = (await exportInvoice(c, tenantIds.t1, invoice1Id)).invoice;
      const excluded = inv.lines.find((l) => l.meterId === 1)!.records.find((r) => r.quantity === "500")!;
      await excludeRecords(c, { tenantId: tenantIds.t1, keys: [`${excluded.reporter}:${excluded.sequence}`], reason: "test traffic", actor, now: new Date() });
    });
    const invoice1 = await exportInvoice(billing, tenantIds.t1, invoice1Id);
    expect(invoice1.creditNotes).to.have.length(1);

    // Month 2, and late usage of month 1.
    const d2 = sec(m2.start) + 5 * DAY;
    await jump(d2);
    await report(w, 1, reporters.t1[0], [
      { meterId: 1, at: d2 - 10 * HOUR, quantity: 3000n },
      { meterId: 1, at: d2 - 9 * HOUR, quantity: 2500n },
      { meterId: 2, at: d2 - 8 * HOUR, quantity: 400n },
    ]);
    await report(w, 1, reporters.t1[1], [
      { meterId: 1, at: d2 - 7 * HOUR, quantity: 100n },
      { meterId: 1, at: sec(m1.start) + 20 * DAY, quantity: 600n },
      { meterId: 2, at: sec(m1.start) + 21 * DAY, quantity: 900n },
    ]);
    await report(w, 2, reporters.t2, [{ meterId: 1, at: d2 - 6 * HOUR, quantity: 5000n }]);

    // A second UsageMeter deployment, where "tenant-1" is someone else's tenant.
    const other = new Workload(hre, { tenants: 1, metersPerTenant: 2, reportersPerTenant: 1 });
    await other.deploy();
    await send(other, other.address, usageMeterAbi, "authorizeReporter", [1, outsider], other.admin);
    const foreignRecord = await citationOf(other, await report(other, 1, outsider, [{ meterId: 1, at: d2 - 5 * HOUR, quantity: 4321n }]));

    await jump(sec(m3.start) + 2 * HOUR);
    await sync();
    const second = await runBillingOnce(billing, new Date((sec(m3.start) + 3 * HOUR) * 1000), { confirmations: 0, graceMs: HOUR * 1000 });
    const invoice2Id = second.finalized.find((f) => f.tenantId === tenantIds.t1)!.invoiceId;
    const t2Invoice2Id = second.finalized.find((f) => f.tenantId === tenantIds.t2)!.invoiceId;
    await withTransaction(billing.pool, async (c) => {
      const inv = (await exportInvoice(c, tenantIds.t1, invoice2Id)).invoice;
      const disputed = inv.lines.find((l) => l.kind === "usage" && l.meterId === 1)!.records.find((r) => r.quantity === "100")!;
      await issueCreditNote(c, {
        tenantId: tenantIds.t1,
        invoiceId: invoice2Id,
        reason: "dispute",
        memo: "not ours",
        scope: { kind: "records", keys: [`${disputed.reporter}:${disputed.sequence}`] },
        actor,
        now: new Date(),
      });
    });
    const invoice2 = await exportInvoice(billing, tenantIds.t1, invoice2Id);
    const tenant2Invoice2 = await exportInvoice(billing, tenantIds.t2, t2Invoice2Id);
    const { rows: drafts } = await db.pool.query<{ id: string }>("SELECT id::text AS id FROM invoices WHERE tenant_id = $1 AND status = 'draft' AND period_start = $2", [
      tenantIds.t1,
      m3.start,
    ]);
    const draft3 = await exportInvoice(billing, tenantIds.t1, drafts[0]!.id);
    const { rows: v2 } = await db.pool.query<{ snapshot: unknown }>("SELECT snapshot FROM rate_plan_versions WHERE tenant_id = $1 AND version = 2", [tenantIds.t1]);

    // Anchor invoice 1 and credit note 1, in chain order.
    const [cn1] = invoice1.creditNotes;
    await send(w, anchor, invoiceAnchorAbi, "anchorDocument", anchorArgs("invoice", invoice1.invoice), biller);
    await send(w, anchor, invoiceAnchorAbi, "anchorDocument", anchorArgs("credit_note", cn1!.creditNote), biller);

    await indexer.stop();
    let base = await w.snapshot();
    const anchorDocument = async (kind: "invoice" | "credit_note", content: InvoiceContent | CreditNoteContent, opts: AnchorOptions = {}) =>
      send(w, opts.anchor ?? anchor, invoiceAnchorAbi, "anchorDocument", anchorArgs(kind, content, opts), opts.from ?? biller);

    const world: World = {
      hre,
      server,
      w,
      db,
      billing,
      client,
      anchor,
      biller,
      attacker,
      outsider,
      reporters,
      tenantIds,
      months: [m1, m2, m3],
      invoice1,
      invoice2,
      tenant2Invoice2,
      draft3,
      planV2: v2[0]!.snapshot,
      duplicate,
      foreignRecord,
      trust: { meter: w.address, anchor, tenant: "tenant-1" },
      async reset() {
        await w.revert(base);
        base = await w.snapshot();
      },
      async anchorGenuine() {
        await anchorDocument("invoice", invoice2.invoice);
        await anchorDocument("credit_note", invoice2.creditNotes[0]!.creditNote);
      },
      anchorInvoice: (content, opts) => anchorDocument("invoice", content, opts),
      anchorCreditNote: (content, opts) => anchorDocument("credit_note", content, opts),
      deployAnchor,
      verify: (file, trust = {}, options = {}) => verifyInvoice(client, file, { ...world.trust, ...trust }, options),
      async close() {
        await db.drop();
        await server.close();
        await hre.network.provider.request({ method: "hardhat_reset", params: [] });
      },
    };
    return world;
  } catch (err) {
    await indexer.stop().catch(() => undefined);
    await db.drop().catch(() => undefined);
    await server.close().catch(() => undefined);
    throw err;
  }
}

/** anchorDocument's arguments for a document, with the hash recomputed from its content. */
function anchorArgs(kind: "invoice" | "credit_note", content: InvoiceContent | CreditNoteContent, opts: AnchorOptions = {}): unknown[] {
  const hash = kind === "invoice" ? invoiceContentHash(content as InvoiceContent) : creditNoteContentHash(content as CreditNoteContent);
  const period = opts.period ?? { start: sec(new Date(content.periodStart)), end: sec(new Date(content.periodEnd)) };
  const previous = opts.previous ?? content.previousDocumentHash;
  return [content.tenant.onchainId, kind === "invoice" ? 0 : 1, content.number ?? 0, period.start, period.end, hash, previous];
}

/** The failed checks of a report, in report order. */
export const failing = (r: VerificationReport): string[] => r.checks.filter((c) => c.status !== "pass" && c.status !== "skipped").map((c) => c.id);
