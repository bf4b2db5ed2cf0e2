import type pg from "pg";
import { bytes32ToText, hexDigits } from "../../chain/hex";
import { positionColumns, type EventOf } from "./columns";
import type { ContractRef } from "./contract";

/**
 * Registers meters; their tenants must be written first (same batch or earlier). The tenant is
 * resolved in SQL with a LEFT JOIN, so an unknown one fails the NOT NULL constraint loudly
 * instead of dropping the row. The name is what the platform recorded for the tenant's on-chain
 * meter name (onchain_meter_names, see names.ts), else the plain on-chain text.
 */
export async function writeMeters(client: pg.PoolClient, contract: ContractRef, events: readonly EventOf<"MeterRegistered">[]): Promise<void> {
  if (events.length === 0) return;
  await client.query(
    `INSERT INTO meters (tenant_id, meter_id, name, onchain_name, chain_id, tx_hash, log_index, block_number, block_hash)
     SELECT t.id, u.meter_id, COALESCE(n.name, u.text), decode(u.name, 'hex'), $2, decode(u.tx, 'hex'), u.li, u.bn, decode(u.bh, 'hex')
     FROM unnest($3::int[], $4::int[], $5::text[], $6::text[], $7::text[], $8::int[], $9::bigint[], $10::text[])
       AS u(onchain_tenant, meter_id, text, name, tx, li, bn, bh)
     LEFT JOIN tenants t ON t.contract_id = $1 AND t.onchain_id = u.onchain_tenant
     LEFT JOIN onchain_meter_names n ON n.tenant_slug = t.slug AND n.onchain_name = decode(u.name, 'hex')
     ON CONFLICT DO NOTHING`,
    [
      contract.id,
      contract.chainId,
      events.map((e) => e.tenantId),
      events.map((e) => e.meterId),
      events.map((e) => bytes32ToText(e.name)),
      events.map((e) => hexDigits(e.name)),
      ...positionColumns(events),
    ],
  );
}

/** Removes meters registered above `block` (a reorg). Their records must already be gone. */
export async function deleteMetersAbove(client: pg.PoolClient, contractId: number, block: bigint): Promise<void> {
  await client.query(
    `DELETE FROM meters m USING tenants t WHERE m.tenant_id = t.id AND t.contract_id = $1 AND m.block_number > $2`,
    [contractId, block.toString()],
  );
}
