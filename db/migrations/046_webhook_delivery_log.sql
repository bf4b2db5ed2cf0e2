-- The delivery log and dead-letter redelivery for tenant operators (GraphQL webhookDeliveries and
-- redeliverWebhook). meterline_api has read webhook_deliveries since 020, confined to the tenant of
-- its transaction by the row-level policy every tenant table carries (meterline_tenant_isolation,
-- tenant_id = meterline_current_tenant()). The log also names each delivery's event type: the API
-- reads the outbox's identifying columns, never the payload (also under the tenant policy).
GRANT SELECT (tenant_id, id, event_type, created_at) ON webhook_outbox TO meterline_api;

-- The log pages newest first within a tenant (optionally one endpoint).
CREATE INDEX webhook_deliveries_log ON webhook_deliveries (tenant_id, created_at DESC, id DESC);

-- Redelivery is the one change the API may make to a delivery, so it gets no UPDATE grant on the
-- table (which would let it mark anything delivered): this function re-queues one DEAD delivery of
-- the caller's tenant under its same id (receivers deduplicate by it) with a fresh attempt budget,
-- keeping the last failure on record until the next attempt replaces it. It returns the status the
-- delivery had, so the caller can say why nothing changed, and NULL when the tenant of the
-- transaction has no such delivery (another tenant's id looks exactly like a missing one).
CREATE FUNCTION meterline_redeliver_webhook(p_id uuid) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  prior text;
BEGIN
  SELECT status INTO prior FROM webhook_deliveries
   WHERE id = p_id AND tenant_id = meterline_current_tenant()
   FOR UPDATE;
  IF prior = 'dead' THEN
    UPDATE webhook_deliveries SET status = 'pending', attempts = 0, next_attempt_at = now() WHERE id = p_id;
  END IF;
  RETURN prior;
END
$$;
REVOKE ALL ON FUNCTION meterline_redeliver_webhook(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION meterline_redeliver_webhook(uuid) TO meterline_api;
