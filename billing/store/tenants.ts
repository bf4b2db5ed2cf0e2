import type { Queryable } from "./records";
import { toHex } from "../../chain/hex";

/** Who a tenant's documents are for and where its records live. */
export interface TenantParties {
  deployment: { chainId: string; address: string };
  tenant: { slug: string; onchainId: number };
  timeZone: string;
}

export async function loadTenantParties(db: Queryable, tenantId: string): Promise<TenantParties | null> {
  const { rows } = await db.query<{ slug: string; onchain_id: number; time_zone: string; chain_id: string; address: Buffer }>(
    `SELECT t.slug, t.onchain_id, t.time_zone, c.chain_id::text AS chain_id, c.address
       FROM tenants t JOIN contracts c ON c.id = t.contract_id WHERE t.id = $1`,
    [tenantId],
  );
  const t = rows[0];
  if (!t) return null;
  return { deployment: { chainId: t.chain_id, address: toHex(t.address) }, tenant: { slug: t.slug, onchainId: t.onchain_id }, timeZone: t.time_zone };
}

export async function listTenantIds(db: Queryable): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>("SELECT id::text AS id FROM tenants ORDER BY id");
  return rows.map((r) => r.id);
}

/** Highest block whose usage counts as final (indexer checkpoint minus confirmations), and the checkpoint's time. */
export async function chainProgress(db: Queryable, tenantId: string, confirmations: number): Promise<{ checkpoint: bigint; confirmedBlock: bigint; indexedTime: Date } | null> {
  const { rows } = await db.query<{ block_number: string; block_time: Date }>(
    "SELECT c.block_number::text AS block_number, c.block_time FROM checkpoints c JOIN tenants t ON t.contract_id = c.contract_id WHERE t.id = $1",
    [tenantId],
  );
  const head = rows[0];
  if (head === undefined) return null;
  const checkpoint = BigInt(head.block_number);
  const confirmed = checkpoint - BigInt(confirmations);
  return confirmed >= 0n ? { checkpoint, confirmedBlock: confirmed, indexedTime: head.block_time } : null;
}
