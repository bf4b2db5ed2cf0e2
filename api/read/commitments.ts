import { Where, type OnchainRow, type Tx } from "./types";

export type CommitmentStatus = "committed" | "revealed" | "expired";

export interface CommitmentRow extends OnchainRow {
  reporter: Buffer;
  commitment: Buffer;
  relayer: Buffer;
  status: CommitmentStatus;
  block_time: Date;
  resolved_tx_hash: Buffer | null;
  resolved_log_index: number | null;
  resolved_block_number: string | null;
  resolved_block_hash: Buffer | null;
}

export interface CommitmentKey {
  blockNumber: string;
  chainId: string;
  txHash: Buffer;
  logIndex: string;
}

function filtered(tenantId: string | null, status: CommitmentStatus | null): Where {
  const where = new Where().add((n) => `tenant_id = $${n}`, tenantId);
  if (status) where.add((n) => `status = $${n}`, status);
  return where;
}

/** Newest first; `limit` rows after `after`. */
export async function pageCommitments(
  c: Tx,
  tenantId: string | null,
  status: CommitmentStatus | null,
  after: CommitmentKey | null,
  limit: number,
): Promise<CommitmentRow[]> {
  const where = filtered(tenantId, status);
  if (after) {
    where.params.push(after.blockNumber, after.chainId, after.txHash, after.logIndex);
    const n = where.params.length;
    where.parts.push(`(block_number, chain_id, tx_hash, log_index) < ($${n - 3}, $${n - 2}, $${n - 1}, $${n})`);
  }
  where.params.push(limit);
  const { rows } = await c.query<CommitmentRow>(
    `SELECT * FROM commitments WHERE ${where.sql}
     ORDER BY block_number DESC, chain_id DESC, tx_hash DESC, log_index DESC LIMIT $${where.params.length}`,
    where.params,
  );
  return rows;
}

export async function countCommitments(c: Tx, tenantId: string | null, status: CommitmentStatus | null): Promise<number> {
  const where = filtered(tenantId, status);
  const { rows } = await c.query<{ n: number }>(`SELECT count(*)::int AS n FROM commitments WHERE ${where.sql}`, where.params);
  return rows[0]!.n;
}
