/**
 * The one list of webhook event types. Endpoints subscribe to these, the outbox records only these,
 * and migration 010's CHECK on webhook_outbox.event_type must list exactly the same set
 * (test/webhooks/events.test.ts reads the constraint back from the database).
 */
export const WEBHOOK_EVENT_TYPES = [
  "quota.threshold_crossed",
  "invoice.finalized",
  "usage.commitment_expired",
  "credit_note.issued",
  /** An invoiced record left the canonical chain (a reorg deeper than the confirmations); it was credited. */
  "billing.record_reorged",
] as const;

export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

export function isWebhookEventType(value: string): value is WebhookEventType {
  return (WEBHOOK_EVENT_TYPES as readonly string[]).includes(value);
}
