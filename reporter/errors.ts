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

/** A transaction reverted or was refused by the node; `reason` is the decoded error name if known. */
export class TransactionError extends ReporterError {
  override name = "TransactionError";
  constructor(
    message: string,
    readonly reason: string | undefined,
  ) {
    super(message);
  }
}

/** Configuration given to the reporter CLI or task is wrong; the message names the setting. */
export class ReporterConfigError extends ReporterError {
  override name = "ReporterConfigError";
}

/**
 * Runs a reporter command (task or CLI) so that a ReporterError becomes one line on stderr
 * instead of a stack trace, with exit code 2 for bad input or settings and 1 otherwise.
 */
export async function reportingErrors<T>(name: string, fn: () => Promise<T>): Promise<T | undefined> {
  try {
    return await fn();
  } catch (err) {
    if (!(err instanceof ReporterError)) throw err;
    console.error(`${name}: ${err.message.split("\n\nRequest Arguments:")[0]}`);
    process.exitCode = err instanceof InputValidationError || err instanceof ReporterConfigError ? 2 : 1;
    return undefined;
  }
}
