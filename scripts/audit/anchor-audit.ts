/**
 * InvoiceAnchor side of `meter:audit`: who may anchor (role holders replayed from events since the
 * anchor's deploy block, confirmed with hasRole at the audited block), whether anchoring is paused,
 * and how much has been anchored. Appended to the chain report as its own section.
 */
import { Contract, Interface, ZeroAddress, type Provider } from "ethers";
import type { InvoiceAnchor } from "../typechain-types";
import type { AnchorDeployment } from "../../chain/deployment";
import { ANCHOR_ROLES, anchorRoleLabel } from "../../chain/roles";
import { invoiceAnchorAbi } from "../../chain/abi.generated";
import type { AuditItem, AuditSection } from "./chain-audit";

const anchorInterface = new Interface(invoiceAnchorAbi);

export interface AnchorEvent {
  name: string;
  args: Record<string, unknown>;
  blockNumber: number;
  logIndex: number;
}

/** Every InvoiceAnchor event in [fromBlock, toBlock], in chain order, fetched in bounded ranges. */
export async function fetchAnchorEvents(provider: Provider, address: string, fromBlock: number, toBlock: number, chunkSize = 2_000): Promise<AnchorEvent[]> {
  const events: AnchorEvent[] = [];
  for (let start = fromBlock; start <= toBlock; start += chunkSize) {
    const end = Math.min(toBlock, start + chunkSize - 1);
    for (const log of await provider.getLogs({ address, fromBlock: start, toBlock: end })) {
      const parsed = anchorInterface.parseLog(log);
      if (!parsed) continue;
      const args: Record<string, unknown> = {};
      parsed.fragment.inputs.forEach((input, i) => (args[input.name] = parsed.args[i]));
      events.push({ name: parsed.name, args, blockNumber: log.blockNumber, logIndex: log.index });
    }
  }
  return events.sort((a, b) => a.blockNumber - b.blockNumber || a.logIndex - b.logIndex);
}

/** Role name (or id) → current holders, replaying RoleGranted/RoleRevoked; every anchor role is listed. */
export function anchorRoleHolders(events: readonly AnchorEvent[]): Map<string, string[]> {
  const holders = new Map<string, Set<string>>();
  for (const id of Object.values(ANCHOR_ROLES)) holders.set(id, new Set());
  for (const e of events) {
    if (e.name !== "RoleGranted" && e.name !== "RoleRevoked") continue;
    const role = String(e.args.role).toLowerCase();
    const set = holders.get(role) ?? new Set<string>();
    holders.set(role, set);
    if (e.name === "RoleGranted") set.add(String(e.args.account));
    else set.delete(String(e.args.account));
  }
  return new Map([...holders].map(([role, set]) => [role, [...set].sort()]));
}

const item = (status: AuditItem["status"], label: string, summary: string, details?: Record<string, unknown>): AuditItem => ({
  label,
  status,
  summary,
  ...(details ? { details } : {}),
});

