-- Each tenant's own identity provider. The API's environment names the default provider
-- (OIDC_ISSUER: the platform's, which alone grants platform roles); a tenant bound here is served
-- by its own provider's tokens only, and the default provider's tokens no longer act for it.
-- Platform operators manage both tables through the API (platform:admin), audited.
CREATE TABLE identity_providers (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  -- Exactly as the tokens' `iss` says it (Auth0's ends in a slash); one row per issuer.
  issuer text NOT NULL UNIQUE CHECK (issuer ~ '^https?://[^/?#\s]+(/[^?#\s]*)?$' AND length(issuer) <= 500),
  audience text NOT NULL CHECK (length(audience) BETWEEN 1 AND 500),
  jwks_uri text NOT NULL CHECK (jwks_uri ~ '^https?://\S+$' AND length(jwks_uri) <= 2000),
  algorithms text[] NOT NULL CHECK (cardinality(algorithms) BETWEEN 1 AND 11),
  token_types text[] NOT NULL CHECK (cardinality(token_types) BETWEEN 1 AND 3),
  -- Claim paths as configured (dot-separated, or one URL-like claim name taken whole).
  tenant_claim text NOT NULL CHECK (length(tenant_claim) BETWEEN 1 AND 200),
  roles_claim text NOT NULL CHECK (length(roles_claim) BETWEEN 1 AND 200),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- At most one provider per tenant; no row: the default provider.
CREATE TABLE tenant_identity_providers (
  tenant_id bigint PRIMARY KEY REFERENCES tenants (id),
  provider_id bigint NOT NULL REFERENCES identity_providers (id),
  bound_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tenant_identity_providers_provider ON tenant_identity_providers (provider_id);
SELECT meterline_apply_tenant_rls();

-- Provider configurations are platform data, not any tenant's: the API reads them to verify tokens
-- before it knows the tenant, and writes them for platform:admin.
GRANT SELECT, INSERT, UPDATE ON identity_providers TO meterline_api;
GRANT SELECT, INSERT, UPDATE, DELETE ON tenant_identity_providers TO meterline_api;

-- Which provider a tenant (by slug, the token's tenant claim) is bound to, callable before a tenant
-- is set: NULL for the default provider or an unknown slug. SECURITY DEFINER reveals only the
-- binding of a slug the caller's verified token already names.
CREATE FUNCTION meterline_tenant_identity_provider(p_slug text) RETURNS bigint
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT b.provider_id FROM tenant_identity_providers b JOIN tenants t ON t.id = b.tenant_id WHERE t.slug = p_slug
$$;
REVOKE ALL ON FUNCTION meterline_tenant_identity_provider(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION meterline_tenant_identity_provider(text) TO meterline_api;
