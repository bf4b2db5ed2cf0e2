import { task, types } from "hardhat/config";
import type { HardhatRuntimeEnvironment } from "hardhat/types";
import type { Interface } from "ethers";
import { bytes32ToText } from "../../chain/hex";
import { namingFromKeySource } from "../../chain/name-key";
import { NamingError, plainNaming, type ChainNaming } from "../../chain/naming";
import { ROLES } from "../../chain/roles";
import { openDatabase } from "../../db/connection";
import { recordNames, NameMappingConflictError, type NameMapping } from "../../indexer/store/names";
import { reportingErrors, TaskInputError } from "./lib/errors";
import {
  executeOrPropose,
  openSigningMeter,
  signatureOf,
  type CallOutcome,
  type PlannedCall,
  type SigningMeterContext,
} from "./lib/meter-context";
import { addressSchema, nameListSchema, parseParam, shortStringSchema, tenantRefSchema, type ShortString, type TenantRef } from "./lib/params";
import { z } from "zod";

const ACTIONS = ["register", "meters", "authorize", "revoke"] as const;
type Action = (typeof ACTIONS)[number];

interface TenantArgs {
  action?: string;
  name?: string;
  tenant?: string;
  meters?: string;
  reporter?: string;
  nameKey?: string;
  plainNames?: boolean;
  database?: string;
}

/**
 * How this run names tenants and meters on chain: keyed by default (`--name-key env:VAR|file:path`),
 * plain text only with the explicit `--plain-names` (local development, or a deployment registered
 * before keyed names). Register and meters refuse to guess: one of the two is required.
 */
