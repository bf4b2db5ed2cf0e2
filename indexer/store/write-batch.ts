/**
 * The write path of one fetched batch: every table's writer, in one transaction on one client.
 * Each writer owns its table's SQL and is exactly-once on its own (keyed by log, or fed only the
 * rows an insert returned), so re-applying a batch whose COMMIT was in doubt adds nothing.
 */
import type pg from "pg";
import type { EventKind } from "../../chain/events";
import type { FetchedBatch } from "../fetch";
import { writeBlocks } from "./blocks";
import { saveCheckpoint } from "./checkpoint";
import type { EventOf } from "./columns";
import { resolveCommitments, writeCommitments } from "./commitments";
import type { ContractRef } from "./contract";
import { writeMeters } from "./meters";
import { notifyUsage } from "./notify";
import { writeReporterEvents } from "./reporter-events";
import { addToRollups } from "./rollups";
import { writeTenants } from "./tenants";
import { copyUsageRecordsStraight, writeUsageRecords, type UsageLoader } from "./usage-records";

export { STAGE_DDL } from "./usage-records";

export interface BatchResult {
  records: number;
  /** Internal tenant ids whose usage changed, with the number of new records. */
  tenants: { tenantId: string; records: number }[];
}

/**
 * Applies one fetched batch and moves the checkpoint, inside the caller's transaction (`client`
 * is in BEGIN). The order matters: tenants before anything that names a tenant, meters before
 * records (a foreign key), commitments before the reveals and expiries that resolve them, and the
 * checkpoint last. `copy` streams records with COPY (PostgreSQL server); PGlite uses unnest. With
 * `loader` (migration 048) the records are COPYed straight into usage_records when the batch is
 * what it usually is (new logs, no stored idempotency key repeated), else through staging.
 */
export async function writeBatch(
  client: pg.PoolClient,
  contract: ContractRef,
  batch: FetchedBatch,
  opts: { pruneBelow: bigint; copy?: boolean; loader?: UsageLoader | null },
): Promise<BatchResult> {
  const of = <K extends EventKind>(...kinds: K[]): EventOf<K>[] =>
    batch.events.filter((e): e is EventOf<K> => (kinds as EventKind[]).includes(e.kind));

  await writeTenants(client, contract, of("TenantRegistered"));
  await writeMeters(client, contract, of("MeterRegistered"));
  await writeReporterEvents(client, contract, of("ReporterAuthorized", "ReporterRevoked"));
  await writeCommitments(client, contract, of("Committed"), batch.blockTimes);
  const reveals = of("UsageRevealed");
  const straight = opts.copy && opts.loader ? await copyUsageRecordsStraight(client, contract, reveals, batch.blockTimes, opts.loader) : null;
  const written = straight ?? (await writeUsageRecords(client, contract, reveals, batch.blockTimes, { copy: opts.copy ?? false }));
  await addToRollups(client, written.rollups);
  await resolveCommitments(client, contract, of("UsageRevealed", "CommitmentExpired"), batch.blockTimes);
  await writeBlocks(client, contract.id, batch.headers, opts.pruneBelow);
  await saveCheckpoint(client, contract.id, { number: batch.last.number, hash: batch.last.hash, time: batch.last.timestamp });

  const tenants = [...written.inserted].map(([tenantId, records]) => ({ tenantId, records }));
  await notifyUsage(
    client,
    tenants.map((t) => ({ tenantId: t.tenantId, records: t.records, toBlock: batch.to.toString() })),
  );
  return { records: tenants.reduce((s, t) => s + t.records, 0), tenants };
}
