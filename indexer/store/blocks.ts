/**
 * blocks: the hashes of recent blocks (the reorg window), so a reorg can be traced back to the
 * common ancestor by comparing them with the chain.
 */
import type pg from "pg";
import { fromHex, hexDigits, toHex } from "../../chain/hex";
import type { BlockHeader } from "../rpc";
import type { Checkpoint } from "./checkpoint";

/**
 * Stores a batch's headers (a replay, or a block seen again after a reorg, overwrites the row) and
 * forgets stored blocks below `pruneBelow`, which have left the reorg window. One statement: the
 * prune sees the table as it was before this insert, which is all it needs (the fetch only keeps
 * headers inside the window).
 */
export async function writeBlocks(client: pg.PoolClient, contractId: number, headers: readonly BlockHeader[], pruneBelow: bigint): Promise<void> {
  await client.query(
    `WITH b AS (
       INSERT INTO blocks (contract_id, number, hash, parent_hash, block_time)
       SELECT $1, u.n, decode(u.h, 'hex'), decode(u.p, 'hex'), to_timestamp(u.t)
       FROM unnest($2::bigint[], $3::text[], $4::text[], $5::bigint[]) AS u(n, h, p, t)
       ON CONFLICT (contract_id, number) DO UPDATE
         SET hash = EXCLUDED.hash, parent_hash = EXCLUDED.parent_hash, block_time = EXCLUDED.block_time
     )
     DELETE FROM blocks WHERE contract_id = $1 AND number < $6`,
    [
      contractId,
      headers.map((x) => x.number.toString()),
      headers.map((x) => hexDigits(x.hash)),
      headers.map((x) => hexDigits(x.parentHash)),
      headers.map((x) => Number(x.timestamp)),
      pruneBelow.toString(),
    ],
  );
}

/** Stores the block indexing starts after; its parent is unknown (zero hash) and never needed. */
export async function writeStartBlock(db: pg.Pool | pg.PoolClient, contractId: number, start: Checkpoint): Promise<void> {
  await db.query(
    `INSERT INTO blocks (contract_id, number, hash, parent_hash, block_time)
     VALUES ($1, $2, $3, $4, to_timestamp($5)) ON CONFLICT DO NOTHING`,
    [contractId, start.number.toString(), fromHex(start.hash), Buffer.alloc(32), Number(start.time)],
  );
}

/** The stored recent blocks, newest first (the reorg walk-back compares these with the chain). */
export async function readRecentBlocks(pool: pg.Pool, contractId: number): Promise<Checkpoint[]> {
  const { rows } = await pool.query<{ number: string; hash: Buffer; t: string }>(
    `SELECT number, hash, extract(epoch FROM block_time)::bigint AS t FROM blocks
     WHERE contract_id = $1 ORDER BY number DESC`,
    [contractId],
  );
  return rows.map((r) => ({ number: BigInt(r.number), hash: toHex(r.hash), time: BigInt(r.t) }));
}

/** Forgets the blocks above `block` (a reorg orphaned them). */
export async function deleteBlocksAbove(client: pg.PoolClient, contractId: number, block: bigint): Promise<void> {
  await client.query("DELETE FROM blocks WHERE contract_id = $1 AND number > $2", [contractId, block.toString()]);
}
