import { randomBytes } from "node:crypto";
import type pg from "pg";

/**
 * Writes chain-derived rows (contracts, tenants, meters, usage records, checkpoints) the way the
 * indexer does, for billing tests that do not need a chain. Tests that need one use chain-run.ts.
 */
export const CHAIN_ID = 31337;

const bytes = (n: number) => randomBytes(n);

export async function addContract(pool: pg.Pool, address: Buffer = bytes(20), chainId = CHAIN_ID): Promise<number> {
  await pool.query("INSERT INTO chains (chain_id, name) VALUES ($1, 'test') ON CONFLICT DO NOTHING", [chainId]);
  const { rows } = await pool.query<{ id: number }>(
    "INSERT INTO contracts (chain_id, address, deploy_block) VALUES ($1, $2, 0) RETURNING id",
    [chainId, address],
  );
  return rows[0]!.id;
}

export async function addTenant(pool: pg.Pool, contractId: number, slug: string, onchainId: number, timeZone = "UTC"): Promise<string> {
  const { rows } = await pool.query<{ id: string }>(
    `INSERT INTO tenants (contract_id, onchain_id, slug, time_zone, chain_id, tx_hash, log_index, block_number, block_hash)
     VALUES ($1, $2, $3, $4, $5, $6, 0, 1, $7) RETURNING id`,
    [contractId, onchainId, slug, timeZone, CHAIN_ID, bytes(32), bytes(32)],
  );
  return rows[0]!.id;
}

export async function addMeter(pool: pg.Pool, tenantId: string, meterId: number, name: string): Promise<void> {
  await pool.query(
    `INSERT INTO meters (tenant_id, meter_id, name, chain_id, tx_hash, log_index, block_number, block_hash)
     VALUES ($1, $2, $3, $4, $5, 0, 1, $6)`,
    [tenantId, meterId, name, CHAIN_ID, bytes(32), bytes(32)],
  );
}

let sequence = 0n;

export interface RecordInput {
  tenantId: string;
  contractId: number;
  meterId: number;
  at: Date;
  quantity: bigint;
  blockNumber: number;
  txHash?: Buffer;
  logIndex?: number;
  recordIndex?: number;
}

export async function addRecord(pool: pg.Pool, r: RecordInput): Promise<{ txHash: Buffer; logIndex: number; recordIndex: number }> {
  const txHash = r.txHash ?? bytes(32);
  const logIndex = r.logIndex ?? 0;
  const recordIndex = r.recordIndex ?? 0;
  sequence += 1n;
  await pool.query(
    `INSERT INTO usage_records (tenant_id, meter_id, period_start, period_end, quantity, sequence, ref, reporter, commitment,
                                contract_id, chain_id, tx_hash, log_index, record_index, block_number, block_hash, block_time)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)`,
    [r.tenantId, r.meterId, r.at, new Date(r.at.getTime() + 60_000), r.quantity.toString(), sequence.toString(), bytes(32), bytes(20),
      bytes(32), r.contractId, CHAIN_ID, txHash, logIndex, recordIndex, r.blockNumber, bytes(32), r.at],
  );
  return { txHash, logIndex, recordIndex };
}

/** The indexer's checkpoint: `block` with time `time` (default: now) is fully indexed. */
export async function setCheckpoint(pool: pg.Pool, contractId: number, block: number, time: Date = new Date()): Promise<void> {
  await pool.query(
    `INSERT INTO checkpoints (contract_id, block_number, block_hash, block_time) VALUES ($1, $2, $3, $4)
     ON CONFLICT (contract_id) DO UPDATE SET block_number = EXCLUDED.block_number, block_hash = EXCLUDED.block_hash,
       block_time = EXCLUDED.block_time`,
    [contractId, block, bytes(32), time],
  );
}
