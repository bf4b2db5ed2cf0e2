-- Billing: meter configuration, rate plans, subscriptions, invoices, quotas and the webhook outbox.
-- Owned by indexer/billing, indexer/webhooks and indexer/audit. Conventions of 001 apply:
--   * tenant-owned tables start with tenant_id bigint NOT NULL REFERENCES tenants (id);
--   * money is numeric: *_minor columns are integer minor units (numeric(38,0)); unit prices are
--     decimal values in major units per unit with an explicit scale (numeric(38,18));
--   * quantities are numeric(38,0) (usage quantities are uint80 on chain).

-- How a meter's records aggregate over a billing period.
CREATE TABLE meter_configs (
  tenant_id bigint NOT NULL REFERENCES tenants (id),
  meter_id integer NOT NULL,
  aggregation text NOT NULL CHECK (aggregation IN ('SUM', 'COUNT', 'MAX')),
  unit text NOT NULL DEFAULT 'unit',
  display_name text NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, meter_id),
  FOREIGN KEY (tenant_id, meter_id) REFERENCES meters (tenant_id, meter_id)
);

-- A tenant's rate plan; prices live in immutable-by-convention versions with effective dates.
CREATE TABLE rate_plans (
  tenant_id bigint NOT NULL REFERENCES tenants (id),
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, name)
);

-- The version in force for a billing period is the one with the latest effective_from <= period start.
CREATE TABLE rate_plan_versions (
  tenant_id bigint NOT NULL REFERENCES tenants (id),
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  plan_id bigint NOT NULL REFERENCES rate_plans (id),
  version integer NOT NULL CHECK (version > 0),
  effective_from timestamptz NOT NULL,
  currency char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
  -- Digits of the currency's minor unit (USD 2, JPY 0, BHD 3).
  currency_exponent smallint NOT NULL DEFAULT 2 CHECK (currency_exponent BETWEEN 0 AND 6),
  -- Minimum charge per invoice; a 'minimum' line tops usage up to it.
  minimum_minor numeric(38, 0) NOT NULL DEFAULT 0 CHECK (minimum_minor >= 0),
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (plan_id, version),
  UNIQUE (plan_id, effective_from)
);

-- Price of one meter in a plan version.
--   per_unit:   quantity above included_units times unit_price;
--   graduated:  each tier prices the units that fall into it (price_tiers);
--   volume:     every unit at the price of the tier the whole billable quantity falls into;
--   package:    ceil(billable / package_size) packages at unit_price each.
CREATE TABLE plan_prices (
  tenant_id bigint NOT NULL REFERENCES tenants (id),
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  plan_version_id bigint NOT NULL REFERENCES rate_plan_versions (id),
  meter_id integer NOT NULL,
  model text NOT NULL CHECK (model IN ('per_unit', 'graduated', 'volume', 'package')),
  unit_price numeric(38, 18) CHECK (unit_price >= 0),
  included_units numeric(38, 0) NOT NULL DEFAULT 0 CHECK (included_units >= 0),
  package_size numeric(38, 0) CHECK (package_size > 0),
  UNIQUE (plan_version_id, meter_id),
  FOREIGN KEY (tenant_id, meter_id) REFERENCES meters (tenant_id, meter_id),
  CHECK (model NOT IN ('per_unit', 'package') OR unit_price IS NOT NULL),
  CHECK ((model = 'package') = (package_size IS NOT NULL))
);

-- Tiers of a graduated or volume price, ordered by tier_index; up_to is the inclusive upper bound
-- of billable units (NULL = unbounded, last tier only). flat_fee is charged once when a tier is used.
CREATE TABLE price_tiers (
  tenant_id bigint NOT NULL REFERENCES tenants (id),
  price_id bigint NOT NULL REFERENCES plan_prices (id) ON DELETE CASCADE,
  tier_index integer NOT NULL CHECK (tier_index >= 0),
  up_to numeric(38, 0) CHECK (up_to > 0),
  unit_price numeric(38, 18) NOT NULL CHECK (unit_price >= 0),
  flat_fee numeric(38, 18) NOT NULL DEFAULT 0 CHECK (flat_fee >= 0),
  PRIMARY KEY (price_id, tier_index)
);

