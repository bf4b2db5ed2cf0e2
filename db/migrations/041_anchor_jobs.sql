-- Billing's anchoring of plan versions and billing documents on InvoiceAnchor (billing/anchoring/).
-- One job per plan assignment and per chained document. The signed raw transaction is journaled
-- here BEFORE it is broadcast, so after a crash the same transaction (same nonce, same hash) is sent
-- again instead of a second one; a job is done when its anchor event is on chain.
CREATE TABLE anchor_jobs (
  id bigserial PRIMARY KEY,
  tenant_id bigint NOT NULL REFERENCES tenants (id),
  kind text NOT NULL CHECK (kind IN ('plan', 'document')),
  -- plan: the assignment (plan_assignments' key); document: its place in billing_documents.
  plan_version_id bigint REFERENCES rate_plan_versions (id),
  effective_from timestamptz,
  document_seq integer,
  -- planHash or contentHash: what the anchor event carries.
  hash bytea NOT NULL CHECK (octet_length(hash) = 32),
  status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'anchored', 'unanchorable')),
  -- The journaled transaction (set together, before broadcasting).
  anchor_address bytea CHECK (octet_length(anchor_address) = 20),
  signer bytea CHECK (octet_length(signer) = 20),
  nonce bigint CHECK (nonce >= 0),
  raw_tx bytea,
  tx_hash bytea CHECK (octet_length(tx_hash) = 32),
  -- Where the anchor landed (re-checked against the chain until it is deep enough: reorgs).
  block_number bigint,
  block_hash bytea CHECK (octet_length(block_hash) = 32),
  confirmed boolean NOT NULL DEFAULT false,
  attempts integer NOT NULL DEFAULT 0,
  last_error text,
  -- Why a job can never be anchored (e.g. a plan version whose effective time had passed).
  reason text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CHECK ((kind = 'plan') = (plan_version_id IS NOT NULL AND effective_from IS NOT NULL)),
  CHECK ((kind = 'document') = (document_seq IS NOT NULL)),
  -- tx_hash without raw_tx: an anchor found on chain that this worker did not journal (sent by another).
  CHECK ((raw_tx IS NULL) = (nonce IS NULL) AND (raw_tx IS NULL OR tx_hash IS NOT NULL)),
  CHECK (status <> 'unanchorable' OR reason IS NOT NULL)
);
CREATE UNIQUE INDEX anchor_jobs_plan ON anchor_jobs (tenant_id, effective_from, plan_version_id) WHERE kind = 'plan';
CREATE UNIQUE INDEX anchor_jobs_document ON anchor_jobs (tenant_id, document_seq) WHERE kind = 'document';
CREATE INDEX anchor_jobs_open ON anchor_jobs (status, tenant_id) WHERE status IN ('pending', 'sent') OR NOT confirmed;

REVOKE TRUNCATE ON anchor_jobs FROM PUBLIC;
CREATE TRIGGER anchor_jobs_no_truncate BEFORE TRUNCATE ON anchor_jobs
  FOR EACH STATEMENT EXECUTE FUNCTION meterline_reject_truncate();

SELECT meterline_apply_tenant_rls();
GRANT SELECT, INSERT, UPDATE ON anchor_jobs TO meterline_billing;
GRANT USAGE ON SEQUENCE anchor_jobs_id_seq TO meterline_billing;
