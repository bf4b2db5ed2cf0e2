import type pg from "pg";

export interface Readiness {
  ready: boolean;
  database: boolean;
  indexerLagBlocks: string | null;
}

/**
 * Ready when the database answers and, if the chain head is known, every indexed contract's
 * checkpoint is within maxLagBlocks of it. Runs as the pool's login role: checkpoints are not
 * tenant data and the API role cannot read them.
 */
export async function readiness(
  pool: pg.Pool,
  maxLagBlocks: number,
  chainHead: (() => Promise<bigint>) | undefined,
): Promise<Readiness> {
  let lowest: bigint | null;
  try {
    const { rows } = await pool.query<{ low: string | null }>("SELECT min(block_number)::text AS low FROM checkpoints");
    lowest = rows[0]?.low ? BigInt(rows[0].low) : null;
  } catch {
    return { ready: false, database: false, indexerLagBlocks: null };
  }
  if (!chainHead) return { ready: true, database: true, indexerLagBlocks: null };
  try {
    const head = await chainHead();
    if (lowest === null) return { ready: false, database: true, indexerLagBlocks: null };
    const lag = head > lowest ? head - lowest : 0n;
    return { ready: lag <= BigInt(maxLagBlocks), database: true, indexerLagBlocks: lag.toString() };
  } catch {
    return { ready: false, database: true, indexerLagBlocks: null };
  }
}