-- Tenant -> plan over [starts_at, ends_at). Billing periods are calendar months in the tenant's
-- time zone (tenants.time_zone).
CREATE TABLE subscriptions (
  tenant_id bigint NOT NULL REFERENCES tenants (id),
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  plan_id bigint NOT NULL REFERENCES rate_plans (id),
  starts_at timestamptz NOT NULL,
  ends_at timestamptz,
  billing_interval text NOT NULL DEFAULT 'month' CHECK (billing_interval = 'month'),
  created_at timestamptz NOT NULL DEFAULT now(),
  CHECK (ends_at IS NULL OR ends_at > starts_at)
);
CREATE INDEX subscriptions_tenant ON subscriptions (tenant_id, starts_at);

-- Next invoice number per tenant, taken in the finalizing transaction: numbers have no gaps
-- because a rolled-back finalization rolls the counter back too.
CREATE TABLE invoice_counters (
  tenant_id bigint PRIMARY KEY REFERENCES tenants (id),
  last_number integer NOT NULL DEFAULT 0
);

-- One invoice per tenant and billing period [period_start, period_end).
CREATE TABLE invoices (
  tenant_id bigint NOT NULL REFERENCES tenants (id),
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  number integer CHECK (number > 0),
  period_start timestamptz NOT NULL,
  period_end timestamptz NOT NULL,
  time_zone text NOT NULL,
  status text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'finalized')),
  currency char(3) NOT NULL,
  currency_exponent smallint NOT NULL,
  total_minor numeric(38, 0) NOT NULL DEFAULT 0,
  plan_version_id bigint NOT NULL REFERENCES rate_plan_versions (id),
  plan_snapshot jsonb NOT NULL,
  -- Highest block whose usage an invoice includes (checkpoint - confirmations at finalization).
  confirmed_block bigint,
  content_hash bytea CHECK (octet_length(content_hash) = 32),
  finalized_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, period_start),
  UNIQUE (tenant_id, number),
  CHECK (period_start < period_end),
  CHECK ((status = 'finalized') = (number IS NOT NULL AND content_hash IS NOT NULL AND finalized_at IS NOT NULL))
);
CREATE INDEX invoices_tenant_status ON invoices (tenant_id, status, period_start);

