-- Billing you can trust: records cited by identity, corrections without mutation, frozen plan
-- versions, and financial tables nobody can wipe.
--
-- A usage record's identity is (chain, contract, tenant, reporter, sequence): the contract makes a
-- reporter's sequences strictly increasing per tenant, so the identity names one record on the
-- canonical chain wherever a reorg re-includes it. Its log position (tx, log index, record index,
-- block) only says where billing saw it.

-- ------------------------------------------------------------ evidence by identity

ALTER TABLE invoice_line_records
  ADD COLUMN contract_id integer,
  ADD COLUMN reporter bytea CHECK (octet_length(reporter) = 20),
  ADD COLUMN sequence numeric(20, 0),
  ADD COLUMN ref bytea CHECK (octet_length(ref) = 32);

-- Rows written before this migration cite log positions only; their records are still indexed at
-- those positions unless a reorg moved them, in which case the database cannot be upgraded in
-- place (the local stack's `npm start -- --fresh` starts over).
ALTER TABLE invoice_line_records DISABLE TRIGGER invoice_line_records_immutable;
UPDATE invoice_line_records lr
   SET contract_id = r.contract_id, reporter = r.reporter, sequence = r.sequence, ref = r.ref
  FROM usage_records r
 WHERE r.chain_id = lr.chain_id AND r.tx_hash = lr.tx_hash AND r.log_index = lr.log_index AND r.record_index = lr.record_index;
ALTER TABLE invoice_line_records ENABLE TRIGGER invoice_line_records_immutable;
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM invoice_line_records WHERE reporter IS NULL) THEN
    RAISE EXCEPTION 'invoice evidence cites records that are no longer indexed; this database predates record identities and cannot be upgraded in place (start over, e.g. npm start -- --fresh)';
  END IF;
END
$$;
ALTER TABLE invoice_line_records
  ALTER COLUMN contract_id SET NOT NULL,
  ALTER COLUMN reporter SET NOT NULL,
  ALTER COLUMN sequence SET NOT NULL,
  ALTER COLUMN ref SET NOT NULL,
  DROP CONSTRAINT invoice_line_records_pkey,
  ADD PRIMARY KEY (line_id, reporter, sequence);
DROP INDEX invoice_line_records_key;
CREATE INDEX invoice_line_records_identity ON invoice_line_records (tenant_id, reporter, sequence);
-- Reorg checks look only at evidence seen in blocks a reorg can still replace.
CREATE INDEX invoice_line_records_seen_block ON invoice_line_records (tenant_id, block_number);

-- ------------------------------------------------------------ duplicates by idempotency key