/** The "anchor" section of the audit, as of `blockTag`. */
export async function auditAnchor(provider: Provider, anchor: AnchorDeployment, blockTag: number, expectedAbiHash?: string): Promise<AuditSection> {
  const items: AuditItem[] = [];
  const section: AuditSection = { id: "anchor", title: "InvoiceAnchor", items };
  if ((await provider.getCode(anchor.address, blockTag)) === "0x") {
    items.push(item("attention", "code", `no contract at ${anchor.address} at block ${blockTag}`));
    return section;
  }
  items.push(item("ok", "code", `InvoiceAnchor at ${anchor.address}, deployed in block ${anchor.deployBlock}, for UsageMeter ${anchor.constructorArgs.usageMeter}`));
  if (expectedAbiHash !== undefined && expectedAbiHash.toLowerCase() !== anchor.abiHash.toLowerCase()) {
    items.push(item("attention", "abi", `deployed ABI ${anchor.abiHash} differs from this build's ${expectedAbiHash}`));
  }
  const contract = new Contract(anchor.address, invoiceAnchorAbi, provider) as unknown as InvoiceAnchor;
  const at = { blockTag };
  const [admin, paused, [pendingAdmin, pendingSchedule]] = await Promise.all([contract.defaultAdmin(at), contract.paused(at), contract.pendingDefaultAdmin(at)]);
  items.push(
    admin === ZeroAddress
      ? item("attention", "default admin", "none: the admin role was renounced, nobody can unpause or grant BILLER_ROLE")
      : item("ok", "default admin", admin, { admin }),
  );
  if (pendingAdmin !== ZeroAddress) {
    items.push(item("ok", "pending admin transfer", `to ${pendingAdmin}, acceptable after ${new Date(Number(pendingSchedule) * 1000).toISOString()}`));
  }
  const events = await fetchAnchorEvents(provider, anchor.address, anchor.deployBlock, blockTag);
  for (const [role, holders] of anchorRoleHolders(events)) {
    if (role === ANCHOR_ROLES.DEFAULT_ADMIN_ROLE) continue; // reported as "default admin"
    const confirmed = await Promise.all(holders.map((h) => contract.hasRole(role, h, at)));
    const unconfirmed = holders.filter((_, i) => !confirmed[i]);
    const label = `anchor ${anchorRoleLabel(role)}`;
    if (unconfirmed.length > 0) items.push(item("attention", label, `events say ${unconfirmed.join(", ")} hold it but hasRole disagrees`, { holders, unconfirmed }));
    // No biller is a valid state (metering only, or billing not set up yet), so it is said, not flagged.
    else if (role === ANCHOR_ROLES.BILLER_ROLE && holders.length === 0) items.push(item("ok", label, "no holders: billing cannot anchor until meter:anchor-grant", { holders }));
    else items.push(item("ok", label, holders.length === 0 ? "no holders" : holders.join(", "), { holders }));
  }
  const pausedBy = [...events].reverse().find((e) => e.name === "Paused");
  items.push(
    paused
      ? item("attention", "anchor paused", `yes, since block ${pausedBy?.blockNumber ?? "?"} by ${String(pausedBy?.args.account ?? "?")}: billing cannot anchor until the admin runs meter:anchor-unpause`, { paused })
      : item("ok", "anchor paused", "no", { paused }),
  );
  const plans = events.filter((e) => e.name === "PlanAnchored").length;
  const documents = events.filter((e) => e.name === "DocumentAnchored");
  const tenants = new Set(documents.map((e) => Number(e.args.tenantId)));
  items.push(item("ok", "anchored", `${plans} plan version(s), ${documents.length} document(s) of ${tenants.size} tenant(s)`, { plans, documents: documents.length, tenants: tenants.size }));
  return section;
}

/** Anything with node-postgres' `query`. */
interface Queryable {
  query<R extends object>(text: string, values?: unknown[]): Promise<{ rows: R[] }>;
}

/**
 * The "anchoring" section of `meter:audit --database`: billing's documents and plan assignments
 * against the anchor's events at `blockTag`. Attention: a finalized document or a plan already in
 * effect that is not on the anchor, an anchored document billing does not know (someone else
 * anchored at a tenant's head), and every plan billing marked unanchorable.
 */