-- usage: a meter's usage in the period; adjustment: late usage of an earlier, finalized period
-- (adjusts_period_*), priced as price(base + late) - price(base) with that period's plan;
-- minimum: tops the invoice up to the plan's minimum.
CREATE TABLE invoice_lines (
  tenant_id bigint NOT NULL REFERENCES tenants (id),
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  invoice_id bigint NOT NULL REFERENCES invoices (id) ON DELETE CASCADE,
  line_no integer NOT NULL CHECK (line_no > 0),
  kind text NOT NULL CHECK (kind IN ('usage', 'adjustment', 'minimum')),
  meter_id integer,
  description text NOT NULL,
  aggregation text CHECK (aggregation IN ('SUM', 'COUNT', 'MAX')),
  -- Aggregated quantity of the line's records.
  quantity numeric(38, 0) NOT NULL DEFAULT 0,
  -- adjustment: aggregated quantity already billed for the original period.
  base_quantity numeric(38, 0),
  amount_minor numeric(38, 0) NOT NULL,
  adjusts_period_start timestamptz,
  adjusts_period_end timestamptz,
  adjusts_invoice_id bigint REFERENCES invoices (id),
  -- Plan version whose prices this line used (the original period's for adjustments).
  plan_version_id bigint REFERENCES rate_plan_versions (id),
  UNIQUE (invoice_id, line_no),
  CHECK ((kind = 'adjustment') = (adjusts_period_start IS NOT NULL)),
  CHECK (kind = 'minimum' OR meter_id IS NOT NULL)
);
CREATE INDEX invoice_lines_invoice ON invoice_lines (invoice_id);

-- The usage records behind a line. No foreign key to usage_records: a finalized invoice keeps its
-- evidence even if the indexer later deletes a record (the audit reports that as drift).
CREATE TABLE invoice_line_records (
  tenant_id bigint NOT NULL REFERENCES tenants (id),
  line_id bigint NOT NULL REFERENCES invoice_lines (id) ON DELETE CASCADE,
  chain_id bigint NOT NULL,
  tx_hash bytea NOT NULL CHECK (octet_length(tx_hash) = 32),
  log_index integer NOT NULL,
  record_index integer NOT NULL,
  commitment bytea NOT NULL CHECK (octet_length(commitment) = 32),
  block_number bigint NOT NULL,
  meter_id integer NOT NULL,
  period_start timestamptz NOT NULL,
  period_end timestamptz NOT NULL,
  quantity numeric(25, 0) NOT NULL,
  PRIMARY KEY (line_id, chain_id, tx_hash, log_index, record_index)
);
CREATE INDEX invoice_line_records_key ON invoice_line_records (chain_id, tx_hash, log_index, record_index);

-- Finalized invoices, their lines and line records are immutable for every role, enforced here
-- rather than in application code. A draft may become finalized exactly once.
CREATE FUNCTION billing_reject_finalized_invoice() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF OLD.status = 'finalized' THEN
    RAISE EXCEPTION 'invoice % is finalized and immutable', OLD.id USING ERRCODE = 'integrity_constraint_violation';
  END IF;
  IF TG_OP = 'DELETE' THEN
    RETURN OLD;
  END IF;
  RETURN NEW;
END;
$$;

CREATE TRIGGER invoices_immutable BEFORE UPDATE OR DELETE ON invoices
  FOR EACH ROW EXECUTE FUNCTION billing_reject_finalized_invoice();

CREATE FUNCTION billing_reject_finalized_line() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  inv bigint;
BEGIN
  IF TG_OP = 'DELETE' THEN inv := OLD.invoice_id; ELSE inv := NEW.invoice_id; END IF;
  IF TG_OP = 'UPDATE' AND OLD.invoice_id <> NEW.invoice_id THEN
    IF EXISTS (SELECT 1 FROM invoices WHERE id = OLD.invoice_id AND status = 'finalized') THEN
      RAISE EXCEPTION 'invoice % is finalized and immutable', OLD.invoice_id USING ERRCODE = 'integrity_constraint_violation';
    END IF;
  END IF;
  IF EXISTS (SELECT 1 FROM invoices WHERE id = inv AND status = 'finalized') THEN
    RAISE EXCEPTION 'invoice % is finalized and immutable', inv USING ERRCODE = 'integrity_constraint_violation';
  END IF;
  IF TG_OP = 'DELETE' THEN
    RETURN OLD;
  END IF;
  RETURN NEW;
END;
$$;

CREATE TRIGGER invoice_lines_immutable BEFORE INSERT OR UPDATE OR DELETE ON invoice_lines
  FOR EACH ROW EXECUTE FUNCTION billing_reject_finalized_line();

CREATE FUNCTION billing_reject_finalized_line_record() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  line bigint;
BEGIN
  IF TG_OP = 'DELETE' THEN line := OLD.line_id; ELSE line := NEW.line_id; END IF;
  IF EXISTS (
    SELECT 1 FROM invoice_lines l JOIN invoices i ON i.id = l.invoice_id
    WHERE l.id IN (line, CASE WHEN TG_OP = 'UPDATE' THEN OLD.line_id END) AND i.status = 'finalized'
  ) THEN
    RAISE EXCEPTION 'line % belongs to a finalized invoice and is immutable', line USING ERRCODE = 'integrity_constraint_violation';
  END IF;
  IF TG_OP = 'DELETE' THEN
    RETURN OLD;
  END IF;
  RETURN NEW;
END;
$$;

CREATE TRIGGER invoice_line_records_immutable BEFORE INSERT OR UPDATE OR DELETE ON invoice_line_records
  FOR EACH ROW EXECUTE FUNCTION billing_reject_finalized_line_record();

-- ------------------------------------------------------------------ quotas

-- Per tenant and meter, over the tenant's billing period. warning at >= soft_limit, exceeded at
-- >= hard_limit; thresholds are percentages of hard_limit (of soft_limit when there is no hard limit).
CREATE TABLE quotas (
  tenant_id bigint NOT NULL REFERENCES tenants (id),
  meter_id integer NOT NULL,
  period text NOT NULL DEFAULT 'billing_period' CHECK (period = 'billing_period'),
  soft_limit numeric(38, 0) CHECK (soft_limit > 0),
  hard_limit numeric(38, 0) CHECK (hard_limit > 0),
  thresholds integer[] NOT NULL DEFAULT '{50,80,100}',
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, meter_id),
  FOREIGN KEY (tenant_id, meter_id) REFERENCES meters (tenant_id, meter_id),
  CHECK (soft_limit IS NOT NULL OR hard_limit IS NOT NULL),
  CHECK (soft_limit IS NULL OR hard_limit IS NULL OR soft_limit <= hard_limit),
  CHECK (0 < ALL (thresholds))
);

