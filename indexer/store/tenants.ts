import type pg from "pg";
import { bytes32ToText } from "../../chain/hex";
import { positionColumns, type EventOf } from "./columns";
import type { ContractRef } from "./contract";

/** Registers tenants. Keyed by (contract, on-chain id): a replayed batch adds nothing. */
export async function writeTenants(client: pg.PoolClient, contract: ContractRef, events: readonly EventOf<"TenantRegistered">[]): Promise<void> {
  if (events.length === 0) return;
  await client.query(
    `INSERT INTO tenants (contract_id, onchain_id, slug, chain_id, tx_hash, log_index, block_number, block_hash)
     SELECT $1, u.onchain_id, u.slug, $2, decode(u.tx, 'hex'), u.li, u.bn, decode(u.bh, 'hex')
     FROM unnest($3::int[], $4::text[], $5::text[], $6::int[], $7::bigint[], $8::text[]) AS u(onchain_id, slug, tx, li, bn, bh)
     ON CONFLICT (contract_id, onchain_id) DO NOTHING`,
    [contract.id, contract.chainId, events.map((e) => e.tenantId), events.map((e) => bytes32ToText(e.name)), ...positionColumns(events)],
  );
}

/** Removes tenants registered above `block` (a reorg). Their meters and records must already be gone. */
export async function deleteTenantsAbove(client: pg.PoolClient, contractId: number, block: bigint): Promise<void> {
  await client.query("DELETE FROM tenants WHERE contract_id = $1 AND block_number > $2", [contractId, block.toString()]);
}
