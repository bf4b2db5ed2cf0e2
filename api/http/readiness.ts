import type pg from "pg";
import { lowestCheckpoint } from "../read/checkpoints";

export interface Readiness {
  ready: boolean;
  database: boolean;
  indexerLagBlocks: string | null;
}

/**
 * Ready when the database answers as the API's own role (the role every tenant transaction runs
 * as: a missing role or grant makes the replica unready instead of failing every request) and,
 * if the chain head is known, every indexed contract's checkpoint is within maxLagBlocks of it.
 */
export async function readiness(
  db: { pool: pg.Pool; role: string },
  maxLagBlocks: number,
  chainHead: (() => Promise<bigint>) | undefined,
): Promise<Readiness> {
  let lowest: bigint | null;
  try {
    const client = await db.pool.connect();
    try {
      await client.query("BEGIN READ ONLY");
      await client.query("SELECT set_config('role', $1, true), set_config('statement_timeout', '2000', true)", [db.role]);
      lowest = await lowestCheckpoint(client);
      await client.query("COMMIT");
    } catch (err) {
      await client.query("ROLLBACK").catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
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
