import { toHex, toHexOrNull } from "../../chain/hex";
import { citationKey, type RecordCitation } from "../../rating/citation";
import type { OnchainRow } from "../read/types";
import type { MeterRow } from "../read/meters";
import type { TenantRow } from "../read/tenants";
import { toGlobalId } from "./ids";

/** Rows as GraphQL objects: the one place a column becomes a field. */
export const onchainRef = (r: OnchainRow) => ({
  chainId: r.chain_id,
  txHash: toHex(r.tx_hash),
  logIndex: r.log_index,
  blockNumber: r.block_number,
  blockHash: toHexOrNull(r.block_hash),
  commitment: toHexOrNull(r.commitment),
});

export const tenantNode = (r: TenantRow) => ({
  id: toGlobalId("Tenant", r.id),
  slug: r.slug,
  timeZone: r.time_zone,
  chainId: r.chain_id,
  onchainId: r.onchain_id,
});

export const meterNode = (r: MeterRow) => ({
  id: toGlobalId("Meter", r.tenant_id, r.meter_id),
  meterId: r.meter_id,
  name: r.name,
  config: r.aggregation ? { aggregation: r.aggregation, unit: r.unit, displayName: r.display_name } : null,
  onchain: onchainRef(r),
});

/** A record as billing documents cite it (rating/citation.ts), identity first. */
export const citationNode = (r: RecordCitation) => ({
  identity: citationKey(r),
  reporter: r.reporter,
  sequence: r.sequence,
  meterId: r.meterId,
  periodStart: r.periodStart,
  periodEnd: r.periodEnd,
  quantity: r.quantity,
  ref: r.ref,
  seenAt: r.seenAt,
});
