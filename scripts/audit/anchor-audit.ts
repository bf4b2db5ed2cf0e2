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
