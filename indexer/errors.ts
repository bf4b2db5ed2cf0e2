/** Typed failures of the indexer; the CLI maps each to one log line and an exit code. */

export class IndexerError extends Error {
  override name = "IndexerError";
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
 * block does not extend the checkpoint). Not a failure: the follower re-checks for a reorg.
 */
export class ChainMovedError extends IndexerError {
  override name = "ChainMovedError";
}

/** The data in the database contradicts the chain in a way no reorg explains. */
export class InconsistentStateError extends IndexerError {
  override name = "InconsistentStateError";
}
