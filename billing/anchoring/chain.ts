/**
 * Anchoring's view of the chain, through viem: the anchor contract, the biller account, signing a
 * call into a raw transaction (not sending it: the caller journals it first), sending a raw
 * transaction again, receipts, blocks, and the anchor events already on chain.
 */
import {
  BaseError,
  ContractFunctionRevertedError,
  createPublicClient,
  encodeFunctionData,
  getAddress,
  http,
  keccak256,
  type Address,
  type Hex,
  type PublicClient,
} from "viem";
import type { PrivateKeyAccount } from "viem/accounts";
import { invoiceAnchorAbi } from "../../chain/abi.generated";
import { findDeployment } from "../../chain/deployment";
import { BillingError } from "../errors";
import type { AnchoringConfig } from "./config";
import { openSigner } from "./signer";

export type AnchorCall =
  | { functionName: "anchorPlan"; args: readonly [number, Hex, bigint] }
  | { functionName: "anchorDocument"; args: readonly [number, number, bigint, bigint, bigint, Hex, Hex] };

export interface SignedTx {
  nonce: bigint;
  rawTx: Hex;
  txHash: Hex;
}

export interface AnchorChain {
  client: PublicClient;
  chainId: number;
  anchor: Address;
  /** The UsageMeter the anchor is for: billing anchors the tenants of that contract only. */
  usageMeter: Address;
  /** The anchor's deploy block when known (where event searches start). */
  fromBlock: bigint;
  biller: Address;
  /** Blocks per eth_getLogs request when searching for an anchor event (default {@link EVENT_SCAN_BLOCKS}). */
  scanBlocks?: bigint;
  sign(call: AnchorCall, nonce: bigint, gas: bigint): Promise<SignedTx>;
}

/** A call the anchor would refuse, by its custom error's name (e.g. PlanNotInFuture, EnforcedPause). */
export class AnchorRevertError extends BillingError {
  override name = "AnchorRevertError";
  constructor(
    readonly errorName: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The chain cannot be used for anchoring (no anchor at the address, no deployment record, ...). */
export class AnchorSetupError extends BillingError {
  override name = "AnchorSetupError";
}

/** Opens the anchor named by the config (or the deployment file of the RPC's chain) and the signer. */
export async function openAnchorChain(config: AnchoringConfig): Promise<AnchorChain> {
  const client = createPublicClient({ transport: http(config.rpcUrl, { retryCount: 1 }) }) as PublicClient;
  const account: PrivateKeyAccount = openSigner(config.signer);
  const chainId = await client.getChainId();
  let anchor = config.anchorAddress;
  let fromBlock = 0n;
  const deployment = findDeployment(chainId, ...(config.deploymentsDir ? [config.deploymentsDir] : []));
  if (deployment?.anchor && (anchor === undefined || getAddress(deployment.anchor.address) === anchor)) {
    anchor = deployment.anchor.address;
    fromBlock = BigInt(deployment.anchor.deployBlock);
  }
  if (anchor === undefined) {
    throw new AnchorSetupError(`ANCHOR_ADDRESS: not set, and no deployment file with an anchor for chain ${chainId} (run meter:deploy, or set DEPLOYMENTS_DIR)`);
  }
  const code = await client.getCode({ address: anchor });
  if (!code || code === "0x") throw new AnchorSetupError(`ANCHOR_ADDRESS: no contract at ${anchor} on chain ${chainId}`);
  const usageMeter = await client.readContract({ address: anchor, abi: invoiceAnchorAbi, functionName: "usageMeter" });
  return {
    client,
    chainId,
    anchor,
    usageMeter: getAddress(usageMeter),
    fromBlock,
    biller: account.address,
    async sign(call, nonce, gas) {
      const data = encodeFunctionData({ abi: invoiceAnchorAbi, ...call } as Parameters<typeof encodeFunctionData>[0]);
      const fees = await client.estimateFeesPerGas();
      const rawTx = await account.signTransaction({
        type: "eip1559",
        chainId,
        nonce: Number(nonce),
        to: anchor,
        data,
        gas,
        value: 0n,
        maxFeePerGas: fees.maxFeePerGas,
        maxPriorityFeePerGas: fees.maxPriorityFeePerGas,
      });
      return { nonce, rawTx, txHash: keccak256(rawTx) };
    },
  };
}

/** Gas for `call` from the biller, with headroom; a refusal becomes an {@link AnchorRevertError}. */
export async function estimateAnchorGas(chain: AnchorChain, call: AnchorCall): Promise<bigint> {
  try {
    const gas = await chain.client.estimateContractGas({ address: chain.anchor, abi: invoiceAnchorAbi, account: chain.biller, ...call } as Parameters<
      PublicClient["estimateContractGas"]
    >[0]);
    return (gas * 12n) / 10n;
  } catch (err) {
    const reverted = err instanceof BaseError ? err.walk((e) => e instanceof ContractFunctionRevertedError) : null;
    if (reverted instanceof ContractFunctionRevertedError) {
      const name = reverted.data?.errorName ?? "unknown";
      const args = reverted.data?.args ? `(${reverted.data.args.map(String).join(", ")})` : "";
      throw new AnchorRevertError(name, `${call.functionName} would revert: ${name}${args}`, { cause: err });
    }
    throw err;
  }
}

/** Broadcasts a journaled transaction; a node that already has it is not an error. */
export async function broadcast(chain: AnchorChain, rawTx: Hex): Promise<"sent" | "known" | "nonce-used"> {
  try {
    await chain.client.sendRawTransaction({ serializedTransaction: rawTx });
    return "sent";
  } catch (err) {
    const text = err instanceof BaseError ? `${err.details ?? ""} ${err.shortMessage}` : String(err);
    if (/already known|known transaction|already imported|already in the mempool/i.test(text)) return "known";
    if (/nonce too low|nonce has already been used|is lower than the current nonce|replacement transaction underpriced/i.test(text)) return "nonce-used";
    throw err;
  }
}

export async function receiptOf(chain: AnchorChain, txHash: Hex): Promise<{ status: "success" | "reverted"; blockNumber: bigint; blockHash: Hex } | null> {
  try {
    const r = await chain.client.getTransactionReceipt({ hash: txHash });
    return { status: r.status, blockNumber: r.blockNumber, blockHash: r.blockHash };
  } catch (err) {
    if (err instanceof BaseError && err.name === "TransactionReceiptNotFoundError") return null;
    throw err;
  }
}

export async function waitForReceipt(chain: AnchorChain, txHash: Hex, timeoutMs: number): ReturnType<typeof receiptOf> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await receiptOf(chain, txHash);
    if (r || Date.now() >= deadline) return r;
    await new Promise((resolve) => setTimeout(resolve, Math.min(250, Math.max(10, deadline - Date.now()))));
  }
}

