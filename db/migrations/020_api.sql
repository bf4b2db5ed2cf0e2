-- GraphQL API: its database role, row-level security on every tenant table, the audit log.
--
-- The API connects with any login role that is a member of meterline_api and runs every query in
-- a transaction after SET LOCAL ROLE meterline_api (via set_config('role', ..., true)) and
-- set_config('meterline.tenant_id', <id>, true). meterline_api owns nothing and is not a
-- superuser, so FORCEd row-level security applies to it; a forgotten or failed set_config leaves
-- the setting empty and every policy then matches no row.

DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'meterline_api') THEN
    CREATE ROLE meterline_api NOLOGIN NOSUPERUSER NOBYPASSRLS NOINHERIT;
  END IF;
END
$$;

-- Roles are cluster-global; privileges are per database.
DO $$
BEGIN
  EXECUTE format('GRANT CONNECT ON DATABASE %I TO meterline_api', current_database());
END
$$;
GRANT USAGE ON SCHEMA public TO meterline_api;

-- The tenant of the current transaction, NULL when none was set.
CREATE FUNCTION meterline_current_tenant() RETURNS bigint
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT nullif(current_setting('meterline.tenant_id', true), '')::bigint
$$;

-- Slug (the token's tenant claim) -> tenant id, callable before a tenant is set. SECURITY DEFINER
-- reveals only whether a slug exists and its id, both of which the caller's token already names.
CREATE FUNCTION meterline_tenant_id(p_slug text) RETURNS bigint
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT id FROM tenants WHERE slug = p_slug
$$;
REVOKE ALL ON FUNCTION meterline_tenant_id(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION meterline_tenant_id(text) TO meterline_api;

-- ----------------------------------------------------------------- audit log

-- Append-only: meterline_api may only INSERT and SELECT, and a trigger rejects UPDATE, DELETE and
-- TRUNCATE for every role, the owner included.
CREATE TABLE audit_log (
  tenant_id bigint NOT NULL REFERENCES tenants (id),
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at timestamptz NOT NULL DEFAULT now(),
  subject text NOT NULL,
  platform boolean NOT NULL DEFAULT false,
  action text NOT NULL,
  entity_type text NOT NULL,
  entity_id text,
  changes jsonb,
  ip text,
  user_agent text,
  request_id text
);
CREATE INDEX audit_log_tenant ON audit_log (tenant_id, id);

CREATE FUNCTION audit_log_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_log is append-only' USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

-- ------------------------------------------------------- row-level security

-- Enables and forces row-level security with the tenant policy on every table of the public
-- schema that has a tenant_id column. Idempotent: every migration that adds a tenant table must
-- end with SELECT meterline_apply_tenant_rls(); (an event trigger below does it automatically
-- where the migrating role may create one). The role running this keeps full access through its
-- own policy: the indexer and billing write as that role.
CREATE FUNCTION meterline_apply_tenant_rls() RETURNS integer
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
    n := n + 1;
  END LOOP;
  RETURN n;
END;
$$;

SELECT meterline_apply_tenant_rls();

-- tenants has no tenant_id: a tenant sees its own row.
ALTER TABLE tenants ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenants FORCE ROW LEVEL SECURITY;
CREATE POLICY meterline_tenant_isolation ON tenants TO meterline_api USING (id = meterline_current_tenant());
DO $$
BEGIN
  EXECUTE format('CREATE POLICY meterline_service ON tenants TO %I USING (true) WITH CHECK (true)', current_user);
END
$$;

-- Tables created later by other migrations get the policy at creation, when this role may create
-- event triggers (superuser: the embedded database and CI); elsewhere each such migration calls
-- meterline_apply_tenant_rls() itself.
CREATE FUNCTION meterline_rls_on_create() RETURNS event_trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_event_trigger_ddl_commands() WHERE command_tag = 'CREATE TABLE' AND schema_name = 'public') THEN
    PERFORM meterline_apply_tenant_rls();
  END IF;
END;
$$;
DO $$
BEGIN
  IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
     AND NOT EXISTS (SELECT 1 FROM pg_event_trigger WHERE evtname = 'meterline_rls_on_create') THEN
    CREATE EVENT TRIGGER meterline_rls_on_create ON ddl_command_end WHEN TAG IN ('CREATE TABLE')
      EXECUTE FUNCTION meterline_rls_on_create();
  END IF;
END
$$;

-- ------------------------------------------------------------- privileges

-- Read access: the tenant's chain data, billing data and audit log (rows filtered by policy).
GRANT SELECT ON chains, contracts, tenants, meters, reporter_events, commitments, usage_records, usage_rollups,
  meter_configs, rate_plans, rate_plan_versions, plan_prices, price_tiers, subscriptions, invoices, invoice_lines,
  invoice_line_records, quotas, quota_alerts, quota_status, webhook_endpoints, webhook_deliveries, audit_log
  TO meterline_api;
-- Configuration written through admin and operator mutations.
GRANT INSERT, UPDATE, DELETE ON meter_configs, rate_plans, rate_plan_versions, plan_prices, price_tiers, quotas,
  subscriptions, webhook_endpoints TO meterline_api;
GRANT INSERT ON audit_log TO meterline_api;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO meterline_api;

-- quotaAlert subscriptions: every crossing is announced to listening API processes.
CREATE FUNCTION meterline_notify_quota_alert() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('meterline_quota_alert', json_build_object(
    'tenantId', NEW.tenant_id::text, 'alertId', NEW.id::text, 'meterId', NEW.meter_id,
    'threshold', NEW.threshold, 'limit', NEW.limit_value::text, 'usage', NEW.usage::text,
    'periodStart', NEW.period_start, 'periodEnd', NEW.period_end, 'crossedAt', NEW.crossed_at)::text);
  RETURN NEW;
END;
$$;
CREATE TRIGGER quota_alerts_notify AFTER INSERT ON quota_alerts
  FOR EACH ROW EXECUTE FUNCTION meterline_notify_quota_alert();
