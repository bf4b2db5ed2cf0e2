-- The writer lease table serves every single-writer service now (indexer per contract, the billing
-- worker, webhook delivery's maintenance), so it is named for what it is. Grants follow the table.
ALTER TABLE indexer_leases RENAME TO service_leases;
ALTER TABLE service_leases RENAME CONSTRAINT indexer_leases_pkey TO service_leases_pkey;

-- Services owning nothing check at start that the schema is current (db/migrate.ts pendingMigrations).
GRANT SELECT ON schema_migrations TO meterline_indexer, meterline_billing, meterline_webhooks, meterline_api;
