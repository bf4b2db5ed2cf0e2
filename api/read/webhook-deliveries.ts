import type { Tx } from "./types";

// The delivery log as the tenant's operators see it. Deliveries are written by the webhooks module
// (webhooks/outbox.ts fans events out, webhooks/delivery.ts attempts them); the API reads them and
// may only re-queue a dead one, through meterline_redeliver_webhook (migration 046), which it calls
// here: it has no UPDATE grant on the table.

export type DeliveryStatus = "pending" | "delivered" | "dead";

export interface DeliveryRow {
  id: string;
  endpoint_id: string;
  event_id: string;
  event_type: string;
  event_created_at: Date;
  status: DeliveryStatus;
  attempts: number;
  next_attempt_at: Date;
  last_status_code: number | null;
  last_error: string | null;
  delivered_at: Date | null;
  created_at: Date;
  /** created_at in microseconds since the epoch: the exact cursor key (a Date keeps milliseconds). */
  created_us: string;
}

export interface DeliveryFilter {
  endpointId: string | null;
  status: DeliveryStatus | null;
}

const COLUMNS = `d.id::text, d.endpoint_id::text, d.event_id::text, o.event_type, o.created_at AS event_created_at, d.status, d.attempts,
  d.next_attempt_at, d.last_status_code, d.last_error, d.delivered_at, d.created_at,
  (extract(epoch FROM d.created_at) * 1000000)::bigint::text AS created_us`;

const FILTER = "d.tenant_id = $1 AND ($2::uuid IS NULL OR d.endpoint_id = $2) AND ($3::text IS NULL OR d.status = $3)";

/** Newest first; `limit` deliveries after the cursor (created_at in microseconds, id). */
export async function pageDeliveries(c: Tx, tenantId: string | null, filter: DeliveryFilter, after: { createdUs: string; id: string } | null, limit: number): Promise<DeliveryRow[]> {
  const { rows } = await c.query<DeliveryRow>(
    `SELECT ${COLUMNS}
       FROM webhook_deliveries d JOIN webhook_outbox o ON o.id = d.event_id
      WHERE ${FILTER}
        AND ($4::bigint IS NULL OR (d.created_at, d.id) < (timestamptz 'epoch' + $4::bigint * interval '1 microsecond', $5::uuid))
      ORDER BY d.created_at DESC, d.id DESC LIMIT $6`,
    [tenantId, filter.endpointId, filter.status, after?.createdUs ?? null, after?.id ?? null, limit],
  );
  return rows;
}

export async function countDeliveries(c: Tx, tenantId: string | null, filter: DeliveryFilter): Promise<number> {
  const { rows } = await c.query<{ n: number }>(`SELECT count(*)::int AS n FROM webhook_deliveries d WHERE ${FILTER}`, [tenantId, filter.endpointId, filter.status]);
  return rows[0]!.n;
}

export async function findDelivery(c: Tx, tenantId: string, id: string): Promise<DeliveryRow | null> {
  const { rows } = await c.query<DeliveryRow>(
    `SELECT ${COLUMNS} FROM webhook_deliveries d JOIN webhook_outbox o ON o.id = d.event_id WHERE d.tenant_id = $1 AND d.id = $2`,
    [tenantId, id],
  );
  return rows[0] ?? null;
}

/**
 * Re-queues a dead delivery of the transaction's tenant. Returns the status it had (only "dead"
 * changed anything), or null when the tenant has no such delivery.
 */
export async function redeliverDead(c: Tx, id: string): Promise<DeliveryStatus | null> {
  const { rows } = await c.query<{ prior: DeliveryStatus | null }>("SELECT meterline_redeliver_webhook($1::uuid) AS prior", [id]);
  return rows[0]?.prior ?? null;
}
