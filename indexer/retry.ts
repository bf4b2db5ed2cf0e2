/** Backoff and cancellable sleeps shared by the RPC and database retry loops. */

export class AbortedError extends Error {
  override name = "AbortedError";
  constructor() {
    super("stopped");
  }
}

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
