-- Each tenant's billing documents (finalized invoices and credit notes) in the order they were
-- issued, each naming the content hash of the previous one: the hash chain InvoiceAnchor carries
-- on chain. Written in the same transaction as the document, under the tenant's billing lock, so
-- the chain never forks; append-only like the documents themselves.
CREATE TABLE billing_documents (
  tenant_id bigint NOT NULL REFERENCES tenants (id),
  seq integer NOT NULL CHECK (seq > 0),
  kind text NOT NULL CHECK (kind IN ('invoice', 'credit_note')),
  invoice_id bigint REFERENCES invoices (id),
  credit_note_id bigint REFERENCES credit_notes (id),
  number integer NOT NULL CHECK (number > 0),
  period_start timestamptz NOT NULL,
  period_end timestamptz NOT NULL,
  content_hash bytea NOT NULL UNIQUE CHECK (octet_length(content_hash) = 32),
  previous_hash bytea NOT NULL CHECK (octet_length(previous_hash) = 32),
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, seq),
  CHECK ((kind = 'invoice') = (invoice_id IS NOT NULL)),
  CHECK ((kind = 'credit_note') = (credit_note_id IS NOT NULL)),
  CHECK (period_start < period_end)
);

-- The plan version that prices a tenant's usage from `effective_from` on, as the platform must
-- publish it (InvoiceAnchor.anchorPlan) before that moment. Written by the catalog when a version of
-- the tenant's subscribed plan is created and when a subscription starts.
CREATE TABLE plan_assignments (
  tenant_id bigint NOT NULL REFERENCES tenants (id),
  plan_version_id bigint NOT NULL REFERENCES rate_plan_versions (id),
  effective_from timestamptz NOT NULL,
  plan_hash bytea NOT NULL CHECK (octet_length(plan_hash) = 32),
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, effective_from, plan_version_id)
);

CREATE TRIGGER billing_documents_insert_only BEFORE UPDATE OR DELETE ON billing_documents
  FOR EACH ROW EXECUTE FUNCTION billing_insert_only();
CREATE TRIGGER billing_documents_no_truncate BEFORE TRUNCATE ON billing_documents
  FOR EACH STATEMENT EXECUTE FUNCTION meterline_reject_truncate();
CREATE TRIGGER plan_assignments_insert_only BEFORE UPDATE OR DELETE ON plan_assignments
  FOR EACH ROW EXECUTE FUNCTION billing_insert_only();
CREATE TRIGGER plan_assignments_no_truncate BEFORE TRUNCATE ON plan_assignments
  FOR EACH STATEMENT EXECUTE FUNCTION meterline_reject_truncate();
REVOKE TRUNCATE ON billing_documents, plan_assignments FROM PUBLIC;

SELECT meterline_apply_tenant_rls();
GRANT SELECT, INSERT ON billing_documents, plan_assignments TO meterline_billing, meterline_api;
GRANT SELECT ON billing_documents, plan_assignments TO meterline_api;