interface Naming {
  naming: ChainNaming;
  /** Where the mapping of hashes to names is recorded (keyed registrations only). */
  database?: string;
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

/** An on-chain name, with a name the naming refuses reported against the flag that gave it. */
function onchain(what: string, run: () => `0x${string}`): `0x${string}` {
  try {
    return run();
  } catch (err) {
    if (err instanceof NamingError) throw new TaskInputError(`${what}: ${err.message}`);
    throw err;
  }
}

async function namingOf(args: TenantArgs, action: Action): Promise<Naming> {
  if (args.nameKey !== undefined && args.plainNames) throw new TaskInputError("--name-key and --plain-names exclude each other");
  if (args.plainNames) return { naming: plainNaming };
  if (args.nameKey === undefined) {
    if (action === "register" || action === "meters") {
      throw new TaskInputError(`--name-key is required for "${action}" (env:<VARIABLE> or file:<path>): names go on chain as keyed hashes; --plain-names writes them readable, for local development only`);
    }
    // authorize/revoke by name without a key: the name is looked up as plain text.
    return { naming: plainNaming };
  }
  let naming: ChainNaming;
  try {
    naming = await namingFromKeySource(args.nameKey);
  } catch (err) {
    if (err instanceof NamingError) throw new TaskInputError(err.message);
    throw err;
  }
  if ((action === "register" || action === "meters") && args.database === undefined) {
    throw new TaskInputError(`--database is required with --name-key for "${action}": the platform records which hash stands for which name, or the indexer cannot label them`);
  }
  return { naming, ...(args.database !== undefined ? { database: args.database } : {}) };
}

/** Records what the hashes stand for, before the transaction, so the indexer can label the registration. */
async function record(database: string, mapping: NameMapping): Promise<void> {
  const url = database === "env" ? process.env.DATABASE_URL : database;
  if (!url || !/^postgres(ql)?:\/\//.test(url)) throw new TaskInputError("--database: expected a postgres:// URL, or env with DATABASE_URL set");
  const db = await openDatabase({ target: { kind: "postgres", url }, applicationName: "meterline-tenant" });
  try {
    await recordNames(db.pool, mapping);
  } catch (err) {
    if (err instanceof NameMappingConflictError) throw new TaskInputError(err.message);
    throw err;
  } finally {
    await db.close();
  }
}

/** What the hash stands for, for the plan printed before sending; a plain name is its own text. */
function shown(text: string, onchainName: string, naming: ChainNaming): string {
  return naming.keyed ? `"${text}" (${naming.scheme}: ${onchainName})` : `"${text}" (${onchainName})`;
}

async function resolveTenant(ctx: SigningMeterContext, ref: TenantRef, naming: ChainNaming): Promise<{ id: number; name: string }> {
  if (ref.kind === "name") {
    const id = Number(await ctx.meter.tenantIdByName(onchain("--tenant", () => naming.onchainName(ref.name.text))));
    if (id === 0) {
      const hint = naming.keyed ? " under this --name-key" : " in plain text (pass its --name-key if it was registered pseudonymously)";
      throw new TaskInputError(`--tenant: no tenant named "${ref.name.text}"${hint}`);
    }
    return { id, name: ref.name.text };
  }
  const [name] = await ctx.meter.getTenant(ref.id);
  if (/^0x0{64}$/.test(name)) throw new TaskInputError(`--tenant: tenant ${ref.id} does not exist`);
  return { id: ref.id, name: bytes32ToText(name as `0x${string}`) };
}

async function register(ctx: SigningMeterContext, args: TenantArgs, { naming, database }: Naming): Promise<TenantResult> {
  const name = parseParam("name", shortStringSchema, required("name", args.name, "register"));
  const onchainName = onchain("--name", () => naming.onchainName(name.text));
  const existing = Number(await ctx.meter.tenantIdByName(onchainName));
  if (existing !== 0) throw new TaskInputError(`--name: "${name.text}" is already tenant ${existing}`);
  // Recorded before sending (or proposing): a mapping whose transaction never lands names nothing,
  // while a registration the indexer cannot label would show as a hash.
  if (database !== undefined) await record(database, { tenant: { slug: name.text, onchainName }, meters: [] });
  const outcome = await executeOrPropose(ctx, {
    fn: "registerTenant",
    args: [onchainName],
    signature: signatureOf(ctx.meter, "registerTenant"),
    described: [["name", shown(name.text, onchainName, naming)]],
    authority: MANAGER,
    blockedWhilePaused: true,
  });
  if (outcome.kind !== "sent") return { action: "register", outcome };
  const event = outcome.events.find((e) => e.name === "TenantRegistered");
  const tenantId = Number(event?.args.tenantId);
  console.log(`tenant ${tenantId} "${name.text}" registered (tx ${outcome.txHash})`);
  return { action: "register", outcome, tenantId };
}

async function registerMeters(ctx: SigningMeterContext, args: TenantArgs, { naming, database }: Naming): Promise<TenantResult> {
  const ref = parseParam("tenant", tenantRefSchema, required("tenant", args.tenant, "meters"));
  const parsed = parseParam("meters", nameListSchema, required("meters", args.meters, "meters"));
  if (naming.keyed && ref.kind !== "name") {
    // The mapping is recorded under the tenant's slug, which an id does not give.
    throw new TaskInputError(`--tenant: give the tenant's name with --name-key, not its id`);
  }
  const tenant = await resolveTenant(ctx, ref, naming);
  const names: ShortString[] = parsed.map((n) => ({ text: n.text, bytes32: onchain("--meters", () => naming.onchainMeterName(n.text)) }));
  for (const name of names) {
    const existing = Number(await ctx.meter.meterIdByName(tenant.id, name.bytes32));
    if (existing !== 0) throw new TaskInputError(`--meters: tenant ${tenant.id} already has meter "${name.text}" (id ${existing})`);
  }
  if (database !== undefined) {
    await record(database, {
      tenant: { slug: tenant.name, onchainName: naming.onchainName(tenant.name) },
      meters: names.map((n) => ({ name: n.text, onchainName: n.bytes32 as `0x${string}` })),
    });
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
          ["name", shown(single.text, single.bytes32, naming)],
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
      // Keyed names are hashes: what each stands for is known from this run's own list.
      name: names.find((n) => n.bytes32.toLowerCase() === String(e.args.name).toLowerCase())?.text ?? bytes32ToText(String(e.args.name) as `0x${string}`),
      meterId: Number(e.args.meterId),
    }));
  for (const m of meterIds) console.log(`tenant ${tenant.id} meter ${m.meterId} "${m.name}" registered`);
  console.log(`tx ${outcome.txHash}`);
  return { action: "meters", outcome, tenantId: tenant.id, meterIds };
}

async function setReporter(ctx: SigningMeterContext, args: TenantArgs, action: "authorize" | "revoke", { naming }: Naming): Promise<TenantResult> {
  const ref = parseParam("tenant", tenantRefSchema, required("tenant", args.tenant, action));
  const reporter = parseParam("reporter", addressSchema, required("reporter", args.reporter, action));
  const tenant = await resolveTenant(ctx, ref, naming);
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
  // Key and database settings are checked before the chain is touched.
  const naming = await namingOf(args, action);
  const ctx = await openSigningMeter(hre);
  switch (action) {
    case "register":
      return register(ctx, args, naming);
    case "meters":
      return registerMeters(ctx, args, naming);
    case "authorize":
    case "revoke":
      return setReporter(ctx, args, action, naming);
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
  .addOptionalParam(
    "nameKey",
    "The tenant's name key, as env:<VARIABLE> or file:<path> (never the key itself): names go on chain as HMAC-SHA256 under it",
    undefined,
    types.string,
  )
  .addFlag("plainNames", "Write names on chain in plain text instead (local development only; anyone can read them)")
  .addOptionalParam("database", "register/meters with --name-key: where to record which hash stands for which name (a postgres:// URL, or env for DATABASE_URL)", undefined, types.string)
  .setAction(reportingErrors(tenantAction));
