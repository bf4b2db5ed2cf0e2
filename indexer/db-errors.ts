/**
 * The database boundary: turns whatever pg, pg-pool or the socket threw into an IndexerError that
 * says whether the step can be retried. Classification uses structured fields (the server's
 * SQLSTATE, Node's socket error code); the one exception is documented at MESSAGE_ONLY.
 */
import pg from "pg";
import { IndexerError } from "./errors";

/** The connection or the server went away (or is not up yet): the same transaction can succeed later. */
export class DatabaseUnavailableError extends IndexerError {
  override name = "DatabaseUnavailableError";
  override readonly retryable = true;
  constructor(
    message: string,
    readonly code: string | undefined,
    options: { cause?: unknown } = {},
  ) {
    super(message, options);
  }
}

/** The transaction lost a race (serialization failure, deadlock): running it again is the fix. */
export class DatabaseConflictError extends IndexerError {
  override name = "DatabaseConflictError";
  override readonly retryable = true;
  constructor(
    message: string,
    readonly code: string,
    options: { cause?: unknown } = {},
  ) {
    super(message, options);
  }
}

/** The server refused the statement itself (bad SQL, a violated constraint...): it would refuse it again. */
export class DatabaseQueryError extends IndexerError {
  override name = "DatabaseQueryError";
  constructor(
    message: string,
    /** The SQLSTATE, e.g. `23505` (unique violation), `23503` (foreign key), `42601` (syntax). */
    readonly code: string,
    options: { cause?: unknown } = {},
  ) {
    super(message, options);
  }
}

/** SQLSTATEs that mean "this session or server is gone or not ready", not "this statement is wrong". */
const UNAVAILABLE_SQLSTATES = new Set([
  "57P01", // admin_shutdown (pg_terminate_backend, server stopping)
  "57P02", // crash_shutdown
  "57P03", // cannot_connect_now (server starting up)
  "53300", // too_many_connections
]);
const CONFLICT_SQLSTATES = new Set([
  "40001", // serialization_failure
  "40P01", // deadlock_detected
]);
/** Node socket and DNS errors on the way to the server. */
const UNAVAILABLE_SOCKET_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
]);

/**
 * pg and pg-pool report a lost or unusable connection with plain Errors that carry no code
 * ("Connection terminated unexpectedly" when the socket closes, "Client has encountered a
 * connection error and is not queryable" for the next query on it, pg-pool's connect timeout).
 * Their messages are the only signal, so this is the one place that reads message text.
 */
const MESSAGE_ONLY =
  /^(Connection terminated|Client (was closed|has encountered a connection error) and is not queryable|timeout exceeded when trying to connect)/;

/**
 * The typed form of a failure from a database step. IndexerErrors (e.g. LeaseLostError raised
 * inside a transaction) pass through unchanged, and so does anything that is not a database or
 * connection failure: a TypeError in our own code is a bug, never a reason to retry.
 */
export function toDatabaseError(err: unknown): unknown {
  if (err instanceof IndexerError || !(err instanceof Error)) return err;
  if (err instanceof pg.DatabaseError && err.code) {
    const code = err.code;
    if (code.startsWith("08") || UNAVAILABLE_SQLSTATES.has(code)) {
      return new DatabaseUnavailableError(`database unavailable: ${err.message}`, code, { cause: err });
    }
    if (CONFLICT_SQLSTATES.has(code)) return new DatabaseConflictError(`transaction conflict: ${err.message}`, code, { cause: err });
    return new DatabaseQueryError(err.message, code, { cause: err });
  }
  const socketCode = (err as NodeJS.ErrnoException).code;
  if (typeof socketCode === "string" && UNAVAILABLE_SOCKET_CODES.has(socketCode)) {
    return new DatabaseUnavailableError(`database unreachable: ${err.message}`, socketCode, { cause: err });
  }
  if (MESSAGE_ONLY.test(err.message)) return new DatabaseUnavailableError(`database connection lost: ${err.message}`, undefined, { cause: err });
  return err;
}
