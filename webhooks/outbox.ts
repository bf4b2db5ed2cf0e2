import type pg from "pg";
import type { WebhookEventType } from "./events";

/**
 * Records a webhook event in the transactional outbox on the caller's connection, so it commits or
 * rolls back with the change that caused it, and fans it out to subscribed endpoints. `key` makes
 * the event idempotent: recording the same key twice is a no-op (returns null).
 */
export async function enqueueEvent(
  client: Pick<pg.PoolClient, "query">,
  tenantId: string,
  type: WebhookEventType,
  key: string,
  payload: Record<string, unknown>,
): Promise<string | null> {
  const { rows } = await client.query<{ id: string | null }>("SELECT enqueue_webhook_event($1, $2, $3, $4) AS id", [
    tenantId,
    type,
    key,
    JSON.stringify(payload),
  ]);
  return rows[0]?.id ?? null;
}
