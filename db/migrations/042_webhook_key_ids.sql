-- Webhook signing secrets are sealed under a key ring: each secret names the key that sealed it, so
-- the ring can rotate (new secrets under the newest key, old ones still open, a re-encryption moves
-- them). Secrets written before carry the id of the single key they were sealed with: "default".
ALTER TABLE webhook_endpoints
  ADD COLUMN secret_key_id text NOT NULL DEFAULT 'default',
  ADD COLUMN previous_secret_key_id text;
UPDATE webhook_endpoints SET previous_secret_key_id = 'default' WHERE previous_secret_ciphertext IS NOT NULL;
ALTER TABLE webhook_endpoints ALTER COLUMN secret_key_id DROP DEFAULT;
ALTER TABLE webhook_endpoints ADD CONSTRAINT webhook_endpoints_previous_key CHECK ((previous_secret_ciphertext IS NULL) = (previous_secret_key_id IS NULL));

-- The re-encryption runs as the delivery service's role.
GRANT UPDATE (secret_ciphertext, secret_key_id, previous_secret_ciphertext, previous_secret_key_id) ON webhook_endpoints TO meterline_webhooks;

-- Retention: webhook delivery prunes delivered/dead deliveries and spent outbox events after
-- WEBHOOK_RETENTION_DAYS (webhooks/retention.ts).
GRANT DELETE ON webhook_deliveries, webhook_outbox TO meterline_webhooks;
CREATE INDEX webhook_deliveries_created ON webhook_deliveries (created_at) WHERE status <> 'pending';
