/**
 * The invoice is about the tenant's own contracts and tenant, as its configuration names them:
 * the RPC serves the invoice's chain, the invoice names the configured UsageMeter, the tenant's
 * name resolves on chain to the invoice's tenant id, the scan covers the tenant's whole history,
 * and the configured InvoiceAnchor serves that UsageMeter.
 */
import { outcome, type CheckResult } from "../result";
import type { CheckContext } from "./context";

export function checkParties(ctx: CheckContext): CheckResult {
  const { facts, trust, file } = ctx;
  const inv = file.invoice;
  const problems: string[] = [];
  if (!facts.meter.ok) problems.push(facts.meter.problem);
  if (inv.deployment.chainId !== String(facts.chainId)) problems.push(`the invoice is for chain ${inv.deployment.chainId}; your RPC serves chain ${facts.chainId}`);
  if (inv.deployment.address !== trust.meter) problems.push(`the invoice names contract ${inv.deployment.address}, not your UsageMeter ${trust.meter}`);
  const name = `"${trust.tenant}" (${trust.naming.scheme} name ${facts.tenant.onchainName})`;
  if (facts.meter.ok && facts.tenant.id === 0) {
    // The usual cause is the naming, not the platform: say which key to check.
    const hint = trust.naming.keyed
      ? "; check that --name-key is the key your platform gave you for this tenant (a wrong key gives a different name)"
      : "; if your platform registered your tenant pseudonymously, pass the name key it gave you with --name-key";
    problems.push(`no tenant is registered on your UsageMeter under ${name}${hint}`);
  }
  if (facts.tenant.id !== 0 && inv.tenant.onchainId !== facts.tenant.id) {
    problems.push(`the invoice is for tenant #${inv.tenant.onchainId}; ${name} is tenant #${facts.tenant.id}`);
  }
  const registered = facts.tenantHistory?.registered ?? null;
  if (facts.tenantHistory && !registered) {
    problems.push(`tenant #${facts.tenant.id} was registered before block ${ctx.options.fromBlock ?? 0n}, where the scan starts: its earlier records would be missed; lower --from-block`);
  }
  if (registered && registered.name !== facts.tenant.onchainName.toLowerCase()) {
    problems.push(`tenant #${facts.tenant.id} was registered as ${registered.name}, not ${facts.tenant.onchainName}`);
  }
  if (!facts.anchor.ok) problems.push(facts.anchor.problem);
  else if (facts.anchor.usageMeter !== trust.meter) problems.push(`your InvoiceAnchor ${trust.anchor} anchors for UsageMeter ${facts.anchor.usageMeter}, not ${trust.meter}`);
  return outcome(
    "parties",
    problems,
    `"${trust.tenant}" is tenant #${facts.tenant.id} of UsageMeter ${trust.meter} on chain ${facts.chainId}` +
      (registered ? ` (registered in block ${registered.blockNumber})` : "") +
      `; InvoiceAnchor ${trust.anchor} serves it`,
  );
}
