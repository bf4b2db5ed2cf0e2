-- Exactly-once by identity, and duplicates by idempotency key (indexer).
--
-- A usage record is identified by (chain, contract, tenant, reporter, sequence): the contract makes
-- each reporter's sequences strictly increasing per tenant, so the identity names one record on the
-- canonical chain wherever a reorg re-includes its reveal (another block, transaction or log index).
-- tenants.id is the internal id of (chain, contract, on-chain tenant), so (tenant_id, reporter,
-- sequence) is that identity, with tenant_id first like every tenant-owned key (001). The log
-- position columns stay: they say where the indexer saw the record, not which record it is.

DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM usage_records GROUP BY tenant_id, reporter, sequence HAVING count(*) > 1) THEN
    RAISE EXCEPTION 'usage_records holds the same (tenant, reporter, sequence) twice, which the chain cannot produce; this database cannot be upgraded in place (re-index into a fresh database)';
  END IF;
  IF EXISTS (SELECT 1 FROM usage_records r JOIN tenants t ON t.id = r.tenant_id WHERE r.contract_id <> t.contract_id) THEN
    RAISE EXCEPTION 'usage_records names a contract other than its tenant''s; re-index into a fresh database';
  END IF;
END
$$;

-- The old key (the log position) only served the write path's replay probe, which now probes the
-- identity: one unique index per record instead of two keeps the hot insert path as cheap as before.
ALTER TABLE usage_records DROP CONSTRAINT usage_records_pkey;
ALTER TABLE usage_records ADD CONSTRAINT usage_records_pkey PRIMARY KEY (tenant_id, reporter, sequence);

-- ------------------------------------------------------------ duplicates by idempotency key

-- Records written before this migration were never marked: mark every later occurrence (chain order:
-- block, log index, record index) of a tenant's non-zero ref.
UPDATE usage_records r
   SET is_duplicate = d.later
  FROM (SELECT tenant_id, reporter, sequence,
               row_number() OVER (PARTITION BY tenant_id, ref ORDER BY block_number, log_index, record_index) > 1 AS later
          FROM usage_records
         WHERE ref <> '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea) d
 WHERE r.tenant_id = d.tenant_id AND r.reporter = d.reporter AND r.sequence = d.sequence
   AND r.is_duplicate IS DISTINCT FROM d.later;

-- At most one first occurrence per (tenant, key). The writer probes it for earlier occurrences.
CREATE UNIQUE INDEX usage_records_first_ref ON usage_records (tenant_id, ref)
  WHERE NOT is_duplicate AND ref <> '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea;

-- The later occurrences, small (duplicates are rare): a reorg that removes a first occurrence finds
-- the next one here to promote it.
CREATE INDEX usage_records_duplicate_ref ON usage_records (tenant_id, ref) WHERE is_duplicate;

-- Rollups count first occurrences only (like billing and meter_usage, 030): rebuild the buckets
-- that hold a duplicate.
DELETE FROM usage_rollups u
 USING (SELECT DISTINCT tenant_id, meter_id, date_trunc('hour', period_start, 'UTC') AS bucket_start
          FROM usage_records WHERE is_duplicate) dup
 WHERE u.tenant_id = dup.tenant_id AND u.meter_id = dup.meter_id AND u.bucket_start = dup.bucket_start;
INSERT INTO usage_rollups (tenant_id, meter_id, bucket_start, quantity_sum, quantity_max, record_count)
SELECT dup.tenant_id, dup.meter_id, dup.bucket_start, sum(r.quantity), max(r.quantity), count(*)
  FROM (SELECT DISTINCT tenant_id, meter_id, date_trunc('hour', period_start, 'UTC') AS bucket_start
          FROM usage_records WHERE is_duplicate) dup
  JOIN usage_records r ON r.tenant_id = dup.tenant_id AND r.meter_id = dup.meter_id AND NOT r.is_duplicate
   AND r.period_start >= dup.bucket_start AND r.period_start < dup.bucket_start + interval '1 hour'
 GROUP BY 1, 2, 3;

-- No new grants: meterline_indexer already reads, writes and updates usage_records and
-- usage_rollups (035), and indexes need none.