-- The indexer marks a record whose non-zero ref (the reporter's idempotency key) an earlier record
-- of the tenant already carries, in chain order; only the first occurrence is ever billed.
ALTER TABLE usage_records ADD COLUMN is_duplicate boolean NOT NULL DEFAULT false;

-- ------------------------------------------------------------ reissued invoices

-- A voided invoice stays as it was; its replacement is a new invoice for the same period.
ALTER TABLE invoices ADD COLUMN replaces_invoice_id bigint UNIQUE REFERENCES invoices (id);
ALTER TABLE invoices DROP CONSTRAINT invoices_tenant_id_period_start_key;
CREATE UNIQUE INDEX invoices_one_per_period ON invoices (tenant_id, period_start) WHERE replaces_invoice_id IS NULL;

-- ------------------------------------------------------------ credit notes

CREATE TABLE credit_note_counters (
  tenant_id bigint PRIMARY KEY REFERENCES tenants (id),
  last_number integer NOT NULL DEFAULT 0
);

-- A credit note takes records (or a whole invoice) off a finalized invoice. reason says why and
-- whether the records become billable again: reorg (the record left the canonical chain) and void
-- (the invoice is reissued) release them; excluded, dispute and goodwill settle them for good.
CREATE TABLE credit_notes (
  tenant_id bigint NOT NULL REFERENCES tenants (id),
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  number integer NOT NULL CHECK (number > 0),
  invoice_id bigint NOT NULL REFERENCES invoices (id),
  reason text NOT NULL CHECK (reason IN ('reorg', 'void', 'excluded', 'dispute', 'goodwill')),
  memo text NOT NULL DEFAULT '' CHECK (length(memo) <= 1000),
  currency char(3) NOT NULL,
  currency_exponent smallint NOT NULL,
  total_minor numeric(38, 0) NOT NULL,
  content jsonb NOT NULL,
  content_hash bytea NOT NULL CHECK (octet_length(content_hash) = 32),
  issued_by text NOT NULL,
  issued_at timestamptz NOT NULL,
  UNIQUE (tenant_id, number)
);
CREATE INDEX credit_notes_invoice ON credit_notes (invoice_id);

-- Per invoice line: the records the note takes off it and the amount credited for the line
-- (amount before minus amount after; the minimum line may go up, so an amount may be negative).
CREATE TABLE credit_note_lines (
  tenant_id bigint NOT NULL REFERENCES tenants (id),
  credit_note_id bigint NOT NULL REFERENCES credit_notes (id),
  line_no integer NOT NULL CHECK (line_no > 0),
  invoice_line_no integer NOT NULL CHECK (invoice_line_no > 0),
  description text NOT NULL,
  -- The whole invoice line is taken off (a line or invoice credit), not only the records listed.
  whole_line boolean NOT NULL,
  amount_minor numeric(38, 0) NOT NULL,
  PRIMARY KEY (credit_note_id, line_no)
);

CREATE TABLE credit_note_records (
  tenant_id bigint NOT NULL REFERENCES tenants (id),
  credit_note_id bigint NOT NULL REFERENCES credit_notes (id),
  line_no integer NOT NULL,
  reporter bytea NOT NULL CHECK (octet_length(reporter) = 20),
  sequence numeric(20, 0) NOT NULL,
  PRIMARY KEY (credit_note_id, reporter, sequence),
  FOREIGN KEY (credit_note_id, line_no) REFERENCES credit_note_lines (credit_note_id, line_no)
);
CREATE INDEX credit_note_records_identity ON credit_note_records (tenant_id, reporter, sequence);

-- ------------------------------------------------------------ exclusions

-- Records billing must never charge (e.g. fraudulent usage). Kept forever, with who and why.
CREATE TABLE billing_exclusions (
  tenant_id bigint NOT NULL REFERENCES tenants (id),
  reporter bytea NOT NULL CHECK (octet_length(reporter) = 20),
  sequence numeric(20, 0) NOT NULL,
  reason text NOT NULL CHECK (length(reason) BETWEEN 1 AND 1000),
  excluded_by text NOT NULL,
  excluded_at timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, reporter, sequence)
);

-- ------------------------------------------------------------ reorged evidence

-- Records cited by a finalized invoice that are no longer on the indexed chain, since which
-- checkpoint block. A record that comes back (re-included) is dropped from here; one still missing
-- once the chain has moved `confirmations` blocks past the first sighting is credited (reason reorg).
CREATE TABLE billing_missing_records (
  tenant_id bigint NOT NULL REFERENCES tenants (id),
  reporter bytea NOT NULL CHECK (octet_length(reporter) = 20),
  sequence numeric(20, 0) NOT NULL,
  line_id bigint NOT NULL REFERENCES invoice_lines (id),
  missing_since_block bigint NOT NULL,
  PRIMARY KEY (tenant_id, reporter, sequence)
);

-- ------------------------------------------------------------ frozen plan versions

-- A version's snapshot (prices, tiers, meters with their aggregation and unit, currency, minimum) is
-- frozen when it is created: draft invoices price with it, never with live meter configuration.
ALTER TABLE rate_plan_versions
  ADD COLUMN snapshot jsonb,
  ADD COLUMN snapshot_hash bytea CHECK (octet_length(snapshot_hash) = 32),
  ADD COLUMN created_by text NOT NULL DEFAULT 'migration';

