import { task, types } from "hardhat/config";
import type { HardhatRuntimeEnvironment } from "hardhat/types";
import type { Interface } from "ethers";
import { bytes32ToText } from "../../chain/hex";
import { ROLES } from "../../chain/roles";
import { reportingErrors, TaskInputError } from "./lib/errors";
import {
  executeOrPropose,
  openSigningMeter,
  signatureOf,
  type CallOutcome,
  type PlannedCall,
  type SigningMeterContext,
} from "./lib/meter-context";
import { addressSchema, nameListSchema, parseParam, shortStringSchema, tenantRefSchema, type TenantRef } from "./lib/params";
import { z } from "zod";

const ACTIONS = ["register", "meters", "authorize", "revoke"] as const;
type Action = (typeof ACTIONS)[number];

interface TenantArgs {
  action?: string;
  name?: string;
  tenant?: string;
  meters?: string;
  reporter?: string;
}

export type TenantResult =
  | { action: "register"; outcome: CallOutcome; tenantId?: number }
  | { action: "meters"; outcome: CallOutcome; tenantId: number; meterIds: Array<{ name: string; meterId: number }> }
  | { action: "authorize" | "revoke"; outcome: CallOutcome; tenantId: number; reporter: string };

const MANAGER = { kind: "role", role: ROLES.TENANT_MANAGER_ROLE, roleName: "TENANT_MANAGER_ROLE" } as const;

function required(flag: string, value: string | undefined, action: Action): string {
  if (value === undefined) throw new TaskInputError(`--${flag} is required for "${action}"`);
  return value;
}

async function resolveTenant(ctx: SigningMeterContext, ref: TenantRef): Promise<{ id: number; name: string }> {
  if (ref.kind === "name") {
    const id = Number(await ctx.meter.tenantIdByName(ref.name.bytes32));
    if (id === 0) throw new TaskInputError(`--tenant: no tenant named "${ref.name.text}"`);
    return { id, name: ref.name.text };
  }
  const [name] = await ctx.meter.getTenant(ref.id);
  if (/^0x0{64}$/.test(name)) throw new TaskInputError(`--tenant: tenant ${ref.id} does not exist`);
  return { id: ref.id, name: bytes32ToText(name as `0x${string}`) };
}

async function register(ctx: SigningMeterContext, args: TenantArgs): Promise<TenantResult> {
  const name = parseParam("name", shortStringSchema, required("name", args.name, "register"));
  const existing = Number(await ctx.meter.tenantIdByName(name.bytes32));
  if (existing !== 0) throw new TaskInputError(`--name: "${name.text}" is already tenant ${existing}`);
  const outcome = await executeOrPropose(ctx, {
    fn: "registerTenant",
    args: [name.bytes32],
    signature: signatureOf(ctx.meter, "registerTenant"),
    described: [["name", `"${name.text}" (${name.bytes32})`]],
    authority: MANAGER,
    blockedWhilePaused: true,
  });
  if (outcome.kind !== "sent") return { action: "register", outcome };
  const event = outcome.events.find((e) => e.name === "TenantRegistered");
  const tenantId = Number(event?.args.tenantId);
  console.log(`tenant ${tenantId} "${name.text}" registered (tx ${outcome.txHash})`);
  return { action: "register", outcome, tenantId };
}