export async function auditAnchoring(db: Queryable, provider: Provider, anchor: AnchorDeployment, blockTag: number, maxExamples = 10): Promise<AuditSection> {
  const items: AuditItem[] = [];
  const section: AuditSection = { id: "anchoring", title: "Billing anchoring (database vs InvoiceAnchor)", items };
  const block = await provider.getBlock(blockTag);
  const now = block?.timestamp ?? Math.floor(Date.now() / 1000);
  const events = await fetchAnchorEvents(provider, anchor.address, anchor.deployBlock, blockTag);
  const key = (tenant: unknown, hash: unknown) => `${Number(tenant)}:${String(hash).toLowerCase()}`;
  const anchoredDocs = new Set(events.filter((e) => e.name === "DocumentAnchored").map((e) => key(e.args.tenantId, e.args.contentHash)));
  const anchoredPlans = new Set(events.filter((e) => e.name === "PlanAnchored").map((e) => `${key(e.args.tenantId, e.args.planHash)}:${Number(e.args.effectiveFrom)}`));
  const meter = Buffer.from(anchor.constructorArgs.usageMeter.slice(2), "hex");
  const hex = (b: Buffer) => `0x${b.toString("hex")}`;

  const { rows: docs } = await db.query<{ onchain_id: number; slug: string; seq: number; kind: string; number: number; content_hash: Buffer; created_at: Date }>(
    `SELECT t.onchain_id, t.slug, d.seq, d.kind, d.number, d.content_hash, d.created_at
       FROM billing_documents d JOIN tenants t ON t.id = d.tenant_id JOIN contracts c ON c.id = t.contract_id AND c.address = $1
      ORDER BY t.onchain_id, d.seq`,
    [meter],
  );
  const missing = docs.filter((d) => !anchoredDocs.has(key(d.onchain_id, hex(d.content_hash))));
  const known = new Set(docs.map((d) => key(d.onchain_id, hex(d.content_hash))));
  items.push(
    missing.length === 0
      ? item("ok", "documents", `all ${docs.length} finalized invoice(s) and credit note(s) are anchored`, { documents: docs.length })
      : item("attention", "documents", `${missing.length} of ${docs.length} finalized document(s) not on the anchor (billing anchoring off, paused or failing?)`, {
          missing: missing.slice(0, maxExamples).map((d) => ({ tenant: d.slug, seq: d.seq, kind: d.kind, number: d.number, contentHash: hex(d.content_hash), finalizedAt: d.created_at.toISOString() })),
        }),
  );
  const foreign = events.filter((e) => e.name === "DocumentAnchored" && !known.has(key(e.args.tenantId, e.args.contentHash)));
  if (foreign.length > 0) {
    items.push(
      item("attention", "unknown anchored documents", `${foreign.length} anchored document(s) billing never issued (a leaked or foreign BILLER_ROLE key?)`, {
        documents: foreign.slice(0, maxExamples).map((e) => ({ tenantId: Number(e.args.tenantId), contentHash: String(e.args.contentHash), biller: String(e.args.biller), block: e.blockNumber })),
      }),
    );
  }

  const { rows: plans } = await db.query<{ onchain_id: number; slug: string; plan_hash: Buffer; effective_from: Date }>(
    `SELECT t.onchain_id, t.slug, a.plan_hash, a.effective_from
       FROM plan_assignments a JOIN tenants t ON t.id = a.tenant_id JOIN contracts c ON c.id = t.contract_id AND c.address = $1
      ORDER BY t.onchain_id, a.effective_from`,
    [meter],
  );
  const unpublished = plans.filter((p) => !anchoredPlans.has(`${key(p.onchain_id, hex(p.plan_hash))}:${Math.floor(p.effective_from.getTime() / 1000)}`));
  const late = unpublished.filter((p) => p.effective_from.getTime() / 1000 <= now);
  const waiting = unpublished.length - late.length;
  items.push(
    late.length === 0
      ? item("ok", "plan versions", `${plans.length - unpublished.length} of ${plans.length} anchored${waiting > 0 ? `, ${waiting} not yet (still in the future)` : ""}`)
      : item("attention", "plan versions", `${late.length} plan version(s) in effect without having been anchored first`, {
          late: late.slice(0, maxExamples).map((p) => ({ tenant: p.slug, planHash: hex(p.plan_hash), effectiveFrom: p.effective_from.toISOString() })),
        }),
  );
  const { rows: unanchorable } = await db.query<{ slug: string; reason: string }>(
    `SELECT t.slug, j.reason FROM anchor_jobs j JOIN tenants t ON t.id = j.tenant_id WHERE j.status = 'unanchorable' ORDER BY j.id LIMIT $1`,
    [maxExamples],
  );
  for (const u of unanchorable) items.push(item("attention", `unanchorable (${u.slug})`, u.reason));
  return section;
}
