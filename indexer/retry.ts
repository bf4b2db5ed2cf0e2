/** The one retry policy of the indexer, shared by the RPC and database boundaries. */
import { AbortedError, isRetryable, type IndexerError } from "./errors";

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new AbortedError());
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(new AbortedError());
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

export interface BackoffOptions {
  baseMs: number;
  maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 200, maxMs: 15_000 };

/**
 * Exponential backoff with "equal jitter": half the delay is fixed so retries never hammer the
 * endpoint, half is random so many clients that failed together do not retry together.
 */
export function backoffDelay(attempt: number, options: BackoffOptions = DEFAULT_BACKOFF): number {
  const exp = Math.min(options.maxMs, options.baseMs * 2 ** Math.min(attempt, 30));
  return exp / 2 + Math.random() * (exp / 2);
}

export interface RetryOptions {
  signal: AbortSignal;
  backoff?: BackoffOptions;
  /** Give up after this many attempts (default: never, until the signal aborts). */
  maxAttempts?: number;
  /** Called before each backoff sleep (logging, metrics). */
  onRetry?: (err: IndexerError, attempt: number, delayMs: number) => void;
}

/**
 * Runs `fn` until it succeeds, sleeping with backoff after each failure whose `retryable` flag is
 * set. `fn` must throw already-classified errors (the boundaries' job): anything else, and any
 * error once the signal has aborted, ends the loop at once.
 */
export async function withRetry<T>(fn: () => Promise<T>, options: RetryOptions): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (options.signal.aborted) throw new AbortedError();
      if (!isRetryable(err) || attempt + 1 >= (options.maxAttempts ?? Infinity)) throw err;
      const delay = backoffDelay(attempt, options.backoff);
      options.onRetry?.(err as IndexerError, attempt, delay);
      await sleep(delay, options.signal);
    }
  }
}
