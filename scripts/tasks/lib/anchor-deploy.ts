/**
 * meter:deploy's InvoiceAnchor part, kept apart from the UsageMeter deployment: parse its
 * parameters before anything is sent, then deploy the anchor beside the new meter (same admin and
 * admin delay), record it in the deployment file and grant its roles.
 */
import { Contract, getAddress } from "ethers";
import type { HardhatRuntimeEnvironment } from "hardhat/types";
import { writeDeployment, type AnchorDeployment, type Deployment } from "../../../chain/deployment";
import { ANCHOR_ROLES } from "../../../chain/roles";
import { invoiceAnchorAbi } from "../../../chain/abi.generated";
import { deployInvoiceAnchor } from "./anchor-context";
import { TaskChainError, TaskInputError } from "./errors";
import { addressSchema, parseParam } from "./params";
import { resolveSigner } from "./signer";

export interface AnchorDeployArgs {
  admin?: string;
  grantBiller?: string;
  noAnchor: boolean;
}

/** Checks the anchor's parameters up front, so a bad one fails before the meter is deployed. */
export async function checkAnchorArgs(hre: HardhatRuntimeEnvironment, args: AnchorDeployArgs): Promise<void> {
  if (args.grantBiller === undefined) return;
  if (args.noAnchor) throw new TaskInputError("--grant-biller: there is no anchor to grant on with --no-anchor");
  parseParam("grant-biller", addressSchema, args.grantBiller);
  const { address } = await resolveSigner(hre);
  const admin = args.admin === undefined ? getAddress(address) : parseParam("admin", addressSchema, args.admin);
  if (admin !== getAddress(address)) {
    throw new TaskInputError(`--grant-biller needs the signer (${address}) to be the admin (${admin}); grant later from the admin with meter:anchor-grant`);
  }
}

export async function deployAnchorBeside(
  hre: HardhatRuntimeEnvironment,
  opts: { deployment: Deployment; admin: string; adminDelay: bigint; grantBiller?: string; grantPauser?: string },
): Promise<{ anchor: AnchorDeployment; granted: Array<{ role: string; account: string; txHash: string }> }> {
  const signer = await resolveSigner(hre);
  const anchor = await deployInvoiceAnchor(hre, signer, opts.deployment, opts.admin, opts.adminDelay);
  const file = writeDeployment({ ...opts.deployment, anchor });
  console.log(`InvoiceAnchor deployed on chain ${opts.deployment.chainId} at ${anchor.address} (block ${anchor.deployBlock}, tx ${anchor.txHash})`);
  console.log(`wrote ${file} (anchor)`);
  const granted: Array<{ role: string; account: string; txHash: string }> = [];
  const grantBiller = opts.grantBiller === undefined ? undefined : parseParam("grant-biller", addressSchema, opts.grantBiller);
  // The meter's pauser stops anchoring too: one incident responder for both contracts.
  const grantPauser = opts.grantPauser !== undefined && getAddress(opts.admin) === getAddress(signer.address) ? opts.grantPauser : undefined;
  const contract = new Contract(anchor.address, invoiceAnchorAbi, signer.signer);
  for (const [role, account] of [
    ["BILLER_ROLE", grantBiller],
    ["PAUSER_ROLE", grantPauser],
  ] as const) {
    if (!account) continue;
    const tx = (await contract.getFunction("grantRole")(ANCHOR_ROLES[role], account)) as { hash: string; wait(): Promise<{ hash: string; status: number | null } | null> };
    const r = await tx.wait();
    if (!r || r.status !== 1) throw new TaskChainError(`granting the anchor's ${role} to ${account} failed (tx ${tx.hash}); redo it with meter:anchor-grant`);
    granted.push({ role: `anchor ${role}`, account, txHash: r.hash });
    console.log(`granted the anchor's ${role} to ${account} (tx ${r.hash})`);
  }
  return { anchor, granted };
}