async function registerMeters(ctx: SigningMeterContext, args: TenantArgs): Promise<TenantResult> {
  const ref = parseParam("tenant", tenantRefSchema, required("tenant", args.tenant, "meters"));
  const names = parseParam("meters", nameListSchema, required("meters", args.meters, "meters"));
  const tenant = await resolveTenant(ctx, ref);
  for (const name of names) {
    const existing = Number(await ctx.meter.meterIdByName(tenant.id, name.bytes32));
    if (existing !== 0) throw new TaskInputError(`--meters: tenant ${tenant.id} already has meter "${name.text}" (id ${existing})`);
  }
  // Several meters go in one multicall transaction, so either all are registered or none.
  const iface = ctx.meter.interface as Interface;
  const single = names.length === 1 && names[0];
  const call: PlannedCall = single
    ? {
        fn: "registerMeter",
        args: [tenant.id, single.bytes32],
        signature: signatureOf(ctx.meter, "registerMeter"),
        described: [
          ["tenantId", `${tenant.id} ("${tenant.name}")`],
          ["name", `"${single.text}" (${single.bytes32})`],
        ],
        authority: MANAGER,
        blockedWhilePaused: true,
      }
    : {
        fn: "multicall",
        args: [names.map((n) => iface.encodeFunctionData("registerMeter", [tenant.id, n.bytes32]))],
        signature: signatureOf(ctx.meter, "multicall"),
        described: names.map((n, i): [string, string] => [
          `data[${i}]`,
          `registerMeter(tenantId=${tenant.id}, name="${n.text}")`,
        ]),
        authority: MANAGER,
        blockedWhilePaused: true,
      };
  const outcome = await executeOrPropose(ctx, call);
  if (outcome.kind !== "sent") return { action: "meters", outcome, tenantId: tenant.id, meterIds: [] };
  const meterIds = outcome.events
    .filter((e) => e.name === "MeterRegistered")
    .map((e) => ({
      name: bytes32ToText(String(e.args.name) as `0x${string}`),
      meterId: Number(e.args.meterId),
    }));
  for (const m of meterIds) console.log(`tenant ${tenant.id} meter ${m.meterId} "${m.name}" registered`);
  console.log(`tx ${outcome.txHash}`);
  return { action: "meters", outcome, tenantId: tenant.id, meterIds };
}

async function setReporter(ctx: SigningMeterContext, args: TenantArgs, action: "authorize" | "revoke"): Promise<TenantResult> {
  const ref = parseParam("tenant", tenantRefSchema, required("tenant", args.tenant, action));
  const reporter = parseParam("reporter", addressSchema, required("reporter", args.reporter, action));
  const tenant = await resolveTenant(ctx, ref);
  const [authorized] = await ctx.meter.getReporter(tenant.id, reporter);
  if (action === "authorize" && authorized) {
    throw new TaskInputError(`--reporter: ${reporter} is already authorized for tenant ${tenant.id}`);
  }
  if (action === "revoke" && !authorized) {
    throw new TaskInputError(`--reporter: ${reporter} is not authorized for tenant ${tenant.id}`);
  }
  const fn = action === "authorize" ? "authorizeReporter" : "revokeReporter";
  const described: Array<[string, string]> = [
    ["tenantId", `${tenant.id} ("${tenant.name}")`],
    ["reporter", reporter],
  ];
  // Revocation only removes privilege, so the contract allows it while paused (a leaked reporter
  // key is revoked during the incident); authorization stays blocked until unpause.
  const call: PlannedCall = {
    fn,
    args: [tenant.id, reporter],
    signature: signatureOf(ctx.meter, fn),
    described,
    authority: MANAGER,
    blockedWhilePaused: action === "authorize",
  };
  const outcome = await executeOrPropose(ctx, call);
  if (outcome.kind === "sent") {
    console.log(
      `reporter ${reporter} ${action === "authorize" ? "authorized for" : "revoked from"} tenant ${tenant.id} (tx ${outcome.txHash})`,
    );
  }
  return { action, outcome, tenantId: tenant.id, reporter };
}

async function tenantAction(args: TenantArgs, hre: HardhatRuntimeEnvironment): Promise<TenantResult> {
  const action = parseParam("action", z.enum(ACTIONS, { message: `must be one of ${ACTIONS.join(", ")}` }), args.action);
  const ctx = await openSigningMeter(hre);
  switch (action) {
    case "register":
      return register(ctx, args);
    case "meters":
      return registerMeters(ctx, args);
    case "authorize":
    case "revoke":
      return setReporter(ctx, args, action);
  }
}

task("meter:tenant", "Registers tenants and meters; authorizes or revokes reporters (needs TENANT_MANAGER_ROLE)")
  // Optional for Hardhat so that a missing action gets the same one-line error as a wrong one
  // (Hardhat's own HH error prints a stack trace on headless Linux); the help text says required.
  .addOptionalPositionalParam(
    "action",
    "Required: register (--name) | meters (--tenant --meters) | authorize (--tenant --reporter) | revoke (--tenant --reporter)",
    undefined,
    types.string,
  )
  .addOptionalParam("name", "register: the new tenant's name (1-31 bytes)", undefined, types.string)
  .addOptionalParam("tenant", "Tenant id or name", undefined, types.string)
  .addOptionalParam("meters", "meters: comma-separated meter names (1-31 bytes each), registered in one transaction", undefined, types.string)
  .addOptionalParam("reporter", "authorize/revoke: the reporter's address", undefined, types.string)
  .setAction(reportingErrors(tenantAction));
