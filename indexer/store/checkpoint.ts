/** checkpoints: the last block fully applied, per contract. Indexing resumes after it. */
import type pg from "pg";
import type { Hex } from "viem";
import { fromHex, toHex } from "../../chain/hex";
import { withTransaction } from "../../db/connection";
import { writeStartBlock } from "./blocks";

export interface Checkpoint {
  number: bigint;
  hash: Hex;
  /** Unix seconds. */
  time: bigint;
}

export async function readCheckpoint(db: pg.Pool | pg.PoolClient, contractId: number): Promise<Checkpoint | null> {
  const { rows } = await db.query<{ block_number: string; block_hash: Buffer; t: string }>(
    "SELECT block_number, block_hash, extract(epoch FROM block_time)::bigint AS t FROM checkpoints WHERE contract_id = $1",
    [contractId],
  );
  const r = rows[0];
  return r ? { number: BigInt(r.block_number), hash: toHex(r.block_hash), time: BigInt(r.t) } : null;
}

/**
 * Moves the checkpoint to `block`: forward at the end of a batch, back to the common ancestor in
 * a reorg. Always inside the transaction that wrote (or reverted) the rows up to it.
 */
export async function saveCheckpoint(client: pg.PoolClient, contractId: number, block: Checkpoint): Promise<void> {
  await client.query(
    `INSERT INTO checkpoints (contract_id, block_number, block_hash, block_time, updated_at)
     VALUES ($1, $2, $3, to_timestamp($4), now())
     ON CONFLICT (contract_id) DO UPDATE
       SET block_number = EXCLUDED.block_number, block_hash = EXCLUDED.block_hash,
           block_time = EXCLUDED.block_time, updated_at = now()`,
    [contractId, block.number.toString(), fromHex(block.hash), Number(block.time)],
  );
}

/**
 * Writes the starting point (the block before the deploy block) when nothing is indexed yet, so
 * the first batch is linked to a known parent like every later one. Never moves an existing
 * checkpoint.
 */
export async function initCheckpoint(pool: pg.Pool, contractId: number, start: Checkpoint): Promise<void> {
  await withTransaction(pool, async (client) => {
    await writeStartBlock(client, contractId, start);
    await client.query(
      `INSERT INTO checkpoints (contract_id, block_number, block_hash, block_time)
       VALUES ($1, $2, $3, to_timestamp($4)) ON CONFLICT (contract_id) DO NOTHING`,
      [contractId, start.number.toString(), fromHex(start.hash), Number(start.time)],
    );
  });
}
