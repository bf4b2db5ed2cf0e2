import { lowestCheckpoint } from "../read/checkpoints";
import type { TenantDb } from "../tenancy/tenant-transaction";

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
  db: Pick<TenantDb, "runWithoutTenant">,
  maxLagBlocks: number,
  chainHead: (() => Promise<bigint>) | undefined,
): Promise<Readiness> {
  let lowest: bigint | null;
  try {
    lowest = await db.runWithoutTenant((c) => lowestCheckpoint(c));
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
