/**
 * InvoiceAnchor's admin tasks: who may anchor (BILLER_ROLE, the billing service's key) and who may
 * stop anchoring (PAUSER_ROLE), and pausing/unpausing it. Same rules as UsageMeter's tasks: when the
 * signer lacks the authority, the transaction is printed for a multisig owner (exit 2).
 */
import { getAddress } from "ethers";
import { task, types } from "hardhat/config";
import type { HardhatRuntimeEnvironment } from "hardhat/types";
import { z } from "zod";
import { fetchAnchorEvents, anchorRoleHolders } from "../audit/anchor-audit";
import { ANCHOR_ROLES, anchorRoleByName, anchorRoleLabel } from "../../chain/roles";
import { LOCAL_CHAIN_IDS, writeDeployment, type AnchorDeployment } from "../../chain/deployment";
import { deployInvoiceAnchor, openAnchor, openSigningAnchor } from "./lib/anchor-context";
import { reportingErrors, TaskChainError, TaskInputError } from "./lib/errors";
import { openMeter } from "./lib/meter-context";
import { resolveSigner } from "./lib/signer";
import { executeOrPropose, signatureOf, type Authority, type CallOutcome } from "./lib/meter-context";
import { addressSchema, parseParam, uintSchema } from "./lib/params";

const ADMIN: Authority = { kind: "role", role: ANCHOR_ROLES.DEFAULT_ADMIN_ROLE, roleName: "DEFAULT_ADMIN_ROLE (the anchor's default admin)" };

const roleSchema = z
  .string({ required_error: "is required" })
  .transform((s, ctx) => {
    const role = anchorRoleByName(s);
    if (!role) ctx.addIssue({ code: z.ZodIssueCode.custom, message: `unknown role "${s}" (BILLER_ROLE or PAUSER_ROLE)` });
    return role ?? "BILLER_ROLE";
  });

interface GrantArgs {
  role?: string;
  account?: string;
}

export interface AnchorRoleListing {
  anchor: string;
  defaultAdmin: string;
  paused: boolean;
  holders: Record<string, string[]>;
}

async function listRoles(_args: unknown, hre: HardhatRuntimeEnvironment): Promise<AnchorRoleListing> {
  const { anchor, anchorDeployment, chainId } = await openAnchor(hre);
  const head = await hre.ethers.provider.getBlockNumber();
  const events = await fetchAnchorEvents(hre.ethers.provider, anchorDeployment.address, anchorDeployment.deployBlock, head);
  const [defaultAdmin, paused] = await Promise.all([anchor.defaultAdmin({ blockTag: head }), anchor.paused({ blockTag: head })]);
  const holders: Record<string, string[]> = {};
  for (const [role, accounts] of anchorRoleHolders(events)) if (role !== ANCHOR_ROLES.DEFAULT_ADMIN_ROLE) holders[anchorRoleLabel(role)] = accounts;
  console.log(`InvoiceAnchor ${anchorDeployment.address} on chain ${chainId} at block ${head}`);
  console.log(`default admin:  ${defaultAdmin}`);
  console.log(`paused:         ${paused ? "yes" : "no"}`);
  for (const [role, accounts] of Object.entries(holders)) console.log(`${`${role}:`.padEnd(16)}${accounts.length === 0 ? "(none)" : accounts.join(", ")}`);
  return { anchor: anchorDeployment.address, defaultAdmin, paused, holders };
}

async function grantOrRevoke(args: GrantArgs, hre: HardhatRuntimeEnvironment, action: "grant" | "revoke"): Promise<CallOutcome> {
  const roleName = parseParam("role", roleSchema, args.role);
  const account = parseParam("account", addressSchema, args.account);
  const { anchor, call } = await openSigningAnchor(hre);
  const holds = await anchor.hasRole(ANCHOR_ROLES[roleName], account);
  if (action === "grant" && holds) throw new TaskInputError(`${account} already holds the anchor's ${roleName}`);
  if (action === "revoke" && !holds) throw new TaskInputError(`${account} does not hold the anchor's ${roleName}`);
  const fn = action === "grant" ? "grantRole" : "revokeRole";
  const outcome = await executeOrPropose(call, {
    fn,
    args: [ANCHOR_ROLES[roleName], account],
    signature: signatureOf(call.meter, fn),
    described: [
      ["role", `${roleName} (${ANCHOR_ROLES[roleName]})`],
      ["account", account],
    ],
    authority: ADMIN,
  });
  if (outcome.kind === "sent") {
    console.log(`${action === "grant" ? "granted" : "revoked"} the anchor's ${roleName} ${action === "grant" ? "to" : "from"} ${account} (tx ${outcome.txHash})`);
  }
  return outcome;
}

async function pauseAnchor(_args: unknown, hre: HardhatRuntimeEnvironment): Promise<CallOutcome> {
  const { anchor, call } = await openSigningAnchor(hre);
  if (await anchor.paused()) throw new TaskInputError("InvoiceAnchor is already paused");
  const outcome = await executeOrPropose(call, {
    fn: "pause",
    args: [],
    signature: signatureOf(call.meter, "pause"),
    described: [],
    authority: { kind: "role", role: ANCHOR_ROLES.PAUSER_ROLE, roleName: "PAUSER_ROLE (the anchor's)" },
  });
  if (outcome.kind === "sent") console.log(`InvoiceAnchor paused (tx ${outcome.txHash}); billing's anchor jobs wait until meter:anchor-unpause`);
  return outcome;
}

