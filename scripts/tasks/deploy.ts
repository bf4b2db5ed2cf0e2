import { task, types } from "hardhat/config";
import type { HardhatRuntimeEnvironment } from "hardhat/types";
import { ContractFactory, getAddress } from "ethers";
import type { UsageMeter } from "../typechain-types";
import path from "node:path";
import { abiHash, LOCAL_CHAIN_IDS, writeDeployment, type Deployment } from "../../chain/deployment";
import { findTaskDeployment } from "./lib/network";
import { ROLES } from "../../chain/roles";
import { resolveSigner } from "./lib/signer";
import { reportingErrors, TaskChainError, TaskInputError } from "./lib/errors";
import { addressSchema, parseParam, uintSchema } from "./lib/params";
import { describeRevert } from "../../chain/revert";
import { checkAdminAccount, productionRules } from "./lib/admin-policy";
import { checkAnchorArgs, deployAnchorBeside } from "./lib/anchor-deploy";

interface DeployArgs {
  admin?: string;
  adminDelay: string;
  minRevealDelay: string;
  maxRevealDelay: string;
  grantManager?: string;
  grantPauser?: string;
  force: boolean;
  allowEoaAdmin: boolean;
  production: boolean;
  grantBiller?: string;
  noAnchor: boolean;
}

export interface DeployResult {
  deployment: Deployment;
  file: string;
  granted: Array<{ role: string; account: string; txHash: string }>;
}

async function deploy(args: DeployArgs, hre: HardhatRuntimeEnvironment): Promise<DeployResult> {
  await checkAnchorArgs(hre, args);
  const adminDelay = parseParam("admin-delay", uintSchema((1n << 48n) - 1n), args.adminDelay);
  const minRevealDelay = parseParam("min-reveal-delay", uintSchema(0xffffffffn), args.minRevealDelay);
  const maxRevealDelay = parseParam("max-reveal-delay", uintSchema(0xffffffffn), args.maxRevealDelay);
  if (minRevealDelay < 1n) throw new TaskInputError("--min-reveal-delay: must be at least 1 block");
  if (maxRevealDelay <= minRevealDelay) {
    throw new TaskInputError(
      `--max-reveal-delay: must be greater than --min-reveal-delay (${minRevealDelay}), got ${maxRevealDelay}`,
    );
  }
  const explicitAdmin = args.admin === undefined ? undefined : parseParam("admin", addressSchema, args.admin);
  const grantManager = args.grantManager === undefined ? undefined : parseParam("grant-manager", addressSchema, args.grantManager);
  const grantPauser = args.grantPauser === undefined ? undefined : parseParam("grant-pauser", addressSchema, args.grantPauser);

  const provider = hre.ethers.provider;
  const chainId = Number((await provider.getNetwork()).chainId);
  const production = productionRules(chainId, args.production);
  if (adminDelay === 0n && production) {
    throw new TaskInputError(
      LOCAL_CHAIN_IDS.has(chainId)
        ? "--admin-delay: 0 is not allowed under --production"
        : `--admin-delay: 0 is only allowed on local chains (31337, 1337), this is chain ${chainId}`,
    );
  }
  const { signer, address: signerAddress } = await resolveSigner(hre);
  const admin = explicitAdmin ?? getAddress(signerAddress);
  const { contract: adminIsContract } = await checkAdminAccount({
    provider,
    admin,
    chainId,
    production: args.production,
    allowEoaAdmin: args.allowEoaAdmin,
  });
  if (production && !adminIsContract) {
    console.error(`warning: the admin ${admin} is a single key (--allow-eoa-admin); move it to a multi-signature wallet with meter:roles`);
  }
  if ((grantManager || grantPauser) && admin !== getAddress(signerAddress)) {
    throw new TaskInputError(
      `--grant-manager/--grant-pauser need the signer (${signerAddress}) to be the admin (${admin}); grant later from the admin with meter:roles grant`,
    );
  }

  // The same record the other tasks would read on this network (METERLINE_DEPLOYMENT, a running stack's, or deployments/).
  const { file: recordFile, deployment: existing } = findTaskDeployment(hre, chainId);
  if (existing && !args.force && (await provider.getCode(existing.address)) !== "0x") {
    throw new TaskInputError(`chain ${chainId} already has UsageMeter at ${existing.address} (${recordFile}); pass --force to deploy a new one`);
  }

  await hre.run("compile", { quiet: true });
  const artifact = await hre.artifacts.readArtifact("UsageMeter");
  const factory = new ContractFactory(artifact.abi, artifact.bytecode, signer);
  const ctorArgs = [adminDelay, admin, minRevealDelay, maxRevealDelay] as const;
  let meter: UsageMeter;
  try {
    meter = (await factory.deploy(...ctorArgs)) as unknown as UsageMeter;
  } catch (err) {
    throw new TaskChainError(`deployment failed: ${describeRevert(err)}`);
  }
  const deployTx = meter.deploymentTransaction();
  const receipt = deployTx ? await deployTx.wait() : null;
  if (!receipt || receipt.status !== 1 || !receipt.contractAddress) {
    throw new TaskChainError(`deployment transaction ${deployTx?.hash ?? "?"} failed`);
  }

  const deployment: Deployment = {
    chainId,
    contract: "UsageMeter",
    address: getAddress(receipt.contractAddress) as Deployment["address"],
    deployBlock: receipt.blockNumber,
    deployBlockHash: receipt.blockHash as Deployment["deployBlockHash"],
    txHash: receipt.hash as Deployment["txHash"],
    constructorArgs: {
      adminDelay: Number(adminDelay),
      admin: admin as Deployment["constructorArgs"]["admin"],
      minRevealDelay: Number(minRevealDelay),
      maxRevealDelay: Number(maxRevealDelay),
    },
    abiHash: abiHash(artifact.abi),
  };
  // Write before the grants: the contract exists now, and a failed grant can be redone with meter:roles.
  const file = writeDeployment(deployment, path.dirname(recordFile), path.basename(recordFile));
  console.log(`UsageMeter deployed on chain ${chainId} at ${deployment.address} (block ${deployment.deployBlock}, tx ${deployment.txHash})`);
  console.log(`wrote ${file}`);

  const granted: DeployResult["granted"] = [];
  const grants: Array<[keyof typeof ROLES, string | undefined]> = [
    ["TENANT_MANAGER_ROLE", grantManager],
    ["PAUSER_ROLE", grantPauser],
  ];
  for (const [roleName, account] of grants) {
    if (!account) continue;
    const tx = await meter.connect(signer).grantRole(ROLES[roleName], account);
    const r = await tx.wait();
    granted.push({ role: roleName, account, txHash: r?.hash ?? tx.hash });
    console.log(`granted ${roleName} to ${account} (tx ${r?.hash ?? tx.hash})`);
  }
  // InvoiceAnchor is deployed next to UsageMeter (same admin and delay) and recorded in the same file.
  if (!args.noAnchor) {
    const anchored = await deployAnchorBeside(hre, { deployment, admin, adminDelay, grantBiller: args.grantBiller, grantPauser });
    deployment.anchor = anchored.anchor;
    granted.push(...anchored.granted);
  }
  return { deployment, file, granted };
}

