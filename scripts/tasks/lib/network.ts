/**
 * How a task finds its chain and deployment record. The `localhost` network's URL is resolved in
 * hardhat.config.ts (METERLINE_RPC_URL, else the running `npm start` stack); here, the record:
 * METERLINE_DEPLOYMENT, else the running stack's when the network is that stack's RPC, else
 * `<METERLINE_DEPLOYMENTS_DIR or deployments>/<chainId>.json`.
 */
import type { HardhatRuntimeEnvironment } from "hardhat/types";
import { DeploymentFileError, type Deployment } from "../../../chain/deployment";
import { resolveDeploymentFile } from "../../../chain/local-stack";

/** The JSON-RPC URL of the selected network, or undefined for the in-process `hardhat` network. */
export function networkUrl(hre: HardhatRuntimeEnvironment): string | undefined {
  const config = hre.network.config as { url?: unknown };
  return typeof config.url === "string" ? config.url : undefined;
}

/** The deployment record of `chainId` for the selected network (see the module comment). */
export function findTaskDeployment(hre: HardhatRuntimeEnvironment, chainId: number): { file: string; deployment: Deployment | undefined } {
  // METERLINE_HOME and METERLINE_DEPLOYMENT relative to the repository root, as in hardhat.config.ts.
  return resolveDeploymentFile(chainId, networkUrl(hre), process.env, hre.config.paths.root);
}

export function readTaskDeployment(hre: HardhatRuntimeEnvironment, chainId: number): Deployment {
  const { file, deployment } = findTaskDeployment(hre, chainId);
  if (!deployment) {
    throw new DeploymentFileError(`no UsageMeter deployment for chain ${chainId} (${file}): run meter:deploy first, set METERLINE_DEPLOYMENT to the deployment file, or METERLINE_HOME to the running stack's home`);
  }
  return deployment;
}
