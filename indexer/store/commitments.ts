import type pg from "pg";
import { hexDigits } from "../../chain/hex";
import { InconsistentStateError } from "../errors";
import { blockTimeColumn, positionColumns, type EventOf } from "./columns";
import type { ContractRef } from "./contract";

/** Records new commitments as `committed`, keyed by log; tenants must be written first. */
export async function writeCommitments(
  client: pg.PoolClient,
  contract: ContractRef,
  events: readonly EventOf<"Committed">[],
  blockTimes: ReadonlyMap<bigint, bigint>,
): Promise<void> {
  if (events.length === 0) return;
  await client.query(
    `INSERT INTO commitments (tenant_id, contract_id, reporter, commitment, relayer, status, chain_id,
                              tx_hash, log_index, block_number, block_hash, block_time)
     SELECT t.id, $1, decode(u.reporter, 'hex'), decode(u.commitment, 'hex'), decode(u.relayer, 'hex'), 'committed', $2,
            decode(u.tx, 'hex'), u.li, u.bn, decode(u.bh, 'hex'), to_timestamp(u.bt)
     FROM unnest($3::int[], $4::text[], $5::text[], $6::text[], $7::text[], $8::int[], $9::bigint[], $10::text[], $11::bigint[])
       AS u(onchain_tenant, reporter, commitment, relayer, tx, li, bn, bh, bt)
     LEFT JOIN tenants t ON t.contract_id = $1 AND t.onchain_id = u.onchain_tenant
     ON CONFLICT DO NOTHING`,
    [
      contract.id,
      contract.chainId,
      events.map((e) => e.tenantId),
      events.map((e) => hexDigits(e.reporter)),
      events.map((e) => hexDigits(e.commitment)),
      events.map((e) => hexDigits(e.relayer)),
      ...positionColumns(events),
      blockTimeColumn(events, blockTimes),
    ],
  );
}

/**
 * Marks commitments revealed or expired. Each event resolves the latest commit of its (reporter,
 * commitment) before it: the contract only ever acts on the most recent commit of a pair, even
 * when a lapsed one was re-committed in the same batch. Idempotent (a replay sets the same
 * values), so it needs no replay check; a count that does not match means the chain and the
 * database disagree.
 */
export async function resolveCommitments(
  client: pg.PoolClient,
  contract: ContractRef,
  events: readonly EventOf<"UsageRevealed" | "CommitmentExpired">[],
  blockTimes: ReadonlyMap<bigint, bigint>,
): Promise<void> {
  if (events.length === 0) return;
  const { rowCount } = await client.query(
    `UPDATE commitments c
     SET status = r.status, resolved_tx_hash = decode(r.tx, 'hex'), resolved_log_index = r.li,
         resolved_block_number = r.bn, resolved_block_hash = decode(r.bh, 'hex'), resolved_block_time = to_timestamp(r.bt)
     FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::int[], $7::bigint[], $8::text[], $9::bigint[])
       AS r(status, reporter, commitment, tx, li, bn, bh, bt)
     CROSS JOIN LATERAL (
       SELECT p.chain_id, p.tx_hash, p.log_index FROM commitments p
       WHERE p.contract_id = $1 AND p.reporter = decode(r.reporter, 'hex') AND p.commitment = decode(r.commitment, 'hex')
         AND (p.block_number, p.log_index) < (r.bn, r.li)
       ORDER BY p.block_number DESC, p.log_index DESC LIMIT 1
     ) target
     WHERE c.chain_id = target.chain_id AND c.tx_hash = target.tx_hash AND c.log_index = target.log_index`,
    [
      contract.id,
      events.map((e) => (e.kind === "UsageRevealed" ? "revealed" : "expired")),
      events.map((e) => hexDigits(e.reporter)),
      events.map((e) => hexDigits(e.commitment)),
      ...positionColumns(events),
      blockTimeColumn(events, blockTimes),
    ],
  );
  if (rowCount !== events.length) {
    throw new InconsistentStateError(`resolved ${rowCount} commitments for ${events.length} reveal/expiry events`);
  }
}

/**
 * Undoes commitment rows above `block` (a reorg): resolutions made there go back to `committed`,
 * commitments made there are deleted. Returns how many were deleted.
 */
export async function revertCommitmentsAbove(client: pg.PoolClient, contractId: number, block: bigint): Promise<number> {
  const above = block.toString();
  await client.query(
    `UPDATE commitments SET status = 'committed', resolved_tx_hash = NULL, resolved_log_index = NULL,
       resolved_block_number = NULL, resolved_block_hash = NULL, resolved_block_time = NULL
     WHERE contract_id = $1 AND resolved_block_number > $2`,
    [contractId, above],
  );
  const { rowCount } = await client.query("DELETE FROM commitments WHERE contract_id = $1 AND block_number > $2", [contractId, above]);
  return rowCount ?? 0;
}