task("meter:deploy", "Deploys UsageMeter and its companion InvoiceAnchor and writes deployments/<chainId>.json")
  .addOptionalParam("admin", "Initial default admin: a Safe or other ERC-1271 wallet on any non-local chain; defaults to the signer", undefined, types.string)
  .addOptionalParam(
    "adminDelay",
    "Delay in seconds of a default-admin transfer (0 only on local chains)",
    "86400",
    types.string,
  )
  .addOptionalParam("minRevealDelay", "Blocks a commitment must age before it can be revealed (>= 1)", "1", types.string)
  .addOptionalParam(
    "maxRevealDelay",
    "Blocks after which an unrevealed commitment expires (> min reveal delay)",
    "7200",
    types.string,
  )
  .addOptionalParam("grantManager", "Grant TENANT_MANAGER_ROLE to this address after deploying", undefined, types.string)
  .addOptionalParam("grantPauser", "Grant PAUSER_ROLE to this address after deploying", undefined, types.string)
  .addFlag("force", "Deploy even if deployments/<chainId>.json points at a live contract")
  .addFlag("allowEoaAdmin", "Accept a single key (an externally owned account) as admin on a non-local chain")
  .addFlag("production", "Apply production rules on a local chain id too (rehearsing on a fork)")
  .addOptionalParam("grantBiller", "Grant the InvoiceAnchor's BILLER_ROLE to this address (billing's signer) after deploying", undefined, types.string)
  .addFlag("noAnchor", "Deploy UsageMeter alone, without its companion InvoiceAnchor")
  .setAction(reportingErrors(deploy));
