import { DeploymentFileError } from "../chain/deployment";

/** One problem with one input line; `line` is 1-based as an editor shows it. */
export interface LineIssue {
  line: number;
  message: string;
}

/** Base class so callers can tell reporter failures from programming errors. */
export class ReporterError extends Error {
  override name = "ReporterError";
}

/** The input was rejected as a whole; nothing was journaled or submitted. */
export class InputValidationError extends ReporterError {
  override name = "InputValidationError";
  constructor(readonly issues: readonly LineIssue[]) {
    super(
      `${issues.length} invalid input line(s); nothing was submitted:\n` +
        issues
          .slice(0, 50)
          .map((i) => `  line ${i.line}: ${i.message}`)
          .join("\n") +
        (issues.length > 50 ? `\n  ... and ${issues.length - 50} more` : ""),
    );
  }
}

/** The journal on disk is unreadable or inconsistent with the chain; a human must look. */
export class JournalError extends ReporterError {
  override name = "JournalError";
}

/**
 * A journal file or directory is open to group or others. The journal holds the salts and
 * records of unrevealed commitments (whoever reads them can reveal early or front-run), so the
 * reporter refuses to run rather than fix the mode silently: the leak may already have happened.
 */
export class JournalPermissionError extends JournalError {
  override name = "JournalPermissionError";
  constructor(
    readonly path: string,
    readonly mode: number,
    readonly fixDir: string,
  ) {
    super(
      `journal path ${path} is accessible to group/others (mode ${(mode & 0o777).toString(8).padStart(4, "0")}); ` +
        `it holds unrevealed salts and records: run chmod -R go-rwx ${fixDir}`,
    );
  }
}

/** A transaction reverted or was refused by the node; `reason` is the decoded error name if known. */
export class TransactionError extends ReporterError {
  override name = "TransactionError";
  constructor(
    message: string,
    readonly reason: string | undefined,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }

  /** The contract refused because the reporter's high-water mark already passed a record's sequence. */
  get sequenceNotIncreasing(): boolean {
    return this.reason?.startsWith("SequenceNotIncreasing(") ?? false;
  }
}

/** Configuration given to the reporter CLI or task is wrong; the message names the setting. */
export class ReporterConfigError extends ReporterError {
  override name = "ReporterConfigError";
}

/** Exit code for a reporter failure: 2 when the input or the settings (journal modes included) must change, else 1. */
export function exitCodeOf(err: unknown): number {
  return err instanceof InputValidationError || err instanceof ReporterConfigError || err instanceof JournalPermissionError ? 2 : 1;
}

/**
 * Runs a reporter command (task or CLI) so that a ReporterError becomes one line on stderr
 * instead of a stack trace, with exit code 2 for bad input or settings and 1 otherwise.
 */
export async function reportingErrors<T>(name: string, fn: () => Promise<T>): Promise<T | undefined> {
  try {
    return await fn();
  } catch (err) {
    // A missing or mismatched deployment record is a setting to fix, not a crash.
    if (!(err instanceof ReporterError || err instanceof DeploymentFileError)) throw err;
    console.error(`${name}: ${err.message.split("\n\nRequest Arguments:")[0]}`);
    process.exitCode = exitCodeOf(err);
    return undefined;
  }
}
