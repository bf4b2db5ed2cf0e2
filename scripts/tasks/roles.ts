import { task, types } from "hardhat/config";
import type { HardhatRuntimeEnvironment } from "hardhat/types";
import { ZeroAddress } from "ethers";
import { z } from "zod";
import { fetchMeterEvents, roleHoldersFromEvents } from "../audit/chain-audit";
import { ROLES, roleByName, roleLabel, type RoleName } from "../../chain/roles";
import { reportingErrors, TaskChainError, TaskInputError } from "./lib/errors";
import {
  executeOrPropose,
  openMeter,
  openSigningMeter,
  signatureOf,
  type Authority,
  type CallOutcome,
  type SigningMeterContext,
} from "./lib/meter-context";
import { addressSchema, parseParam } from "./lib/params";

const ACTIONS = ["list", "grant", "revoke", "begin-transfer", "accept-transfer", "cancel-transfer"] as const;

interface RolesArgs {
  action: string;
  role?: string;
  account?: string;
}

export interface RoleListing {
  defaultAdmin: string;
  adminDelay: bigint;
  pendingAdmin: { newAdmin: string; schedule: bigint } | null;
  pendingDelay: { newDelay: bigint; schedule: bigint } | null;
  /** Role name (or id for unknown roles) → holders, from RoleGranted/RoleRevoked since the deploy block. */
  holders: Record<string, string[]>;
}

export type RolesResult =
  | { action: "list"; listing: RoleListing }
  | { action: Exclude<(typeof ACTIONS)[number], "list">; outcome: CallOutcome };

const ADMIN: Authority = { kind: "role", role: ROLES.DEFAULT_ADMIN_ROLE, roleName: "DEFAULT_ADMIN_ROLE (the default admin)" };

function iso(seconds: bigint): string {
  return new Date(Number(seconds) * 1000).toISOString();
}

async function list(hre: HardhatRuntimeEnvironment): Promise<RolesResult> {
  const { meter, deployment } = await openMeter(hre);
  const head = await hre.ethers.provider.getBlockNumber();
  const at = { blockTag: head };
  const events = await fetchMeterEvents(hre.ethers.provider, deployment.address, deployment.deployBlock, head);
  const [defaultAdmin, [newAdmin, schedule], adminDelay, [newDelay, delaySchedule]] = await Promise.all([
    meter.defaultAdmin(at),
    meter.pendingDefaultAdmin(at),
    meter.defaultAdminDelay(at),
    meter.pendingDefaultAdminDelay(at),
  ]);
  const holders: Record<string, string[]> = {};
  for (const [role, accounts] of roleHoldersFromEvents(events)) holders[roleLabel(role)] = accounts;
  const listing: RoleListing = {
    defaultAdmin,
    adminDelay,
    pendingAdmin: newAdmin === ZeroAddress ? null : { newAdmin, schedule },
    pendingDelay: delaySchedule === 0n ? null : { newDelay, schedule: delaySchedule },
    holders,
  };
  console.log(`UsageMeter ${deployment.address} on chain ${deployment.chainId} at block ${head}`);
  console.log(`default admin:        ${defaultAdmin} (transfer delay ${adminDelay} s)`);
  console.log(
    `pending admin:        ${listing.pendingAdmin ? `${newAdmin}, acceptable after ${iso(schedule)}` : "none"}`,
  );
  if (listing.pendingDelay) console.log(`pending delay change: ${newDelay} s, effective ${iso(delaySchedule)}`);
  for (const [role, accounts] of Object.entries(holders)) {
    console.log(`${`${role}:`.padEnd(22)}${accounts.length === 0 ? "(none)" : accounts.join(", ")}`);
  }
  return { action: "list", listing };
}

function parseRole(value: string | undefined): RoleName {
  if (value === undefined) throw new TaskInputError("--role is required (PAUSER_ROLE or TENANT_MANAGER_ROLE)");
  const role = roleByName(value);
  if (!role) throw new TaskInputError(`--role: unknown role "${value}" (PAUSER_ROLE or TENANT_MANAGER_ROLE)`);
  if (role === "DEFAULT_ADMIN_ROLE") {
    throw new TaskInputError("--role: the default admin changes only through begin-transfer / accept-transfer");
  }
  return role;
}

function requiredAccount(value: string | undefined): string {
  if (value === undefined) throw new TaskInputError("--account is required");
  return parseParam("account", addressSchema, value);
}

