-- The usage write path is the indexer's hot loop (hundreds of thousands of rows per backfill).
-- Row-by-row foreign-key triggers on usage_records doubled its cost, so they go: the single
-- writer guarantees the references by construction (tenant resolved by a join that fails on NULL,
-- meters and tenants written before the records of the same batch, all reverted together on a
-- reorg), and the indexer's tests compare every row with the chain.
ALTER TABLE usage_records
  DROP CONSTRAINT IF EXISTS usage_records_tenant_id_fkey,
  DROP CONSTRAINT IF EXISTS usage_records_tenant_id_meter_id_fkey,
  DROP CONSTRAINT IF EXISTS usage_records_contract_id_fkey;

-- Per-(tenant, reporter) sequences are unique by contract rule (each reveal must strictly raise the
-- reporter's high-water mark on chain), and a record's identity in the database is its log
-- position (the primary key). The second unique index cost ~40% of the insert time and guarded
-- nothing the chain does not already guarantee.
ALTER TABLE usage_records DROP CONSTRAINT IF EXISTS usage_records_contract_id_tenant_id_reporter_sequence_key;
