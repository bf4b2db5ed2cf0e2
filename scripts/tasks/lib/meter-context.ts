/**
 * Opens the deployed UsageMeter for a task and sends its writes: check authority first (print a
 * multisig proposal when the signer lacks it), simulate (turn a revert into a one-line error),
 * then send and decode the events.
 */
import { Contract, type Interface, type LogDescription, type TransactionReceipt } from "ethers";
import type { HardhatRuntimeEnvironment } from "hardhat/types";
import type { UsageMeter } from "../../typechain-types";
import type { Deployment } from "../../../chain/deployment";
import { readTaskDeployment } from "./network";
import { resolveSigner, type ResolvedSigner } from "./signer";
import { usageMeterAbi } from "../../../chain/abi.generated";
import { EXIT, TaskChainError } from "./errors";
import { renderProposal, type Proposal } from "./proposal";
import { describeRevert } from "../../../chain/revert";

export interface MeterContext {
  chainId: number;
  deployment: Deployment;
  /** Read-only: bound to the provider. */
  meter: UsageMeter;
}

export interface SigningMeterContext extends MeterContext {
  signer: ResolvedSigner;
}

export async function openMeter(hre: HardhatRuntimeEnvironment): Promise<MeterContext> {
  const provider = hre.ethers.provider;
  const chainId = Number((await provider.getNetwork()).chainId);
  const deployment = readTaskDeployment(hre, chainId);
  const code = await provider.getCode(deployment.address);
  if (code === "0x") {
    throw new TaskChainError(
      `no contract at ${deployment.address} on chain ${chainId} (stale deployments file or reset node?); run meter:deploy`,
    );
  }
  const meter = new Contract(deployment.address, usageMeterAbi, provider) as unknown as UsageMeter;
  return { chainId, deployment, meter };
}

export async function openSigningMeter(hre: HardhatRuntimeEnvironment): Promise<SigningMeterContext> {
  const ctx = await openMeter(hre);
  return { ...ctx, signer: await resolveSigner(hre) };
}

/** Who may send a call: holders of a role, or one specific account (e.g. the pending admin). */
export type Authority =
  | { kind: "role"; role: string; roleName: string }
  /** Every one of these roles, e.g. for an atomic multicall of calls guarded by different roles. */
  | { kind: "roles"; roles: Array<{ role: string; roleName: string }> }
  | { kind: "account"; account: string; label: string };

export interface PlannedCall {
  /** The UsageMeter function name. */
  fn: string;
  args: readonly unknown[];
  /** For people: the function's signature and arguments in words. */
  signature: string;
  described: Array<[string, string]>;
  authority: Authority;
  /** The function is `whenNotPaused`: refuse early with a clear message while paused. */
  blockedWhilePaused?: boolean;
}

export type CallOutcome =
  | { kind: "sent"; txHash: string; receipt: TransactionReceipt; events: LogDescription[] }
  | { kind: "proposed"; proposal: Proposal };

/** `name(type arg, …)` of a UsageMeter function, for proposals. */
export function signatureOf(meter: UsageMeter, fn: string): string {
  const f = (meter.interface as Interface).getFunction(fn);
  if (!f) throw new Error(`UsageMeter has no function ${fn}`);
  return `${f.name}(${f.inputs.map((i) => `${i.type} ${i.name}`.trim()).join(", ")})`;
}

async function mayCall(ctx: SigningMeterContext, authority: Authority): Promise<boolean> {
  if (authority.kind === "account") return authority.account.toLowerCase() === ctx.signer.address.toLowerCase();
  const roles = authority.kind === "role" ? [authority] : authority.roles;
  const held = await Promise.all(roles.map((r) => ctx.meter.hasRole(r.role, ctx.signer.address)));
  return held.every(Boolean);
}

function rolesText(authority: Authority): string {
  if (authority.kind === "role") return authority.roleName;
  if (authority.kind === "roles") {
    const names = authority.roles.map((r) => r.roleName);
    return names.length > 1 ? `${names.slice(0, -1).join(", ")} and ${names.at(-1)}` : (names[0] ?? "");
  }
  return "";
}

/**
 * Sends `call` from the task's signer, or, when the signer lacks the authority, prints the
 * transaction for a multisig owner and sets exit code 2. Throws TaskChainError (nothing sent)
 * when a simulation reverts.
 */
export async function executeOrPropose(ctx: SigningMeterContext, call: PlannedCall): Promise<CallOutcome> {
  const { meter, signer } = ctx;
  const to = ctx.deployment.address;
  const data = (meter.interface as Interface).encodeFunctionData(call.fn, call.args);

  if (call.blockedWhilePaused && (await meter.paused())) {
    throw new TaskChainError(`UsageMeter is paused, ${call.fn} is blocked until the admin runs meter:unpause; nothing was sent`);
  }

  if (!(await mayCall(ctx, call.authority))) {
    const proposal: Proposal = {
      chainId: ctx.chainId,
      to,
      value: 0n,
      data,
      signature: call.signature,
      args: call.described,
      sender:
        call.authority.kind === "account"
          ? `${call.authority.label} ${call.authority.account}`
          : `an account holding ${rolesText(call.authority)}`,
      reason:
        call.authority.kind === "account"
          ? `signer ${signer.address} is not ${call.authority.label} ${call.authority.account}`
          : `signer ${signer.address} does not hold ${rolesText(call.authority)}`,
    };
    console.log(renderProposal(proposal));
    process.exitCode = EXIT.needsProposal;
    return { kind: "proposed", proposal };
  }

  try {
    await signer.signer.call({ to, data, from: signer.address });
  } catch (err) {
    throw new TaskChainError(`${call.fn} would revert: ${describeRevert(err)}; nothing was sent`);
  }

  let receipt: TransactionReceipt | null;
  try {
    const tx = await signer.signer.sendTransaction({ to, data, value: 0n });
    receipt = await tx.wait();
  } catch (err) {
    throw new TaskChainError(`${call.fn} failed: ${describeRevert(err)}`);
  }
  if (!receipt || receipt.status !== 1) throw new TaskChainError(`${call.fn} reverted (tx ${receipt?.hash ?? "?"})`);
  const events: LogDescription[] = [];
  for (const log of receipt.logs) {
    if (log.address.toLowerCase() !== to.toLowerCase()) continue;
    const parsed = meter.interface.parseLog(log);
    if (parsed) events.push(parsed);
  }
  return { kind: "sent", txHash: receipt.hash, receipt, events };
}
