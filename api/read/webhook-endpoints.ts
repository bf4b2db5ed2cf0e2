import type { WebhookEventType } from "../../webhooks/events";
import type { Tx } from "./types";

// Creating, rotating and deleting endpoints is the webhooks module's (webhooks/endpoints.ts): it
// owns secrets at rest. The API only lists what is there.
export interface EndpointRow {
  id: string;
  url: string;
  event_types: WebhookEventType[];
  created_at: Date;
  rotated_at: Date | null;
}

const ENDPOINT = "SELECT id::text, url, event_types, created_at, rotated_at FROM webhook_endpoints WHERE tenant_id = $1";

export async function listEndpoints(c: Tx, tenantId: string | null): Promise<EndpointRow[]> {
  return (await c.query<EndpointRow>(`${ENDPOINT} ORDER BY created_at, id`, [tenantId])).rows;
}

export async function findEndpoint(c: Tx, tenantId: string, endpointId: string): Promise<EndpointRow | null> {
  const { rows } = await c.query<EndpointRow>(`${ENDPOINT} AND id = $2`, [tenantId, endpointId]);
  return rows[0] ?? null;
}
