import type { Logger } from "pino";
import { AbortedError, backoffDelay, sleep } from "./retry";

const TRANSIENT_CODES = new Set([
  "57P01", // admin_shutdown (pg_terminate_backend, server stopping)
  "57P02", // crash_shutdown
  "57P03", // cannot_connect_now (server starting up)
  "08000",
  "08001",
  "08003",
  "08004",
  "08006",
  "40001", // serialization_failure
  "40P01", // deadlock_detected
  "53300", // too_many_connections
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "ENOTFOUND",
  "EAI_AGAIN",
]);

/** Whether a database error means "the connection or server went away" rather than "bad SQL". */
export function isTransientDbError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: string }).code;
  if (code && TRANSIENT_CODES.has(code)) return true;
  return /Connection terminated|connection error|terminating connection|Client was closed|not queryable|the database system is (starting up|shutting down)|timeout exceeded when trying to connect|socket hang up/i.test(
    err.message,
  );
}

/**
 * Runs `fn` until it succeeds, retrying after transient database failures with backoff. `fn`
 * must be a whole transaction (or idempotent statement): when a COMMIT's outcome is unknown the
 * retry re-applies the batch, which the ON CONFLICT keys make a no-op.
 */
export async function withDbRetry<T>(
  fn: () => Promise<T>,
  opts: { signal: AbortSignal; logger: Logger; what: string; onRetry?: () => void },
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!isTransientDbError(err)) throw err;
      if (opts.signal.aborted) throw new AbortedError();
      opts.onRetry?.();
      const delay = backoffDelay(attempt, { baseMs: 100, maxMs: 5_000 });
      opts.logger.warn({ what: opts.what, attempt, delayMs: Math.round(delay), err: (err as Error).message }, "database unavailable, retrying");
      await sleep(delay, opts.signal);
    }
  }
}
