-- Core chain data written by the indexer. Conventions used by every later migration:
--   * addresses and hashes are bytea (20 / 32 bytes), checked;
--   * quantities, sequences and money are numeric, never floating point;
--   * every tenant-owned table carries tenant_id (bigint, tenants.id) as its first key column,
--     so row-level security (020) and later distribution by tenant (Citus) key on it;
--   * rows derived from a log carry (chain_id, tx_hash, log_index) plus block_number/block_hash,
--     so a reorg can delete exactly what an orphaned block produced.

CREATE TABLE chains (
  chain_id bigint PRIMARY KEY CHECK (chain_id > 0),
  name text
);

CREATE TABLE contracts (
  id serial PRIMARY KEY,
  chain_id bigint NOT NULL REFERENCES chains (chain_id),
  address bytea NOT NULL CHECK (octet_length(address) = 20),
  deploy_block bigint NOT NULL CHECK (deploy_block >= 0),
  min_reveal_delay integer,
  max_reveal_delay integer,
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (chain_id, address)
);

-- Last block whose logs are fully applied. Written in the same transaction as the rows.
CREATE TABLE checkpoints (
  contract_id integer PRIMARY KEY REFERENCES contracts (id),
  block_number bigint NOT NULL,
  block_hash bytea NOT NULL CHECK (octet_length(block_hash) = 32),
  block_time timestamptz NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- Blocks of the unfinalized window (pruned below head - window).
CREATE TABLE blocks (
  contract_id integer NOT NULL REFERENCES contracts (id),
  number bigint NOT NULL,
  hash bytea NOT NULL CHECK (octet_length(hash) = 32),
  parent_hash bytea NOT NULL CHECK (octet_length(parent_hash) = 32),
  block_time timestamptz NOT NULL,
  PRIMARY KEY (contract_id, number)
);

-- A tenant as registered on chain. slug is the on-chain bytes32 name decoded as UTF-8 and is the
-- value of the tenant claim in access tokens.
CREATE TABLE tenants (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  contract_id integer NOT NULL REFERENCES contracts (id),
  onchain_id integer NOT NULL CHECK (onchain_id > 0),
  slug text NOT NULL UNIQUE CHECK (slug <> ''),
  time_zone text NOT NULL DEFAULT 'UTC',
  chain_id bigint NOT NULL,
  tx_hash bytea NOT NULL CHECK (octet_length(tx_hash) = 32),
  log_index integer NOT NULL,
  block_number bigint NOT NULL,
  block_hash bytea NOT NULL CHECK (octet_length(block_hash) = 32),
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (contract_id, onchain_id)
);

CREATE TABLE meters (
  tenant_id bigint NOT NULL REFERENCES tenants (id),
  meter_id integer NOT NULL CHECK (meter_id > 0), -- on-chain id within the tenant
  name text NOT NULL,
  chain_id bigint NOT NULL,
  tx_hash bytea NOT NULL CHECK (octet_length(tx_hash) = 32),
  log_index integer NOT NULL,
  block_number bigint NOT NULL,
  block_hash bytea NOT NULL CHECK (octet_length(block_hash) = 32),
  PRIMARY KEY (tenant_id, meter_id),
  UNIQUE (tenant_id, name)
);

-- Authorization history of reporters (one row per ReporterAuthorized / ReporterRevoked event).
CREATE TABLE reporter_events (
  tenant_id bigint NOT NULL REFERENCES tenants (id),
  reporter bytea NOT NULL CHECK (octet_length(reporter) = 20),
  authorized boolean NOT NULL,
  chain_id bigint NOT NULL,
  tx_hash bytea NOT NULL CHECK (octet_length(tx_hash) = 32),
  log_index integer NOT NULL,
  block_number bigint NOT NULL,
  block_hash bytea NOT NULL CHECK (octet_length(block_hash) = 32),
  PRIMARY KEY (chain_id, tx_hash, log_index)
);
CREATE INDEX reporter_events_tenant ON reporter_events (tenant_id, reporter, block_number);

-- One row per Committed event. A (reporter, commitment) pair may be committed again after it
-- lapsed, so the key is the commit log; status moves committed -> revealed | expired.
CREATE TABLE commitments (
  tenant_id bigint NOT NULL REFERENCES tenants (id),
  contract_id integer NOT NULL REFERENCES contracts (id),
  reporter bytea NOT NULL CHECK (octet_length(reporter) = 20),
  commitment bytea NOT NULL CHECK (octet_length(commitment) = 32),
  relayer bytea NOT NULL CHECK (octet_length(relayer) = 20),
  status text NOT NULL CHECK (status IN ('committed', 'revealed', 'expired')),
  chain_id bigint NOT NULL,
  tx_hash bytea NOT NULL CHECK (octet_length(tx_hash) = 32),
  log_index integer NOT NULL,
  block_number bigint NOT NULL,
  block_hash bytea NOT NULL CHECK (octet_length(block_hash) = 32),
  block_time timestamptz NOT NULL,
  resolved_tx_hash bytea CHECK (octet_length(resolved_tx_hash) = 32),
  resolved_log_index integer,
  resolved_block_number bigint,
  resolved_block_hash bytea CHECK (octet_length(resolved_block_hash) = 32),
  resolved_block_time timestamptz,
  PRIMARY KEY (chain_id, tx_hash, log_index),
  CHECK ((status = 'committed') = (resolved_tx_hash IS NULL))
);
CREATE INDEX commitments_lookup ON commitments (contract_id, reporter, commitment);
CREATE INDEX commitments_tenant_status ON commitments (tenant_id, status, block_number);

-- One row per revealed record. (chain_id, tx_hash, log_index) names the UsageRevealed log and
-- record_index the record's position in it.
CREATE TABLE usage_records (
  tenant_id bigint NOT NULL REFERENCES tenants (id),
  meter_id integer NOT NULL,
  period_start timestamptz NOT NULL,
  period_end timestamptz NOT NULL,
  quantity numeric(25, 0) NOT NULL CHECK (quantity > 0),
  sequence numeric(20, 0) NOT NULL,
  ref bytea NOT NULL CHECK (octet_length(ref) = 32),
  reporter bytea NOT NULL CHECK (octet_length(reporter) = 20),
  commitment bytea NOT NULL CHECK (octet_length(commitment) = 32),
  contract_id integer NOT NULL REFERENCES contracts (id),
  chain_id bigint NOT NULL,
  tx_hash bytea NOT NULL CHECK (octet_length(tx_hash) = 32),
  log_index integer NOT NULL,
  record_index integer NOT NULL,
  block_number bigint NOT NULL,
  block_hash bytea NOT NULL CHECK (octet_length(block_hash) = 32),
  block_time timestamptz NOT NULL,
  PRIMARY KEY (chain_id, tx_hash, log_index, record_index),
  UNIQUE (contract_id, tenant_id, reporter, sequence),
  FOREIGN KEY (tenant_id, meter_id) REFERENCES meters (tenant_id, meter_id),
  CHECK (period_start < period_end)
);
CREATE INDEX usage_records_tenant_period ON usage_records (tenant_id, meter_id, period_start);
CREATE INDEX usage_records_tenant_block ON usage_records (tenant_id, block_number);
CREATE INDEX usage_records_block ON usage_records (contract_id, block_number);

-- Hourly rollups by period_start, maintained by the indexer in the same transaction as the
-- records (and recomputed for the touched buckets on a reorg). Day and month series sum hours.
CREATE TABLE usage_rollups (
  tenant_id bigint NOT NULL REFERENCES tenants (id),
  meter_id integer NOT NULL,
  bucket_start timestamptz NOT NULL,
  quantity_sum numeric(38, 0) NOT NULL,
  quantity_max numeric(25, 0) NOT NULL,
  record_count bigint NOT NULL,
  PRIMARY KEY (tenant_id, meter_id, bucket_start),
  FOREIGN KEY (tenant_id, meter_id) REFERENCES meters (tenant_id, meter_id)
);