/** Blocks per eth_getLogs request when searching for an anchor event (public RPCs cap the range). */
export const EVENT_SCAN_BLOCKS = 10_000n;

/**
 * Where an anchor event for this plan or document already is on chain (any sender's), or null.
 * Scans from the head back to the anchor's deploy block in bounded ranges, newest first (a
 * missing anchor is usually recent).
 */
export async function findAnchorEvent(
  chain: AnchorChain,
  job: { kind: "plan"; tenantId: number; hash: Hex; effectiveFrom: bigint } | { kind: "document"; tenantId: number; hash: Hex; previousHash: Hex },
): Promise<{ blockNumber: bigint; blockHash: Hex; txHash: Hex } | null> {
  if (job.kind === "document") {
    // The common case costs one call: while the tenant's head is still this document's previous
    // one, the document cannot be on chain.
    const head = await chain.client.readContract({ address: chain.anchor, abi: invoiceAnchorAbi, functionName: "lastDocument", args: [job.tenantId] });
    if (head.toLowerCase() === job.previousHash.toLowerCase()) return null;
  }
  // No cache: viem caches the block number for a polling interval, and the anchor may be seconds old.
  const latest = await chain.client.getBlockNumber({ cacheTime: 0 });
  const step = chain.scanBlocks ?? EVENT_SCAN_BLOCKS;
  for (let to = latest; to >= chain.fromBlock; to -= step) {
    const from = to - step + 1n > chain.fromBlock ? to - step + 1n : chain.fromBlock;
    const logs =
      job.kind === "plan"
        ? (await chain.client.getContractEvents({ address: chain.anchor, abi: invoiceAnchorAbi, eventName: "PlanAnchored", args: { tenantId: job.tenantId, planHash: job.hash }, fromBlock: from, toBlock: to })).filter(
            (l) => l.args.effectiveFrom === job.effectiveFrom,
          )
        : await chain.client.getContractEvents({ address: chain.anchor, abi: invoiceAnchorAbi, eventName: "DocumentAnchored", args: { tenantId: job.tenantId, contentHash: job.hash }, fromBlock: from, toBlock: to });
    const log = logs.find((l) => l.blockHash !== null && l.transactionHash !== null);
    if (log) return { blockNumber: log.blockNumber!, blockHash: log.blockHash!, txHash: log.transactionHash! };
    if (from === chain.fromBlock) break;
  }
  return null;
}
