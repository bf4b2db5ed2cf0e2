import type { Logger } from "pino";
import { toDatabaseError } from "./db-errors";
import { redactSecrets, redactUrl } from "./redact";
import { withRetry, type BackoffOptions } from "./retry";

const DB_BACKOFF: BackoffOptions = { baseMs: 100, maxMs: 5_000 };

/**
 * Runs one database step until it succeeds, retrying the failures the database boundary
 * classifies as retryable (connection lost, server restarting, a lost serialization race). `fn`
 * must be a whole transaction (or an idempotent statement): when a COMMIT's outcome is unknown
 * the retry re-applies the batch, which the per-log keys make a no-op.
 */
export function withDbRetry<T>(
  fn: () => Promise<T>,
  opts: {
    signal: AbortSignal;
    logger: Logger;
    what: string;
    onRetry?: () => void;
    backoff?: BackoffOptions;
    maxAttempts?: number;
    /** The connection string, to name the endpoint in logs (redacted) and keep its secrets out of them. */
    url?: string;
  },
): Promise<T> {
  return withRetry(
    () =>
      fn().catch((err: unknown) => {
        throw toDatabaseError(err);
      }),
    {
      signal: opts.signal,
      backoff: opts.backoff ?? DB_BACKOFF,
      maxAttempts: opts.maxAttempts,
      onRetry: (err, attempt, delayMs) => {
        opts.onRetry?.();
        opts.logger.warn(
          {
            what: opts.what,
            variable: "DATABASE_URL",
            ...(opts.url ? { endpoint: redactUrl(opts.url) } : {}),
            attempt,
            delayMs: Math.round(delayMs),
            error: err.name,
            err: redactSecrets(err.message, [opts.url]),
          },
          "database step failed (DATABASE_URL), retrying",
        );
      },
    },
  );
}