async function grantOrRevoke(ctx: SigningMeterContext, args: RolesArgs, action: "grant" | "revoke"): Promise<RolesResult> {
  const roleName = parseRole(args.role);
  const account = requiredAccount(args.account);
  const holds = await ctx.meter.hasRole(ROLES[roleName], account);
  if (action === "grant" && holds) throw new TaskInputError(`${account} already holds ${roleName}`);
  if (action === "revoke" && !holds) throw new TaskInputError(`${account} does not hold ${roleName}`);
  const fn = action === "grant" ? "grantRole" : "revokeRole";
  const outcome = await executeOrPropose(ctx, {
    fn,
    args: [ROLES[roleName], account],
    signature: signatureOf(ctx.meter, fn),
    described: [
      ["role", `${roleName} (${ROLES[roleName]})`],
      ["account", account],
    ],
    authority: ADMIN,
  });
  if (outcome.kind === "sent") {
    console.log(`${action === "grant" ? "granted" : "revoked"} ${roleName} ${action === "grant" ? "to" : "from"} ${account} (tx ${outcome.txHash})`);
  }
  return { action, outcome };
}

async function beginTransfer(ctx: SigningMeterContext, args: RolesArgs): Promise<RolesResult> {
  const account = requiredAccount(args.account);
  const current = await ctx.meter.defaultAdmin();
  if (account === current) throw new TaskInputError(`--account: ${account} is already the default admin`);
  const outcome = await executeOrPropose(ctx, {
    fn: "beginDefaultAdminTransfer",
    args: [account],
    signature: signatureOf(ctx.meter, "beginDefaultAdminTransfer"),
    described: [["newAdmin", account]],
    authority: ADMIN,
  });
  if (outcome.kind === "sent") {
    const [, schedule] = await ctx.meter.pendingDefaultAdmin();
    console.log(
      `admin transfer to ${account} begun (tx ${outcome.txHash}); ${account} may run meter:roles accept-transfer after ${iso(schedule)}`,
    );
  }
  return { action: "begin-transfer", outcome };
}

async function acceptTransfer(ctx: SigningMeterContext): Promise<RolesResult> {
  const [newAdmin, schedule] = await ctx.meter.pendingDefaultAdmin();
  if (newAdmin === ZeroAddress) throw new TaskChainError("no admin transfer is pending");
  const now = BigInt((await ctx.signer.signer.provider!.getBlock("latest"))!.timestamp);
  const isPendingAdmin = newAdmin.toLowerCase() === ctx.signer.address.toLowerCase();
  if (isPendingAdmin && now <= schedule) {
    throw new TaskChainError(`the transfer to ${newAdmin} can be accepted after ${iso(schedule)} (chain time is ${iso(now)})`);
  }
  const outcome = await executeOrPropose(ctx, {
    fn: "acceptDefaultAdminTransfer",
    args: [],
    signature: signatureOf(ctx.meter, "acceptDefaultAdminTransfer"),
    described: [],
    authority: { kind: "account", account: newAdmin, label: `the pending admin (acceptable after ${iso(schedule)})` },
  });
  if (outcome.kind === "sent") console.log(`${newAdmin} is now the default admin (tx ${outcome.txHash})`);
  return { action: "accept-transfer", outcome };
}

async function cancelTransfer(ctx: SigningMeterContext): Promise<RolesResult> {
  const [newAdmin] = await ctx.meter.pendingDefaultAdmin();
  if (newAdmin === ZeroAddress) throw new TaskChainError("no admin transfer is pending");
  const outcome = await executeOrPropose(ctx, {
    fn: "cancelDefaultAdminTransfer",
    args: [],
    signature: signatureOf(ctx.meter, "cancelDefaultAdminTransfer"),
    described: [],
    authority: ADMIN,
  });
  if (outcome.kind === "sent") console.log(`admin transfer to ${newAdmin} cancelled (tx ${outcome.txHash})`);
  return { action: "cancel-transfer", outcome };
}

async function roles(args: RolesArgs, hre: HardhatRuntimeEnvironment): Promise<RolesResult> {
  const action = parseParam("action", z.enum(ACTIONS, { message: `must be one of ${ACTIONS.join(", ")}` }), args.action);
  if (action === "list") return list(hre);
  const ctx = await openSigningMeter(hre);
  switch (action) {
    case "grant":
    case "revoke":
      return grantOrRevoke(ctx, args, action);
    case "begin-transfer":
      return beginTransfer(ctx, args);
    case "accept-transfer":
      return acceptTransfer(ctx);
    case "cancel-transfer":
      return cancelTransfer(ctx);
  }
}

task("meter:roles", "Lists role holders (from events) and the admin; grants/revokes roles; begins/accepts/cancels the admin transfer")
  .addOptionalPositionalParam(
    "action",
    "list | grant (--role --account) | revoke (--role --account) | begin-transfer (--account) | accept-transfer | cancel-transfer",
    "list",
    types.string,
  )
  .addOptionalParam("role", "grant/revoke: PAUSER_ROLE (pauser) or TENANT_MANAGER_ROLE (tenant-manager)", undefined, types.string)
  .addOptionalParam("account", "grant/revoke: the account; begin-transfer: the new admin (a multisig)", undefined, types.string)
  .setAction(reportingErrors(roles));