-- One row per threshold crossing: the unique key makes the alert (and its outbox event, written in
-- the same transaction) exactly-once through replays and reorgs.
CREATE TABLE quota_alerts (
  tenant_id bigint NOT NULL REFERENCES tenants (id),
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  meter_id integer NOT NULL,
  period_start timestamptz NOT NULL,
  period_end timestamptz NOT NULL,
  threshold integer NOT NULL,
  limit_value numeric(38, 0) NOT NULL,
  usage numeric(38, 0) NOT NULL,
  crossed_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, meter_id, period_start, threshold)
);

-- Start of the monthly billing period containing `at`, in time zone `tz` (DST-correct: the month
-- is truncated in local time and converted back).
CREATE FUNCTION billing_period_start(tz text, at timestamptz) RETURNS timestamptz
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT date_trunc('month', at AT TIME ZONE tz) AT TIME ZONE tz
$$;

CREATE FUNCTION billing_period_end(tz text, at timestamptz) RETURNS timestamptz
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT (date_trunc('month', at AT TIME ZONE tz) + interval '1 month') AT TIME ZONE tz
$$;

-- Aggregated usage of a meter over [from, to) by record period_start, with the meter's aggregation
-- (SUM when the meter has no configuration).
CREATE FUNCTION meter_usage(p_tenant bigint, p_meter integer, p_from timestamptz, p_to timestamptz)
RETURNS numeric
LANGUAGE sql STABLE AS $$
  SELECT CASE coalesce((SELECT aggregation FROM meter_configs c WHERE c.tenant_id = p_tenant AND c.meter_id = p_meter), 'SUM')
           WHEN 'COUNT' THEN count(*)::numeric
           WHEN 'MAX' THEN coalesce(max(r.quantity), 0)
           ELSE coalesce(sum(r.quantity), 0)
         END
  FROM usage_records r
  WHERE r.tenant_id = p_tenant AND r.meter_id = p_meter AND r.period_start >= p_from AND r.period_start < p_to
$$;

-- Quota status of every quota at `at`.
CREATE FUNCTION quota_status_at(at timestamptz)
RETURNS TABLE (
  tenant_id bigint, meter_id integer, period_start timestamptz, period_end timestamptz,
  usage numeric, soft_limit numeric, hard_limit numeric, status text
)
LANGUAGE sql STABLE AS $$
  SELECT q.tenant_id, q.meter_id, p.ps, p.pe, u.usage, q.soft_limit, q.hard_limit,
         CASE WHEN q.hard_limit IS NOT NULL AND u.usage >= q.hard_limit THEN 'exceeded'
              WHEN q.soft_limit IS NOT NULL AND u.usage >= q.soft_limit THEN 'warning'
              ELSE 'ok' END
  FROM quotas q
  JOIN tenants t ON t.id = q.tenant_id
  CROSS JOIN LATERAL (SELECT billing_period_start(t.time_zone, at) AS ps, billing_period_end(t.time_zone, at) AS pe) p
  CROSS JOIN LATERAL (SELECT meter_usage(q.tenant_id, q.meter_id, p.ps, p.pe) AS usage) u
$$;

-- Current status (security_invoker so row-level security of the caller applies).
CREATE VIEW quota_status WITH (security_invoker = true) AS
  SELECT * FROM quota_status_at(now());

-- ---------------------------------------------------------------- webhooks

