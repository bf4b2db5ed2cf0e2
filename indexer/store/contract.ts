import type pg from "pg";
import type { Address } from "viem";
import { fromHex } from "../../chain/hex";

/** The (chain, contract) the indexer writes for: its row id and where indexing starts. */
export interface ContractRef {
  id: number;
  chainId: number;
  address: Address;
  deployBlock: bigint;
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
