/**
 * Errors a task reports as one line and a non-zero exit code instead of a stack trace. Tasks set
 * process.exitCode (never process.exit) so in-process callers such as tests can observe it.
 */
import type { ActionType, TaskArguments } from "hardhat/types";
import { DeploymentFileError } from "../../../chain/deployment";
import { RecordEncodingError } from "../../../chain/record";
import { SignerError } from "./signer";

/** Exit codes shared by the meter:* tasks (documented in docs/contracts.md). */
export const EXIT = {
  ok: 0,
  /** Bad input, or the chain refused the call; nothing was changed. */
  failed: 1,
  /** The signer lacks the role; a transaction for a multisig owner was printed instead. */
  needsProposal: 2,
} as const;

/** A parameter is malformed or inconsistent with the chain; nothing was sent. */
export class TaskInputError extends Error {
  override name = "TaskInputError";
}

/** The chain would refuse (or refused) the operation. */
export class TaskChainError extends Error {
  override name = "TaskChainError";
}

function isReportable(err: unknown): err is Error {
  return (
    err instanceof TaskInputError ||
    err instanceof TaskChainError ||
    err instanceof DeploymentFileError ||
    err instanceof RecordEncodingError ||
    err instanceof SignerError
  );
}

/**
 * Wraps a task action: expected failures print `error: <message>` on stderr and set exit code 1;
 * anything else (a bug, a dead RPC endpoint) propagates to Hardhat with its stack trace.
 */
export function reportingErrors<A extends TaskArguments, R>(
  action: (args: A, hre: Parameters<ActionType<A>>[1]) => Promise<R>,
): ActionType<A> {
  return async (args, hre) => {
    try {
      return await action(args, hre);
    } catch (err) {
      if (!isReportable(err)) throw err;
      console.error(`error: ${err.message}`);
      process.exitCode = EXIT.failed;
      return undefined;
    }
  };
}
