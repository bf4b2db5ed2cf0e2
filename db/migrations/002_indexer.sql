-- Indexer support: single-writer lease and the indexes a reorg revert needs.

-- One row per (chain, contract) being indexed. The active indexer renews expires_at while it
-- runs and re-checks ownership inside every batch transaction (fencing), so a writer that lost
-- its lease can never commit; a standby takes the row over once it has expired. A row rather than
-- an advisory lock because a session lock does not survive pooled connections being recycled and
-- the embedded mode shares its single connection with the API.
CREATE TABLE indexer_leases (
  lease_key text PRIMARY KEY,
  owner text NOT NULL,
  acquired_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL
);

-- Reverting orphaned blocks deletes or resets by block number per contract.
CREATE INDEX commitments_block ON commitments (contract_id, block_number);
CREATE INDEX commitments_resolved_block ON commitments (contract_id, resolved_block_number)
  WHERE resolved_block_number IS NOT NULL;
CREATE INDEX tenants_block ON tenants (contract_id, block_number);
CREATE INDEX meters_block ON meters (block_number);
CREATE INDEX reporter_events_block ON reporter_events (block_number);
