-- Pseudonymous names on chain (docs/contracts.md, "Names on chain"). New tenants and meters are
-- registered under HMAC-SHA256(tenant's name key, name), so the chain carries no plaintext names.
-- The platform records which hash stands for which name here, when it registers them
-- (`meter:tenant register --database`, the stack's demo seed); the indexer labels the tenants and
-- meters it indexes from these rows. The name keys themselves are never stored in the database.

-- Which tenant slug an on-chain tenant name stands for. Not tied to a contract: the hash depends
-- only on the key and the slug. One hash per slug, like tenants.slug is unique: a second
-- registration of a slug under another key would collide there and stop the indexer.
CREATE TABLE onchain_tenant_names (
  onchain_name bytea PRIMARY KEY CHECK (octet_length(onchain_name) = 32),
  slug text NOT NULL UNIQUE CHECK (slug <> ''),
  created_at timestamptz NOT NULL DEFAULT now()
);

-- Which meter name an on-chain meter name stands for, within a tenant (by slug: the mapping is
-- recorded before the tenant is indexed, so there is no tenants row to reference yet).
CREATE TABLE onchain_meter_names (
  tenant_slug text NOT NULL CHECK (tenant_slug <> ''),
  onchain_name bytea NOT NULL CHECK (octet_length(onchain_name) = 32),
  name text NOT NULL CHECK (name <> ''),
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_slug, onchain_name)
);

-- The name as it appears on chain, so a mapping recorded after the registration was indexed can
-- still find and relabel the row. Null for rows indexed before this migration (their slug and
-- name are the plain on-chain text).
ALTER TABLE tenants ADD COLUMN onchain_name bytea CHECK (octet_length(onchain_name) = 32);
ALTER TABLE meters ADD COLUMN onchain_name bytea CHECK (octet_length(onchain_name) = 32);

-- The indexer reads the mapping; only the platform's operator tools (the owner) write it.
GRANT SELECT ON onchain_tenant_names, onchain_meter_names TO meterline_indexer;
