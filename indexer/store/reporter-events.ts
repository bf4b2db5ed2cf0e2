import type pg from "pg";
import { hexDigits } from "../../chain/hex";
import { positionColumns, type EventOf } from "./columns";
import type { ContractRef } from "./contract";

/** Appends reporter authorizations and revocations, keyed by log; tenants must be written first. */
export async function writeReporterEvents(
  client: pg.PoolClient,
  contract: ContractRef,
  events: readonly EventOf<"ReporterAuthorized" | "ReporterRevoked">[],
): Promise<void> {
  if (events.length === 0) return;
  await client.query(
    `INSERT INTO reporter_events (tenant_id, reporter, authorized, chain_id, tx_hash, log_index, block_number, block_hash)
     SELECT t.id, decode(u.reporter, 'hex'), u.authorized, $2, decode(u.tx, 'hex'), u.li, u.bn, decode(u.bh, 'hex')
     FROM unnest($3::int[], $4::text[], $5::bool[], $6::text[], $7::int[], $8::bigint[], $9::text[])
       AS u(onchain_tenant, reporter, authorized, tx, li, bn, bh)
     LEFT JOIN tenants t ON t.contract_id = $1 AND t.onchain_id = u.onchain_tenant
     ON CONFLICT DO NOTHING`,
    [
      contract.id,
      contract.chainId,
      events.map((e) => e.tenantId),
      events.map((e) => hexDigits(e.reporter)),
      events.map((e) => e.kind === "ReporterAuthorized"),
      ...positionColumns(events),
    ],
  );
}

/** Removes reporter events above `block` (a reorg). */
export async function deleteReporterEventsAbove(client: pg.PoolClient, contractId: number, block: bigint): Promise<void> {
  await client.query(
    `DELETE FROM reporter_events e USING tenants t
     WHERE e.tenant_id = t.id AND t.contract_id = $1 AND e.block_number > $2`,
    [contractId, block.toString()],
  );
}
