-- Least privilege: one database role per service, owning nothing, granted only what it uses.
--
-- Migrations run as the owner (the role that created the tables). The indexer, billing, webhook
-- delivery and the API each connect as, or as a member of, their own role:
--   meterline_indexer   writes chain-derived rows (tenants, meters, records, rollups, commitments)
--   meterline_billing   reads those, writes billing (invoices, credit notes, quotas, configuration)
--   meterline_webhooks  reads the outbox and endpoints, updates deliveries
--   meterline_api       reads a tenant's data under row-level security; writes configuration,
--                       corrections and webhook endpoints through the same billing code
-- None may TRUNCATE, own a table or bypass row-level security. A deployment creates login users
-- and grants them the role (GRANT meterline_billing TO billing_login); the tests connect as the
-- owner with `options=-c role=<role>`, which drops every privilege the role lacks.

DO $$
DECLARE
  r text;
BEGIN
  FOREACH r IN ARRAY ARRAY['meterline_indexer', 'meterline_billing', 'meterline_webhooks'] LOOP
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
      -- Roles are cluster-wide: another database of the same cluster may create it concurrently.
      BEGIN
        EXECUTE format('CREATE ROLE %I NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE', r);
      EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
      END;
    END IF;
    EXECUTE format('GRANT CONNECT, TEMPORARY ON DATABASE %I TO %I', current_database(), r);
    EXECUTE format('GRANT USAGE ON SCHEMA public TO %I', r);
    EXECUTE format('GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO %I', r);
  END LOOP;
END
$$;

-- Webhook events are recorded through this function only (the indexer's commitment trigger, billing,
-- the API's corrections): writers need no privileges on the outbox or deliveries themselves.
ALTER FUNCTION enqueue_webhook_event(bigint, text, text, jsonb) SECURITY DEFINER SET search_path = public, pg_temp;
REVOKE ALL ON FUNCTION enqueue_webhook_event(bigint, text, text, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION enqueue_webhook_event(bigint, text, text, jsonb) TO meterline_indexer, meterline_billing, meterline_api;

-- The single-writer leases (indexer, billing worker, webhook delivery).
GRANT SELECT, INSERT, UPDATE, DELETE ON indexer_leases TO meterline_indexer, meterline_billing, meterline_webhooks;

-- indexer
GRANT SELECT, INSERT, UPDATE, DELETE ON chains, contracts, checkpoints, blocks, tenants, meters, reporter_events,
  commitments, usage_records, usage_rollups TO meterline_indexer;

-- billing
GRANT SELECT ON chains, contracts, checkpoints, blocks, tenants, meters, usage_records, usage_rollups TO meterline_billing;
GRANT UPDATE (time_zone) ON tenants TO meterline_billing;
GRANT SELECT, INSERT, UPDATE, DELETE ON meter_configs, rate_plans, rate_plan_versions, plan_prices, price_tiers,
  subscriptions, quotas, invoice_counters, invoices, invoice_lines, invoice_line_records, credit_note_counters,
  billing_missing_records TO meterline_billing;
GRANT SELECT, INSERT ON quota_alerts, credit_notes, credit_note_lines, credit_note_records, billing_exclusions, audit_log TO meterline_billing;

-- webhook delivery
GRANT SELECT ON webhook_outbox, webhook_endpoints TO meterline_webhooks;
GRANT SELECT, UPDATE ON webhook_deliveries TO meterline_webhooks;

-- api: readiness reads the indexer's progress; corrections and reissues go through billing's code
-- (tables created since 020, e.g. credit_notes, have sequences 020's grant did not cover)
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO meterline_api;
GRANT SELECT ON checkpoints TO meterline_api;
GRANT UPDATE (time_zone) ON tenants TO meterline_api;
GRANT INSERT, UPDATE, DELETE ON invoice_counters, invoices, invoice_lines, invoice_line_records, credit_note_counters,
  billing_missing_records TO meterline_api;
GRANT SELECT ON invoice_counters, credit_note_counters, billing_missing_records, blocks TO meterline_api;
GRANT INSERT ON credit_notes, credit_note_lines, credit_note_records, billing_exclusions TO meterline_api;

-- Row-level security: services see every tenant (they work across tenants); the API sees the tenant
-- of its transaction only (020). Every tenant table, present and future, gets both policies.
CREATE OR REPLACE FUNCTION meterline_apply_tenant_rls() RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  t record;
  n integer := 0;
BEGIN
  FOR t IN
    SELECT c.oid, c.relname
    FROM pg_class c
    JOIN pg_namespace ns ON ns.oid = c.relnamespace
    JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped
    WHERE ns.nspname = 'public' AND c.relkind IN ('r', 'p')
  LOOP
    EXECUTE format('ALTER TABLE public.%I ENABLE ROW LEVEL SECURITY', t.relname);
    EXECUTE format('ALTER TABLE public.%I FORCE ROW LEVEL SECURITY', t.relname);
    IF NOT EXISTS (SELECT 1 FROM pg_policy WHERE polrelid = t.oid AND polname = 'meterline_tenant_isolation') THEN
      EXECUTE format(
        'CREATE POLICY meterline_tenant_isolation ON public.%I TO meterline_api
           USING (tenant_id = meterline_current_tenant()) WITH CHECK (tenant_id = meterline_current_tenant())',
        t.relname);
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_policy WHERE polrelid = t.oid AND polname = 'meterline_service') THEN
      EXECUTE format('CREATE POLICY meterline_service ON public.%I TO %I USING (true) WITH CHECK (true)',
        t.relname, current_user);
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_policy WHERE polrelid = t.oid AND polname = 'meterline_services') THEN
      EXECUTE format('CREATE POLICY meterline_services ON public.%I TO meterline_indexer, meterline_billing, meterline_webhooks
                        USING (true) WITH CHECK (true)', t.relname);
    END IF;
    n := n + 1;
  END LOOP;
  RETURN n;
END;
$$;
SELECT meterline_apply_tenant_rls();
CREATE POLICY meterline_services ON tenants TO meterline_indexer, meterline_billing, meterline_webhooks USING (true) WITH CHECK (true);
