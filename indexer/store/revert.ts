/**
 * The reorg path: undoes everything derived from blocks above the common ancestor, table by table
 * (rows before the tenants and meters they reference), in one transaction on one client.
 */
import type pg from "pg";
import { DatabaseQueryError, toDatabaseError } from "../db-errors";
import { InconsistentStateError } from "../errors";
import { deleteBlocksAbove } from "./blocks";
import { saveCheckpoint, type Checkpoint } from "./checkpoint";
import { revertCommitmentsAbove } from "./commitments";
import type { ContractRef } from "./contract";
import { deleteMetersAbove } from "./meters";
import { notifyUsage } from "./notify";
import { deleteReporterEventsAbove } from "./reporter-events";
import { recomputeRollups } from "./rollups";
import { deleteTenantsAbove } from "./tenants";
import { deleteUsageRecordsAbove, promoteNextOccurrences } from "./usage-records";

export interface RevertResult {
  records: number;
  commitments: number;
  buckets: number;
}

const FOREIGN_KEY_VIOLATION = "23503";

/**
 * Removes everything derived from blocks above `ancestor`, inside the caller's transaction:
 * usage records (the next occurrence of a deleted first occurrence's idempotency key becomes the
 * first, and the hourly rollups are recomputed from the records that remain), commitment
 * rows and the status changes orphaned reveals/expiries made, reporter events, meters, tenants,
 * the stored block hashes, and moves the checkpoint back to the ancestor.
 */
export async function revertAbove(client: pg.PoolClient, contract: ContractRef, ancestor: Checkpoint): Promise<RevertResult> {
  const cid = contract.id;
  const above = ancestor.number;

  const removed = await deleteUsageRecordsAbove(client, cid, above);
  const promoted = await promoteNextOccurrences(client, removed.firstRefs);
  await recomputeRollups(client, [...removed.buckets, ...promoted]);
  const commitments = await revertCommitmentsAbove(client, cid, above);
  await deleteReporterEventsAbove(client, cid, above);
  try {
    await deleteMetersAbove(client, cid, above);
    await deleteTenantsAbove(client, cid, above);
  } catch (raw) {
    // Billing and API rows reference tenants and meters. Configuring a tenant whose registration is
    // not yet final (CONFIRMATIONS) and then losing that registration in a reorg cannot be repaired
    // automatically: stop loudly rather than drop someone's configuration.
    const err = toDatabaseError(raw);
    if (err instanceof DatabaseQueryError && err.code === FOREIGN_KEY_VIOLATION) {
      throw new InconsistentStateError(
        `reorg below block ${above} orphans a tenant or meter registration that other tables already reference ` +
          `(${err.message}); resolve those rows, then restart the indexer`,
        { cause: err },
      );
    }
    throw err;
  }
  await deleteBlocksAbove(client, cid, above);
  await saveCheckpoint(client, cid, ancestor);

  await notifyUsage(
    client,
    [...removed.deleted].map(([tenantId, n]) => ({ tenantId, records: -n, toBlock: above.toString(), reorg: true })),
  );
  return { records: [...removed.deleted.values()].reduce((s, n) => s + n, 0), commitments, buckets: removed.buckets.length };
}