-- Versions are immutable; a version not yet in force may be withdrawn while no invoice used it.
CREATE FUNCTION billing_plan_version_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' THEN
    -- The one permitted update: freezing a snapshot into a version created before this migration.
    IF OLD.snapshot IS NULL AND NEW.snapshot IS NOT NULL
       AND (to_jsonb(OLD) - 'snapshot' - 'snapshot_hash') = (to_jsonb(NEW) - 'snapshot' - 'snapshot_hash') THEN
      RETURN NEW;
    END IF;
    RAISE EXCEPTION 'plan version % is immutable', OLD.id USING ERRCODE = 'integrity_constraint_violation';
  END IF;
  IF OLD.effective_from <= now() OR EXISTS (SELECT 1 FROM invoices WHERE plan_version_id = OLD.id)
     OR EXISTS (SELECT 1 FROM invoice_lines WHERE plan_version_id = OLD.id) THEN
    RAISE EXCEPTION 'plan version % is in force or used by an invoice and cannot be withdrawn', OLD.id
      USING ERRCODE = 'integrity_constraint_violation';
  END IF;
  RETURN OLD;
END;
$$;
CREATE TRIGGER rate_plan_versions_guard BEFORE UPDATE OR DELETE ON rate_plan_versions
  FOR EACH ROW EXECUTE FUNCTION billing_plan_version_guard();

-- Prices and tiers belong to their version: written with it, withdrawn with it, never changed.
CREATE FUNCTION billing_price_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  v bigint;
BEGIN
  IF TG_TABLE_NAME = 'plan_prices' THEN
    v := CASE WHEN TG_OP = 'INSERT' THEN NEW.plan_version_id ELSE OLD.plan_version_id END;
  ELSE
    SELECT plan_version_id INTO v FROM plan_prices WHERE id = CASE WHEN TG_OP = 'INSERT' THEN NEW.price_id ELSE OLD.price_id END;
  END IF;
  IF TG_OP = 'UPDATE'
     OR (TG_OP = 'INSERT' AND EXISTS (SELECT 1 FROM rate_plan_versions WHERE id = v AND snapshot IS NOT NULL))
     OR (TG_OP = 'DELETE' AND EXISTS (SELECT 1 FROM rate_plan_versions WHERE id = v AND effective_from <= now())) THEN
    RAISE EXCEPTION 'prices of plan version % are immutable', v USING ERRCODE = 'integrity_constraint_violation';
  END IF;
  IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
  RETURN NEW;
END;
$$;
CREATE TRIGGER plan_prices_guard BEFORE INSERT OR UPDATE OR DELETE ON plan_prices
  FOR EACH ROW EXECUTE FUNCTION billing_price_guard();
CREATE TRIGGER price_tiers_guard BEFORE INSERT OR UPDATE OR DELETE ON price_tiers
  FOR EACH ROW EXECUTE FUNCTION billing_price_guard();

-- Aggregation and unit are part of the price a version carries, frozen with it.
ALTER TABLE plan_prices
  ADD COLUMN aggregation text CHECK (aggregation IN ('SUM', 'COUNT', 'MAX'));

-- A subscription's plan and start never change; only an open end may be set, to a future boundary.
CREATE FUNCTION billing_subscription_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    IF OLD.starts_at <= now() THEN
      RAISE EXCEPTION 'subscription % has started and cannot be deleted', OLD.id USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN OLD;
  END IF;
  IF NEW.plan_id <> OLD.plan_id OR NEW.starts_at <> OLD.starts_at OR NEW.tenant_id <> OLD.tenant_id
     OR (OLD.ends_at IS NOT NULL AND OLD.ends_at <= now() AND NEW.ends_at IS DISTINCT FROM OLD.ends_at) THEN
    RAISE EXCEPTION 'subscription % can only be ended at a future period boundary', OLD.id USING ERRCODE = 'integrity_constraint_violation';
  END IF;
  RETURN NEW;
