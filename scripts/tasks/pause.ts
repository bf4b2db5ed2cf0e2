import { task, types } from "hardhat/config";
import type { HardhatRuntimeEnvironment } from "hardhat/types";
import { z } from "zod";
import { ROLES } from "../../chain/roles";
import { reportingErrors, TaskInputError } from "./lib/errors";
import { executeOrPropose, openSigningMeter, signatureOf, type CallOutcome } from "./lib/meter-context";
import { parseParam } from "./lib/params";

/** Long enough for a ticket reference and a sentence; the reason is stored in an event forever. */
const MAX_REASON_LENGTH = 280;

const reasonSchema = z
  .string({ required_error: "is required" })
  .trim()
  .min(1, "must not be empty: say why, it goes into the on-chain incident log")
  .max(MAX_REASON_LENGTH, `must be at most ${MAX_REASON_LENGTH} characters`);

async function pause(args: { reason?: string }, hre: HardhatRuntimeEnvironment): Promise<CallOutcome> {
  const reason = parseParam("reason", reasonSchema, args.reason);
  const ctx = await openSigningMeter(hre);
  if (await ctx.meter.paused()) throw new TaskInputError("UsageMeter is already paused");
  const outcome = await executeOrPropose(ctx, {
    fn: "pause",
    args: [reason],
    signature: signatureOf(ctx.meter, "pause"),
    described: [["reason", JSON.stringify(reason)]],
    authority: { kind: "role", role: ROLES.PAUSER_ROLE, roleName: "PAUSER_ROLE" },
  });
  if (outcome.kind === "sent") console.log(`UsageMeter paused: ${JSON.stringify(reason)} (tx ${outcome.txHash})`);
  return outcome;
}

async function unpause(_args: unknown, hre: HardhatRuntimeEnvironment): Promise<CallOutcome> {
  const ctx = await openSigningMeter(hre);
  if (!(await ctx.meter.paused())) throw new TaskInputError("UsageMeter is not paused");
  const outcome = await executeOrPropose(ctx, {
    fn: "unpause",
    args: [],
    signature: signatureOf(ctx.meter, "unpause"),
    described: [],
    authority: { kind: "role", role: ROLES.DEFAULT_ADMIN_ROLE, roleName: "DEFAULT_ADMIN_ROLE (the default admin)" },
  });
  if (outcome.kind === "sent") console.log(`UsageMeter unpaused (tx ${outcome.txHash}); run meter:audit to check the state`);
  return outcome;
}

task("meter:pause", "Pauses UsageMeter: blocks commits, reveals, expiry and tenant changes (needs PAUSER_ROLE)")
  // Required, so `help meter:pause` says so and Hardhat refuses a call without it before the action runs.
  .addParam("reason", "Why, recorded on chain in the PauseReason event (incident id, one sentence)", undefined, types.string)
  .setAction(reportingErrors(pause));

task("meter:unpause", "Unpauses UsageMeter (default admin only)").setAction(reportingErrors(unpause));
