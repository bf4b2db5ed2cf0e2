import { task, types } from "hardhat/config";
import type { HardhatRuntimeEnvironment } from "hardhat/types";
import type { Interface } from "ethers";
import { fetchMeterEvents, lapsedCommitments, replayMeterEvents, type CommitmentEntry } from "../audit/chain-audit";
import { reportingErrors, TaskInputError } from "./lib/errors";
import { executeOrPropose, openSigningMeter, signatureOf, type CallOutcome } from "./lib/meter-context";
import { addressSchema, bytes32Schema, parseParam } from "./lib/params";

/** Keeps one expiry transaction well under the block gas limit (an expiry costs about 10k gas). */
const MAX_PER_TRANSACTION = 200;

interface ExpireArgs {
  all: boolean;
  reporter?: string;
  commitment?: string;
}

export interface ExpireResult {
  expired: Array<{ reporter: string; commitment: string }>;
  outcomes: CallOutcome[];
}

/** The one commitment named by the flags, or [] with --all (found later from events). */
function explicitTarget(args: ExpireArgs): Array<{ reporter: string; commitment: string }> {
  if (args.all) {
    if (args.reporter !== undefined || args.commitment !== undefined) {
      throw new TaskInputError("--all takes no --reporter/--commitment");
    }
    return [];
  }
  if (args.reporter === undefined || args.commitment === undefined) {
    throw new TaskInputError("give --reporter and --commitment, or --all for every lapsed commitment");
  }
  return [{ reporter: parseParam("reporter", addressSchema, args.reporter), commitment: parseParam("commitment", bytes32Schema, args.commitment) }];
}

/** Marks lapsed commitments expired so their withheld usage is on record. Anyone may do this. */
async function expire(args: ExpireArgs, hre: HardhatRuntimeEnvironment): Promise<ExpireResult> {
  let targets = explicitTarget(args);
  const ctx = await openSigningMeter(hre);
  const head = await hre.ethers.provider.getBlockNumber();
  const maxDelay = Number(await ctx.meter.MAX_REVEAL_DELAY());
  if (args.all) {
    const events = await fetchMeterEvents(hre.ethers.provider, ctx.deployment.address, ctx.deployment.deployBlock, head);
    targets = lapsedCommitments(replayMeterEvents(events), head, maxDelay).map((c: CommitmentEntry) => ({
      reporter: c.reporter,
      commitment: c.commitment,
    }));
    if (targets.length === 0) {
      console.log("no lapsed commitments to expire");
      return { expired: [], outcomes: [] };
    }
  } else {
    const [status, , committedAt] = await ctx.meter.getCommitment(targets[0]!.reporter, targets[0]!.commitment);
    if (status !== 1n) throw new TaskInputError(`--commitment: no pending commitment ${targets[0]!.commitment} of ${targets[0]!.reporter}`);
    if (head + 1 <= Number(committedAt) + maxDelay) {
      throw new TaskInputError(`--commitment: still revealable until block ${Number(committedAt) + maxDelay} (head is ${head})`);
    }
  }

  const iface = ctx.meter.interface as Interface;
  const outcomes: CallOutcome[] = [];
  const expired: ExpireResult["expired"] = [];
  for (let i = 0; i < targets.length; i += MAX_PER_TRANSACTION) {
    const chunk = targets.slice(i, i + MAX_PER_TRANSACTION);
    const outcome = await executeOrPropose(ctx, {
      fn: "multicall",
      args: [chunk.map((t) => iface.encodeFunctionData("expire", [t.reporter, t.commitment]))],
      signature: signatureOf(ctx.meter, "multicall"),
      described: chunk.map((t, j): [string, string] => [`data[${j}]`, `expire(reporter=${t.reporter}, commitment=${t.commitment})`]),
      // expire is open to everyone: the signer always qualifies.
      authority: { kind: "account", account: ctx.signer.address, label: "the signer" },
      blockedWhilePaused: true,
    });
    outcomes.push(outcome);
    if (outcome.kind !== "sent") continue;
    for (const e of outcome.events.filter((ev) => ev.name === "CommitmentExpired")) {
      expired.push({ reporter: String(e.args.reporter), commitment: String(e.args.commitment) });
      console.log(`expired ${String(e.args.commitment)} of ${String(e.args.reporter)} (tenant ${String(e.args.tenantId)})`);
    }
    console.log(`tx ${outcome.txHash}`);
  }
  return { expired, outcomes };
}

task("meter:expire", "Marks commitments past their maximum reveal age as expired (anyone may), recording withheld usage")
  .addFlag("all", "Expire every lapsed commitment found in the events since the deploy block")
  .addOptionalParam("reporter", "The commitment's reporter", undefined, types.string)
  .addOptionalParam("commitment", "The commitment hash (bytes32)", undefined, types.string)
  .setAction(reportingErrors(expire));
