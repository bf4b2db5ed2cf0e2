import type pg from "pg";
import type { Address, Hex } from "viem";
import { fromHex, toHex } from "../../chain/hex";

/** The (chain, contract) the indexer writes for: its row id and where indexing starts. */
export interface ContractRef {
  id: number;
  chainId: number;
  address: Address;
  deployBlock: bigint;
}

export interface Checkpoint {
  number: bigint;
  hash: Hex;
  /** Unix seconds. */
  time: bigint;
}

/** Registers the chain and contract (idempotent) and returns the contract's row. */
export async function ensureContract(
  pool: pg.Pool,
  args: { chainId: number; address: Address; deployBlock: bigint; minRevealDelay: number | null; maxRevealDelay: number | null },
): Promise<ContractRef> {
  await pool.query("INSERT INTO chains (chain_id) VALUES ($1) ON CONFLICT DO NOTHING", [args.chainId]);
  const { rows } = await pool.query<{ id: number; deploy_block: string }>(
    `INSERT INTO contracts (chain_id, address, deploy_block, min_reveal_delay, max_reveal_delay)
     VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (chain_id, address) DO UPDATE
       SET min_reveal_delay = COALESCE(EXCLUDED.min_reveal_delay, contracts.min_reveal_delay),
           max_reveal_delay = COALESCE(EXCLUDED.max_reveal_delay, contracts.max_reveal_delay)
     RETURNING id, deploy_block`,
    [args.chainId, fromHex(args.address), args.deployBlock.toString(), args.minRevealDelay, args.maxRevealDelay],
  );
  const row = rows[0]!;
  // The first registration fixes the deploy block: a later, different setting must not silently
  // skip or re-read history that is already indexed.
  return { id: row.id, chainId: args.chainId, address: args.address, deployBlock: BigInt(row.deploy_block) };
}

export async function readCheckpoint(db: pg.Pool | pg.PoolClient, contractId: number): Promise<Checkpoint | null> {
  const { rows } = await db.query<{ block_number: string; block_hash: Buffer; t: string }>(
    "SELECT block_number, block_hash, extract(epoch FROM block_time)::bigint AS t FROM checkpoints WHERE contract_id = $1",
    [contractId],
  );
  const r = rows[0];
  return r ? { number: BigInt(r.block_number), hash: toHex(r.block_hash), time: BigInt(r.t) } : null;
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

/**
 * Writes the starting point (the block before the deploy block) when nothing is indexed yet, so
 * the first batch is linked to a known parent like every later one.
 */
export async function initCheckpoint(pool: pg.Pool, contractId: number, start: Checkpoint): Promise<void> {
  await pool.query(
    `WITH b AS (
       INSERT INTO blocks (contract_id, number, hash, parent_hash, block_time)
       VALUES ($1, $2, $3, $4, to_timestamp($5)) ON CONFLICT DO NOTHING
     )
     INSERT INTO checkpoints (contract_id, block_number, block_hash, block_time)
     VALUES ($1, $2, $3, to_timestamp($5)) ON CONFLICT (contract_id) DO NOTHING`,
    [contractId, start.number.toString(), fromHex(start.hash), Buffer.alloc(32), Number(start.time)],
  );
}