-- Signing secrets are AES-256-GCM ciphertexts (iv || tag || ciphertext, key from the environment,
-- endpoint id as associated data). During a rotation the previous secret also signs until
-- previous_secret_expires_at.
CREATE TABLE webhook_endpoints (
  tenant_id bigint NOT NULL REFERENCES tenants (id),
  id uuid PRIMARY KEY,
  url text NOT NULL CHECK (url ~ '^https?://'),
  event_types text[] NOT NULL CHECK (cardinality(event_types) > 0),
  secret_ciphertext bytea NOT NULL,
  previous_secret_ciphertext bytea,
  previous_secret_expires_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  rotated_at timestamptz,
  CHECK ((previous_secret_ciphertext IS NULL) = (previous_secret_expires_at IS NULL))
);
CREATE INDEX webhook_endpoints_tenant ON webhook_endpoints (tenant_id);

-- The transactional outbox: one row per event, written in the same transaction as the change that
-- causes it. event_key makes an event idempotent (a replayed change does not emit twice).
CREATE TABLE webhook_outbox (
  tenant_id bigint NOT NULL REFERENCES tenants (id),
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  event_key text NOT NULL UNIQUE,
  event_type text NOT NULL CHECK (event_type IN ('quota.threshold_crossed', 'invoice.finalized', 'usage.commitment_expired')),
  payload jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_outbox_tenant ON webhook_outbox (tenant_id, created_at);

-- One delivery per (event, endpoint), fanned out with the event in the same transaction. id is
-- the Meterline-Delivery header: stable across retries and crashes (at-least-once delivery).
CREATE TABLE webhook_deliveries (
  tenant_id bigint NOT NULL REFERENCES tenants (id),
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  event_id bigint NOT NULL REFERENCES webhook_outbox (id),
  endpoint_id uuid NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
  status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'dead')),
  attempts integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  last_status_code integer,
  last_error text,
  delivered_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (event_id, endpoint_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';

-- Records an event once (by key) and fans it out to the tenant's endpoints subscribed to its type.
-- Returns the event id, or NULL when the key was already recorded.
CREATE FUNCTION enqueue_webhook_event(p_tenant bigint, p_type text, p_key text, p_payload jsonb)
RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
  ev bigint;
BEGIN
  INSERT INTO webhook_outbox (tenant_id, event_key, event_type, payload)
  VALUES (p_tenant, p_key, p_type, p_payload)
  ON CONFLICT (event_key) DO NOTHING
  RETURNING id INTO ev;
  IF ev IS NULL THEN
    RETURN NULL;
  END IF;
  INSERT INTO webhook_deliveries (tenant_id, event_id, endpoint_id)
  SELECT p_tenant, ev, e.id FROM webhook_endpoints e
  WHERE e.tenant_id = p_tenant AND p_type = ANY (e.event_types);
  RETURN ev;
END;
$$;

-- usage.commitment_expired is emitted in the indexer's own transaction: whenever a commitment row
-- becomes expired. Keyed by the expiry log, so a replay of the same log emits nothing new.
CREATE FUNCTION billing_commitment_expired() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.status = 'expired' AND (TG_OP = 'INSERT' OR OLD.status IS DISTINCT FROM 'expired') THEN
    PERFORM enqueue_webhook_event(
      NEW.tenant_id,
      'usage.commitment_expired',
      'usage.commitment_expired:' || NEW.chain_id || ':' || encode(NEW.tx_hash, 'hex') || ':' || NEW.log_index,
      jsonb_build_object(
        'tenantId', NEW.tenant_id,
        'reporter', '0x' || encode(NEW.reporter, 'hex'),
        'commitment', '0x' || encode(NEW.commitment, 'hex'),
        'chainId', NEW.chain_id,
        'committedTxHash', '0x' || encode(NEW.tx_hash, 'hex'),
        'committedBlock', NEW.block_number,
        'expiredTxHash', CASE WHEN NEW.resolved_tx_hash IS NULL THEN NULL ELSE '0x' || encode(NEW.resolved_tx_hash, 'hex') END,
        'expiredBlock', NEW.resolved_block_number
      )
    );
  END IF;
  RETURN NEW;
END;
$$;

CREATE TRIGGER commitments_expired_webhook AFTER INSERT OR UPDATE OF status ON commitments
  FOR EACH ROW EXECUTE FUNCTION billing_commitment_expired();
