import type pg from "pg";
import { bytes32ToText, hexDigits } from "../../chain/hex";
import { positionColumns, type EventOf } from "./columns";
import type { ContractRef } from "./contract";

/**
 * Registers tenants. Keyed by (contract, on-chain id): a replayed batch adds nothing. The slug is
 * what the platform recorded for the on-chain name (onchain_tenant_names, see names.ts); a name
 * without a mapping is a plain registration and its text is the slug (a hash it cannot label
 * stays in hex until the mapping is recorded).
 */
export async function writeTenants(client: pg.PoolClient, contract: ContractRef, events: readonly EventOf<"TenantRegistered">[]): Promise<void> {
  if (events.length === 0) return;
  await client.query(
    `INSERT INTO tenants (contract_id, onchain_id, slug, onchain_name, chain_id, tx_hash, log_index, block_number, block_hash)
     SELECT $1, u.onchain_id, COALESCE(n.slug, u.text), decode(u.name, 'hex'), $2, decode(u.tx, 'hex'), u.li, u.bn, decode(u.bh, 'hex')
     FROM unnest($3::int[], $4::text[], $5::text[], $6::text[], $7::int[], $8::bigint[], $9::text[]) AS u(onchain_id, text, name, tx, li, bn, bh)
     LEFT JOIN onchain_tenant_names n ON n.onchain_name = decode(u.name, 'hex')
     ON CONFLICT (contract_id, onchain_id) DO NOTHING`,
    [
      contract.id,
      contract.chainId,
      events.map((e) => e.tenantId),
      events.map((e) => bytes32ToText(e.name)),
      events.map((e) => hexDigits(e.name)),
      ...positionColumns(events),
    ],
  );
}

/** Removes tenants registered above `block` (a reorg). Their meters and records must already be gone. */
export async function deleteTenantsAbove(client: pg.PoolClient, contractId: number, block: bigint): Promise<void> {
  await client.query("DELETE FROM tenants WHERE contract_id = $1 AND block_number > $2", [contractId, block.toString()]);
}
