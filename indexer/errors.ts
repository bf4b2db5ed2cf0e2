/**
 * The indexer's one error hierarchy. Every failure the indexer raises, and every PostgreSQL or RPC
 * failure it receives, is an IndexerError by the time a retry loop or the CLI sees it: `cause`
 * keeps the original failure for logs, `retryable` says whether running the same step again can
 * succeed. (Anything else that escapes is a bug in our code, and is never retried.)
 * Only the boundary modules read raw failures (db-errors.ts for pg, rpc-errors.ts for viem); the
 * retry loops (retry.ts) read nothing but `retryable`.
 */

export class IndexerError extends Error {
  override name = "IndexerError";
  /** Whether repeating the step that failed, unchanged, can succeed. */
  readonly retryable: boolean = false;

  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
  }
}

/** True only for an IndexerError that says the same step may succeed if repeated. */
export function isRetryable(err: unknown): boolean {
  return err instanceof IndexerError && err.retryable;
}

/** A bad setting. The message is one line naming the variable. */
export class ConfigError extends IndexerError {
  override name = "ConfigError";
  constructor(
    readonly variable: string,
    detail: string,
  ) {
    super(`${variable}: ${detail}`);
  }
}

/** The RPC endpoint serves another chain than the one configured. */
export class ChainIdMismatchError extends IndexerError {
  override name = "ChainIdMismatchError";
  constructor(
    readonly expected: number,
    readonly actual: number,
  ) {
    super(`RPC_URL serves chain id ${actual} but CHAIN_ID is ${expected}`);
  }
}

/** The chain reorganized below the blocks we keep hashes for: finalized data would change. */
export class ReorgTooDeepError extends IndexerError {
  override name = "ReorgTooDeepError";
  constructor(
    readonly checkpoint: bigint,
    readonly window: number,
  ) {
    super(
      `chain reorganized deeper than REORG_WINDOW=${window} below indexed block ${checkpoint}; ` +
        `refusing to rewrite finalized data (re-index from scratch or raise REORG_WINDOW)`,
    );
  }
}

/** Another process holds the writer lease; raised inside a batch so it rolls back. */
export class LeaseLostError extends IndexerError {
  override name = "LeaseLostError";
}

/**
 * The chain changed while a batch was being fetched (logs and headers disagree, or the first
 * block does not extend the checkpoint). Not a failure: the follower re-checks for a reorg. Not
 * retryable either: the same fetch would describe a chain that no longer exists.
 */
export class ChainMovedError extends IndexerError {
  override name = "ChainMovedError";
}

/** The data in the database contradicts the chain in a way no reorg explains. */
export class InconsistentStateError extends IndexerError {
  override name = "InconsistentStateError";
}

/** The indexer is stopping; raised from retry sleeps and RPC calls so every loop unwinds. */
export class AbortedError extends IndexerError {
  override name = "AbortedError";
  constructor() {
    super("stopped");
  }
}