async function unpauseAnchor(_args: unknown, hre: HardhatRuntimeEnvironment): Promise<CallOutcome> {
  const { anchor, call } = await openSigningAnchor(hre);
  if (!(await anchor.paused())) throw new TaskInputError("InvoiceAnchor is not paused");
  const outcome = await executeOrPropose(call, { fn: "unpause", args: [], signature: signatureOf(call.meter, "unpause"), described: [], authority: ADMIN });
  if (outcome.kind === "sent") console.log(`InvoiceAnchor unpaused (tx ${outcome.txHash})`);
  return outcome;
}

interface AnchorDeployArgs {
  admin?: string;
  adminDelay: string;
  grantBiller?: string;
  force: boolean;
}

/**
 * Adds InvoiceAnchor to an existing UsageMeter deployment (one made before the anchor existed, or
 * with --no-anchor), recording it in the same deployment file.
 */
async function deployAnchorOnly(args: AnchorDeployArgs, hre: HardhatRuntimeEnvironment): Promise<AnchorDeployment> {
  const adminDelay = parseParam("admin-delay", uintSchema((1n << 48n) - 1n), args.adminDelay);
  const explicitAdmin = args.admin === undefined ? undefined : parseParam("admin", addressSchema, args.admin);
  const grantBiller = args.grantBiller === undefined ? undefined : parseParam("grant-biller", addressSchema, args.grantBiller);
  const { deployment, chainId } = await openMeter(hre);
  if (adminDelay === 0n && !LOCAL_CHAIN_IDS.has(chainId)) throw new TaskInputError(`--admin-delay: 0 is only allowed on local chains (31337, 1337), this is chain ${chainId}`);
  const signer = await resolveSigner(hre);
  const admin = explicitAdmin ?? getAddress(signer.address);
  if (grantBiller && admin !== getAddress(signer.address)) {
    throw new TaskInputError(`--grant-biller needs the signer (${signer.address}) to be the admin (${admin}); grant later from the admin with meter:anchor-grant`);
  }
  if (deployment.anchor && !args.force && (await hre.ethers.provider.getCode(deployment.anchor.address)) !== "0x") {
    throw new TaskInputError(`chain ${chainId} already has InvoiceAnchor at ${deployment.anchor.address}; pass --force to deploy a new one (verifiers keep the old address)`);
  }
  await hre.run("compile", { quiet: true });
  const anchor = await deployInvoiceAnchor(hre, signer, deployment, admin, adminDelay);
  const file = writeDeployment({ ...deployment, anchor });
  console.log(`InvoiceAnchor deployed on chain ${chainId} at ${anchor.address} for UsageMeter ${deployment.address} (block ${anchor.deployBlock}, tx ${anchor.txHash})`);
  console.log(`wrote ${file} (anchor)`);
  if (grantBiller) {
    const { call } = await openSigningAnchor(hre);
    const outcome = await executeOrPropose(call, {
      fn: "grantRole",
      args: [ANCHOR_ROLES.BILLER_ROLE, grantBiller],
      signature: signatureOf(call.meter, "grantRole"),
      described: [["role", "BILLER_ROLE"], ["account", grantBiller]],
      authority: ADMIN,
    });
    if (outcome.kind !== "sent") throw new TaskChainError("granting BILLER_ROLE did not go through; redo it with meter:anchor-grant");
    console.log(`granted the anchor's BILLER_ROLE to ${grantBiller} (tx ${outcome.txHash})`);
  }
  return anchor;
}

task("meter:anchor-deploy", "Deploys InvoiceAnchor for the UsageMeter of deployments/<chainId>.json and records it there (meter:deploy does both at once)")
  .addOptionalParam("admin", "The anchor's default admin (a multisig in production); defaults to the signer", undefined, types.string)
  .addOptionalParam("adminDelay", "Delay in seconds of a default-admin transfer (0 only on local chains)", "86400", types.string)
  .addOptionalParam("grantBiller", "Grant BILLER_ROLE to this address (billing's signer) after deploying", undefined, types.string)
  .addFlag("force", "Deploy even if the deployment file already names a live InvoiceAnchor")
  .setAction(reportingErrors(deployAnchorOnly));

task("meter:anchor-roles", "Lists InvoiceAnchor's admin, pause state and role holders (BILLER_ROLE, PAUSER_ROLE) from events").setAction(reportingErrors(listRoles));

task("meter:anchor-grant", "Grants an InvoiceAnchor role (default admin only): BILLER_ROLE to the billing service's key, or PAUSER_ROLE")
  .addParam("role", "BILLER_ROLE (biller) or PAUSER_ROLE (pauser)", undefined, types.string)
  .addParam("account", "The account (for BILLER_ROLE: the address of BILLING_SIGNER_KEY)", undefined, types.string)
  .setAction(reportingErrors((args: GrantArgs, hre) => grantOrRevoke(args, hre, "grant")));

task("meter:anchor-revoke", "Revokes an InvoiceAnchor role (default admin only), e.g. a leaked billing key's BILLER_ROLE")
  .addParam("role", "BILLER_ROLE (biller) or PAUSER_ROLE (pauser)", undefined, types.string)
  .addParam("account", "The account that holds it", undefined, types.string)
  .setAction(reportingErrors((args: GrantArgs, hre) => grantOrRevoke(args, hre, "revoke")));

task("meter:anchor-pause", "Pauses InvoiceAnchor: no plan or document can be anchored (needs the anchor's PAUSER_ROLE)").setAction(reportingErrors(pauseAnchor));

task("meter:anchor-unpause", "Unpauses InvoiceAnchor (the anchor's default admin only)").setAction(reportingErrors(unpauseAnchor));
