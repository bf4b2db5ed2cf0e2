/**
 * Everything the checks need from the chain, read once at a fixed head block: the checks
 * themselves are pure functions of these facts and the file.
 */
import { ContractFunctionExecutionError, HttpRequestError, TimeoutError, type Hex, type PublicClient } from "viem";
import { invoiceAnchorAbi, usageMeterAbi } from "../../chain/abi.generated";
import { VerifierError } from "../result";
import type { Trust, VerifyOptions } from "../trust";
import { readAnchorHistory, type AnchorHistory } from "./anchor-history";
import { readTenantHistory, type TenantHistory } from "./tenant-history";

export interface ChainFacts {
  chainId: number;
  head: { number: bigint; hash: Hex };
  /** The configured UsageMeter, or why it is not one. */
  meter: { ok: true } | { ok: false; problem: string };
  /** The tenant as resolved on chain; id 0 when no tenant has the name. */
  tenant: { onchainName: Hex; id: number };
  /** The UsageMeter the configured InvoiceAnchor serves, or why it is not an anchor. */
  anchor: { ok: true; usageMeter: Hex } | { ok: false; problem: string };
  tenantHistory: TenantHistory | null;
  anchorHistory: AnchorHistory | null;
}

/**
 * A view call that reverts or hits an address without code says something about the contract;
 * a transport failure (viem wraps it in the same error class) says nothing and is rethrown.
 */
async function view<T>(call: () => Promise<T>): Promise<{ ok: true; value: T } | { ok: false; problem: string }> {
  try {
    return { ok: true, value: await call() };
  } catch (err) {
    if (err instanceof ContractFunctionExecutionError && !err.walk((e) => e instanceof HttpRequestError || e instanceof TimeoutError)) {
      return { ok: false, problem: err.shortMessage };
    }
    throw err;
  }
}

export async function readChainFacts(client: PublicClient, trust: Trust, options: VerifyOptions): Promise<ChainFacts> {
  const chainId = await client.getChainId();
  const headBlock = await client.getBlock({ blockTag: "latest" });
  const head = { number: headBlock.number, hash: headBlock.hash };
  const at = { blockNumber: head.number };
  const onchainName = trust.naming.onchainName(trust.tenant);

  const tenantId = await view(() => client.readContract({ ...at, address: trust.meter, abi: usageMeterAbi, functionName: "tenantIdByName", args: [onchainName] }));
  const served = await view(() => client.readContract({ ...at, address: trust.anchor, abi: invoiceAnchorAbi, functionName: "usageMeter" }));
  const facts: ChainFacts = {
    chainId,
    head,
    meter: tenantId.ok ? { ok: true } : { ok: false, problem: `${trust.meter} does not answer as a UsageMeter on chain ${chainId}: ${tenantId.problem}` },
    tenant: { onchainName, id: tenantId.ok ? tenantId.value : 0 },
    anchor: served.ok
      ? { ok: true, usageMeter: served.value.toLowerCase() as Hex }
      : { ok: false, problem: `${trust.anchor} does not answer as an InvoiceAnchor on chain ${chainId}: ${served.problem}` },
    tenantHistory: null,
    anchorHistory: null,
  };
  if (facts.tenant.id === 0) return facts;

  const range = { fromBlock: options.fromBlock ?? 0n, toBlock: head.number };
  if (range.fromBlock > range.toBlock) throw new VerifierError(`--from-block ${range.fromBlock} is above the chain's head ${head.number}`);
  const scan = { maxRange: options.maxLogRange };
  [facts.tenantHistory, facts.anchorHistory] = await Promise.all([
    readTenantHistory(client, trust.meter, facts.tenant.id, range, scan),
    facts.anchor.ok ? readAnchorHistory(client, trust.anchor, facts.tenant.id, range, scan) : Promise.resolve(null),
  ]);

  // Everything was read at or below `head`; if that block is no longer canonical the reads may
  // mix two branches, and nothing read can be trusted.
  const again = await client.getBlock({ blockNumber: head.number });
  if (again.hash !== head.hash) throw new VerifierError(`the chain reorganized at block ${head.number} during verification; run it again`);
  return facts;
}
