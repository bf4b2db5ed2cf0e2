/**
 * InvoiceAnchor for the tasks: its deployment next to UsageMeter (meter:deploy), and opening the
 * deployed anchor to send admin calls through the same check-authority / propose / simulate /
 * send path as UsageMeter's tasks.
 */
import { Contract, ContractFactory, getAddress } from "ethers";
import type { HardhatRuntimeEnvironment } from "hardhat/types";
import type { InvoiceAnchor, UsageMeter } from "../../typechain-types";
import { abiHash, readDeployment, type AnchorDeployment, type Deployment } from "../../../chain/deployment";
import { invoiceAnchorAbi } from "../../../chain/abi.generated";
import { describeRevert } from "../../../chain/revert";
import { TaskChainError } from "./errors";
import type { SigningMeterContext } from "./meter-context";
import { resolveSigner, type ResolvedSigner } from "./signer";

/** Deploys InvoiceAnchor for `meter` with `admin` as default admin; returns its deployment record. */
export async function deployInvoiceAnchor(
  hre: HardhatRuntimeEnvironment,
  signer: ResolvedSigner,
  meter: Deployment,
  admin: string,
  adminDelay: bigint,
): Promise<AnchorDeployment> {
  const artifact = await hre.artifacts.readArtifact("InvoiceAnchor");
  const factory = new ContractFactory(artifact.abi, artifact.bytecode, signer.signer);
  let contract;
  try {
    contract = await factory.deploy(adminDelay, admin, meter.address);
  } catch (err) {
    throw new TaskChainError(`InvoiceAnchor deployment failed: ${describeRevert(err)}`);
  }
  const tx = contract.deploymentTransaction();
  const receipt = tx ? await tx.wait() : null;
  if (!receipt || receipt.status !== 1 || !receipt.contractAddress) {
    throw new TaskChainError(`InvoiceAnchor deployment transaction ${tx?.hash ?? "?"} failed`);
  }
  return {
    contract: "InvoiceAnchor",
    address: getAddress(receipt.contractAddress) as AnchorDeployment["address"],
    deployBlock: receipt.blockNumber,
    deployBlockHash: receipt.blockHash as AnchorDeployment["deployBlockHash"],
    txHash: receipt.hash as AnchorDeployment["txHash"],
    constructorArgs: {
      adminDelay: Number(adminDelay),
      admin: getAddress(admin) as AnchorDeployment["constructorArgs"]["admin"],
      usageMeter: meter.address,
    },
    abiHash: abiHash(artifact.abi),
  };
}

export interface AnchorContext {
  chainId: number;
  deployment: Deployment;
  anchorDeployment: AnchorDeployment;
  /** Read-only: bound to the provider. */
  anchor: InvoiceAnchor;
}

export async function openAnchor(hre: HardhatRuntimeEnvironment): Promise<AnchorContext> {
  const provider = hre.ethers.provider;
  const chainId = Number((await provider.getNetwork()).chainId);
  const deployment = readDeployment(chainId);
  const anchorDeployment = deployment.anchor;
  if (!anchorDeployment) {
    throw new TaskChainError(`the deployment of chain ${chainId} has no InvoiceAnchor; deploy one with meter:deploy (it deploys both)`);
  }
  if ((await provider.getCode(anchorDeployment.address)) === "0x") {
    throw new TaskChainError(`no contract at the anchor's address ${anchorDeployment.address} on chain ${chainId} (stale deployments file or reset node?)`);
  }
  const anchor = new Contract(anchorDeployment.address, invoiceAnchorAbi, provider) as unknown as InvoiceAnchor;
  return { chainId, deployment, anchorDeployment, anchor };
}

/**
 * A context for executeOrPropose aimed at the anchor. executeOrPropose reads only the contract's
 * interface, `hasRole`, `paused` and the target address, which InvoiceAnchor shares with UsageMeter
 * (both AccessControlDefaultAdminRules + Pausable), so the anchor stands in for the meter there.
 */
export async function openSigningAnchor(hre: HardhatRuntimeEnvironment): Promise<AnchorContext & { call: SigningMeterContext }> {
  const ctx = await openAnchor(hre);
  const signer = await resolveSigner(hre);
  const call: SigningMeterContext = {
    chainId: ctx.chainId,
    deployment: { ...ctx.deployment, address: ctx.anchorDeployment.address },
    meter: ctx.anchor as unknown as UsageMeter,
    signer,
  };
  return { ...ctx, call };
}