END;
$$;
CREATE TRIGGER subscriptions_guard BEFORE UPDATE OR DELETE ON subscriptions
  FOR EACH ROW EXECUTE FUNCTION billing_subscription_guard();

-- ------------------------------------------------------------ immutable by construction

-- Credit notes, their lines and records, and exclusions are written once.
CREATE FUNCTION billing_insert_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = 'integrity_constraint_violation';
END;
$$;
CREATE TRIGGER credit_notes_insert_only BEFORE UPDATE OR DELETE ON credit_notes
  FOR EACH ROW EXECUTE FUNCTION billing_insert_only();
CREATE TRIGGER credit_note_lines_insert_only BEFORE UPDATE OR DELETE ON credit_note_lines
  FOR EACH ROW EXECUTE FUNCTION billing_insert_only();
CREATE TRIGGER credit_note_records_insert_only BEFORE UPDATE OR DELETE ON credit_note_records
  FOR EACH ROW EXECUTE FUNCTION billing_insert_only();
CREATE TRIGGER billing_exclusions_insert_only BEFORE UPDATE OR DELETE ON billing_exclusions
  FOR EACH ROW EXECUTE FUNCTION billing_insert_only();

-- TRUNCATE skips row triggers, and the owner may always truncate its own tables: statement
-- triggers make financial and audit history impossible to wipe for every role, the owner included.
CREATE FUNCTION meterline_reject_truncate() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% keeps financial or audit history and cannot be truncated', TG_TABLE_NAME
    USING ERRCODE = 'insufficient_privilege';
END;
$$;
DO $$
DECLARE
  t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['invoices', 'invoice_lines', 'invoice_line_records', 'invoice_counters',
    'credit_notes', 'credit_note_lines', 'credit_note_records', 'credit_note_counters', 'billing_exclusions',
    'rate_plans', 'rate_plan_versions', 'plan_prices', 'price_tiers', 'subscriptions', 'quota_alerts',
    'webhook_outbox']
  LOOP
    EXECUTE format('CREATE TRIGGER %I BEFORE TRUNCATE ON %I FOR EACH STATEMENT EXECUTE FUNCTION meterline_reject_truncate()',
      t || '_no_truncate', t);
    EXECUTE format('REVOKE TRUNCATE ON %I FROM PUBLIC', t);
  END LOOP;
END
$$;
REVOKE TRUNCATE ON audit_log FROM PUBLIC;

-- ------------------------------------------------------------ webhook event types

ALTER TABLE webhook_outbox DROP CONSTRAINT webhook_outbox_event_type_check;
ALTER TABLE webhook_outbox ADD CONSTRAINT webhook_outbox_event_type_check CHECK (event_type IN (
  'quota.threshold_crossed', 'invoice.finalized', 'usage.commitment_expired', 'credit_note.issued', 'billing.record_reorged'));

-- New tenant tables get row-level security like every other (see 020).
SELECT meterline_apply_tenant_rls();
GRANT SELECT ON credit_notes, credit_note_lines, credit_note_records, billing_exclusions TO meterline_api;

-- Quota usage counts only the first occurrence of an idempotency key, like billing.
CREATE OR REPLACE FUNCTION meter_usage(p_tenant bigint, p_meter integer, p_from timestamptz, p_to timestamptz)
RETURNS numeric
LANGUAGE sql STABLE AS $$
  SELECT CASE coalesce((SELECT aggregation FROM meter_configs c WHERE c.tenant_id = p_tenant AND c.meter_id = p_meter), 'SUM')
           WHEN 'COUNT' THEN count(*)::numeric
           WHEN 'MAX' THEN coalesce(max(r.quantity), 0)
           ELSE coalesce(sum(r.quantity), 0)
         END
  FROM usage_records r
  WHERE r.tenant_id = p_tenant AND r.meter_id = p_meter AND r.period_start >= p_from AND r.period_start < p_to
    AND NOT r.is_duplicate
$$;
